package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/reimage-dev/reimage/providers/sim"
)

// Script commands for the selection and plan-summary scripts.
func init() {
	scriptCmds["gen-plan"] = genPlan
	scriptCmds["stdout-head"] = stdoutHead
	scriptCmds["sim-add"] = simAdd
	scriptCmds["sim-image"] = simImage
}

// simImage: sim-image TYPE ID NAME catalogues an image with that name.
func simImage(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: sim-image TYPE ID NAME")
	}
	ts.Check(scriptSim(ts).AddImageInfo(sim.Image{Provider: args[0], ID: args[1], Name: args[2]}))
}

// simAdd: sim-add [-project ID] TYPE ID NAME ZONE IMAGE [running|stopped]
// [KEY=VALUE...] adds an instance with a name, zone and tags to the running
// simulator (a Huawei one in project ID, default the simulator's first).
func simAdd(ts *testscript.TestScript, neg bool, args []string) {
	const usage = "usage: sim-add [-project ID] TYPE ID NAME ZONE IMAGE [running|stopped] [KEY=VALUE...]"
	project := ""
	if len(args) > 1 && args[0] == "-project" {
		project, args = args[1], args[2:]
	}
	if neg || len(args) < 5 {
		ts.Fatalf(usage)
	}
	in := sim.Instance{Provider: args[0], ID: args[1], Name: args[2], Zone: args[3], Image: args[4], ProjectID: project}
	rest := args[5:]
	if len(rest) > 0 && (rest[0] == "running" || rest[0] == "stopped") {
		in.State, rest = rest[0], rest[1:]
	}
	for _, kv := range rest {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			ts.Fatalf("sim-add: tag %q: want KEY=VALUE", kv)
		}
		if in.Tags == nil {
			in.Tags = map[string]string{}
		}
		in.Tags[k] = v
	}
	ts.Check(scriptSim(ts).AddInstance(in))
}

// genPlan: gen-plan N FILE writes a plan of N KEC instances (web-00001…,
// deterministic ids) whose target is image 8f12ad9e-…, for scripts about large
// fleets.
func genPlan(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: gen-plan N FILE")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		ts.Fatalf("usage: gen-plan N FILE")
	}
	var b strings.Builder
	b.WriteString(`version: 1
name: big
providers:
  kec-bj:
    type: ksyun
    region: cn-beijing-6
defaults:
  image: 8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2
  login: {keyIds: [552a0523-b9b4-4868-b8d9-52ad7a38bf89]}
rollout:
  waves: [1, "10%", "25%"]
instances:
`)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - {id: 98284100-f6d1-4bbf-886a-%012x, name: web-%05d}\n", i, i)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(b.String()), 0o644))
}

// stdoutHead: stdout-head N REGEXP fails unless a line of the first N lines of
// the last command's stdout matches REGEXP.
func stdoutHead(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: stdout-head N REGEXP")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("usage: stdout-head N REGEXP")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	lines := strings.SplitN(ts.ReadFile("stdout"), "\n", n+1)
	found := false
	for _, l := range lines[:min(n, len(lines))] {
		if re.MatchString(l) {
			found = true
			break
		}
	}
	if found == neg {
		ts.Fatalf("stdout-head %d %q: matched %v", n, args[1], found)
	}
}

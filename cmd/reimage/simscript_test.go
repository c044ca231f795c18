package main

import (
	"errors"
	"flag"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers/sim"
)

// Script commands that run a simulator inside the test process, so that
// several reimage processes of one script (reruns, a kill -9 and its resume,
// concurrent applies) share one fleet.
func init() {
	scriptCmds["sim-start"] = simStart
	scriptCmds["sim-instances"] = simInstances
	scriptCmds["sim-stats"] = simStats
	scriptCmds["sim-wait"] = simWait
	scriptCmds["sim-lock"] = simLock
	scriptCmds["expect-exit"] = expectExit
}

// expectExit: expect-exit CODE PROGRAM ARGS... runs the program like exec and
// fails unless it exits with CODE; stdout and stderr are kept for assertions.
func expectExit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: expect-exit CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("usage: expect-exit CODE PROGRAM [ARGS...]")
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

var (
	simMu      sync.Mutex
	simServers = map[*testscript.TestScript]*sim.Server{}
)

func scriptSim(ts *testscript.TestScript) *sim.Server {
	simMu.Lock()
	defer simMu.Unlock()
	s := simServers[ts]
	if s == nil {
		ts.Fatalf("no simulator: run sim-start first")
	}
	return s
}

// simStart: sim-start [-fail-ids ID,…] [-job-fail-ids ID,…] [-rate N] [-error-rate F] [-stopped F] [-step D]
// [-seed N] [-lose-answer-ids ID,…] [-lose-answer-rate F] [-gateway-502-ids ID,…]
// [-gateway-502-rate F] [-fault-ops OP,…] [-queue-time D] [-queue-rate F] [-queue-ids ID,…]
// [-prepaid-ids ID,…] [-locked-ids ID,…] [-unknown-ids ID,…]
// [-health-port N] [-unhealthy-ids ID,…] [-unhealthy-rate F] [-missing-images ID,…]
// [-unusable-images ID,…] PLAN
// starts a simulator seeded with the plan's instances (on an older image) and
// exports SIM_URL and the credentials reimage -sim-url reads. The fault flags
// are reimage sim's.
func simStart(ts *testscript.TestScript, neg bool, args []string) {
	const usage = "usage: sim-start [-fail-ids ID,...] [-job-fail-ids ID,...] [-rate RPS] [-error-rate F] [-stopped F] [-step DURATION] [-seed N] [-lose-answer-ids ID,...] [-lose-answer-rate F] [-gateway-502-ids ID,...] [-gateway-502-rate F] [-fault-ops OP,...] [-queue-time D] [-queue-rate F] [-queue-ids ID,...] [-prepaid-ids ID,...] [-locked-ids ID,...] [-unknown-ids ID,...] [-health-port N] [-unhealthy-ids ID,...] [-unhealthy-rate F] [-missing-images ID,...] [-unusable-images ID,...] PLAN"
	fs := flag.NewFlagSet("sim-start", flag.ContinueOnError)
	failIDs := fs.String("fail-ids", "", "")
	jobFailIDs := fs.String("job-fail-ids", "", "")
	seed := fs.Int64("seed", 7, "")
	loseIDs := fs.String("lose-answer-ids", "", "")
	loseRate := fs.Float64("lose-answer-rate", 0, "")
	gatewayIDs := fs.String("gateway-502-ids", "", "")
	gatewayRate := fs.Float64("gateway-502-rate", 0, "")
	faultOps := fs.String("fault-ops", "", "")
	queueTime := fs.Duration("queue-time", 0, "")
	queueRate := fs.Float64("queue-rate", 0, "")
	queueIDs := fs.String("queue-ids", "", "")
	prepaidIDs := fs.String("prepaid-ids", "", "")
	lockedIDs := fs.String("locked-ids", "", "")
	unknownIDs := fs.String("unknown-ids", "", "")
	rateLimit := fs.Float64("rate", 0, "")
	errorRate := fs.Float64("error-rate", 0, "")
	stopped := fs.Float64("stopped", 0, "")
	step := fs.Duration("step", 100*time.Millisecond, "")
	healthPort := fs.Int("health-port", 0, "")
	missingImages := fs.String("missing-images", "", "")
	unusableImages := fs.String("unusable-images", "", "")
	unhealthyIDs := fs.String("unhealthy-ids", "", "")
	unhealthyRate := fs.Float64("unhealthy-rate", 0, "")
	if neg || fs.Parse(args) != nil || fs.NArg() != 1 {
		ts.Fatalf(usage)
	}
	p, err := plan.Load(ts.MkAbs(fs.Arg(0)))
	ts.Check(err)
	opts := sim.Options{Seed: *seed, StopDuration: *step, RebuildDuration: 2 * *step, StartDuration: *step, Jitter: 0.2, ServerErrorRate: *errorRate,
		LostAnswerRate: *loseRate, LostAnswerIDs: idList(*loseIDs),
		Gateway502Rate: *gatewayRate, Gateway502IDs: idList(*gatewayIDs),
		FaultOps:   idList(*faultOps),
		QueueDelay: *queueTime, QueueRate: *queueRate, QueueIDs: idList(*queueIDs),
		PrepaidIDs: idList(*prepaidIDs),
		LockedIDs:  idList(*lockedIDs), UnknownIDs: idList(*unknownIDs),
		HealthPort: *healthPort, UnhealthyIDs: idList(*unhealthyIDs), UnhealthyRate: *unhealthyRate,
		MissingImages: idList(*missingImages), UnusableImages: idList(*unusableImages),
		JobFailIDs: idList(*jobFailIDs),
	}
	if *queueTime > 0 && *queueRate == 0 && *queueIDs == "" {
		opts.QueueRate = 1
	}
	if *failIDs != "" {
		opts.FailIDs = strings.Split(*failIDs, ",")
	}
	if *rateLimit > 0 {
		opts.RateLimit = map[string]float64{"ksyun": *rateLimit, "huaweicloud": *rateLimit}
	}
	s := sim.New(opts)
	ts.Check(s.SeedPlan(p, *stopped))
	url, err := s.Start("127.0.0.1:0")
	ts.Check(err)
	simMu.Lock()
	simServers[ts] = s
	simMu.Unlock()
	ts.Defer(func() {
		s.Close()
		simMu.Lock()
		delete(simServers, ts)
		simMu.Unlock()
	})
	o := s.Options()
	ts.Setenv("SIM_URL", url)
	ts.Setenv("KSYUN_ACCESS_KEY", o.Keys["ksyun"].AccessKey)
	ts.Setenv("KSYUN_SECRET_KEY", o.Keys["ksyun"].SecretKey)
	ts.Setenv("HUAWEICLOUD_SDK_AK", o.Keys["huaweicloud"].AccessKey)
	ts.Setenv("HUAWEICLOUD_SDK_SK", o.Keys["huaweicloud"].SecretKey)
}

// simInstances prints the fleet, one instance a line, sorted:
// PROVIDER ID image=IMAGE state=STATE changes=N, for stdout assertions.
func simInstances(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: sim-instances")
	}
	var lines []string
	for _, in := range scriptSim(ts).Instances() {
		lines = append(lines, fmt.Sprintf("%s %s image=%s state=%s changes=%d", in.Provider, in.ID, in.Image, in.State, in.Changes))
	}
	sort.Strings(lines)
	ts.Stdout().Write([]byte(strings.Join(lines, "\n") + "\n"))
}

// simStats prints the request counts, one "provider/operation/status N" a
// line, "throttled N", then the injected faults, "fault KIND/provider/operation N".
func simStats(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: sim-stats")
	}
	st := scriptSim(ts).Stats()
	var lines []string
	for k, n := range st.Requests {
		lines = append(lines, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(lines)
	lines = append(lines, fmt.Sprintf("throttled %d", st.Throttled))
	var faults []string
	for k, n := range st.Faults {
		faults = append(faults, fmt.Sprintf("fault %s %d", k, n))
	}
	sort.Strings(faults)
	lines = append(lines, faults...)
	ts.Stdout().Write([]byte(strings.Join(lines, "\n") + "\n"))
}

// simWait: sim-wait busy|changes N waits (at most 30 s) until at least N
// instances are in a transitional state (busy) or have been changed.
func simWait(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 || (args[0] != "busy" && args[0] != "changes") {
		ts.Fatalf("usage: sim-wait busy|changes N")
	}
	want, err := strconv.Atoi(args[1])
	if err != nil {
		ts.Fatalf("usage: sim-wait busy|changes N")
	}
	s := scriptSim(ts)
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := 0
		for _, in := range s.Instances() {
			switch {
			case args[0] == "changes":
				n += in.Changes
			case in.State != "active" && in.State != "stopped" && in.State != "ACTIVE" && in.State != "SHUTOFF" && in.State != "error" && in.State != "ERROR":
				n++
			}
		}
		if n >= want {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("sim-wait %s %d: only %d after 30s", args[0], want, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// simLock: sim-lock ID,… locks instances of the running simulator (the cloud
// refuses every operation on them from now on), as an operator may while a
// rollout runs.
func simLock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sim-lock ID,...")
	}
	scriptSim(ts).SetOptions(func(o *sim.Options) { o.LockedIDs = append(o.LockedIDs, idList(args[0])...) })
}

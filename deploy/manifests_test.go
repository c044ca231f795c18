package deploy

// Tests that keep the scheduling files honest without a cluster or systemd: the Kubernetes
// manifests, the systemd units and the crontab parse, use only flags that the release binary's
// own -h lists, hold the settings their comments promise, and their command lines, with paths
// mapped into a temporary directory, converge a simulated fleet.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/reimage-dev/reimage/metricsout"
	"github.com/reimage-dev/reimage/metricsout/pushgatewaytest"
)

// flagSpec is what `reimage SUB -h` says of one flag: whether it takes a value.
type flagSpec struct{ value bool }

var (
	helpMu    sync.Mutex
	helpCache = map[string]map[string]flagSpec{}
	// helpFlag matches a flag line of Go's flag.PrintDefaults: "  -name" for a bool flag,
	// "  -name TYPE" for one that takes a value.
	helpFlag = regexp.MustCompile(`^  -([a-zA-Z0-9][a-zA-Z0-9-]*)(?: (\S+))?$`)
)

// flagsOf returns the flags `reimage SUB -h` lists, from the release binary.
func flagsOf(t *testing.T, sub string) map[string]flagSpec {
	t.Helper()
	helpMu.Lock()
	defer helpMu.Unlock()
	if f, ok := helpCache[sub]; ok {
		return f
	}
	out := run(t, release(t), sub, "-h")
	flags := map[string]flagSpec{}
	for _, l := range strings.Split(out, "\n") {
		if m := helpFlag.FindStringSubmatch(l); m != nil {
			flags[m[1]] = flagSpec{value: m[2] != ""}
		}
	}
	if len(flags) == 0 && sub == "apply" {
		t.Fatalf("reimage %s -h lists no flags:\n%s", sub, out)
	}
	helpCache[sub] = flags
	return flags
}

// invocation is one reimage command line of a deploy file, parsed against the real flags.
type invocation struct {
	where      string            // file and position, for messages
	argv       []string          // after the program name: SUB ARGS…
	sub        string            // subcommand
	positional []string          // arguments that are not flags or flag values
	flags      map[string]string // flag -> value ("true" for a bool without =)
}

// parseInvocation checks argv (SUB then arguments, as reimage gets them) against the flags of
// `reimage SUB -h`: every -flag must exist there and a flag that takes a value must have one.
func parseInvocation(t *testing.T, where string, argv []string) invocation {
	t.Helper()
	inv := invocation{where: where, argv: argv, flags: map[string]string{}}
	if len(argv) == 0 {
		t.Fatalf("%s: no reimage subcommand", where)
	}
	inv.sub = argv[0]
	known := flagsOf(t, inv.sub)
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if a == "--" {
			inv.positional = append(inv.positional, argv[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			inv.positional = append(inv.positional, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		spec, ok := known[name]
		if !ok {
			t.Errorf("%s: reimage %s has no flag -%s (reimage %s -h)", where, inv.sub, name, inv.sub)
			continue
		}
		switch {
		case hasVal:
		case spec.value:
			if i+1 >= len(argv) {
				t.Errorf("%s: -%s needs a value", where, name)
				continue
			}
			i++
			val = argv[i]
		default:
			val = "true"
		}
		if _, dup := inv.flags[name]; dup {
			t.Errorf("%s: -%s given twice", where, name)
		}
		inv.flags[name] = val
	}
	return inv
}

// --- Kubernetes ---

type k8sObject struct {
	file string
	node map[string]any
}

func (o k8sObject) kind() string { return str(o.node["kind"]) }
func (o k8sObject) name() string { return str(get(o.node, "metadata", "name")) }
func (o k8sObject) String() string {
	return fmt.Sprintf("%s: %s/%s", filepath.Base(o.file), o.kind(), o.name())
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// get walks nested mappings.
func get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func loadK8s(t *testing.T) []k8sObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "deploy", "kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes: %v", err)
	}
	var objs []k8sObject
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				t.Fatalf("%s: %v", f, err)
			}
			if doc == nil {
				continue
			}
			o := k8sObject{file: f, node: doc}
			if str(doc["apiVersion"]) == "" || o.kind() == "" || o.name() == "" {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name", f)
			}
			objs = append(objs, o)
		}
	}
	return objs
}

// workload is a CronJob or Job with its pod spec and reimage container.
type workload struct {
	obj       k8sObject
	jobSpec   map[string]any
	podSpec   map[string]any
	container map[string]any
	inv       invocation
}

func workloads(t *testing.T, objs []k8sObject) []workload {
	t.Helper()
	var ws []workload
	for _, o := range objs {
		var job any
		switch o.kind() {
		case "CronJob":
			job = get(o.node, "spec", "jobTemplate", "spec")
		case "Job":
			job = get(o.node, "spec")
		default:
			continue
		}
		w := workload{obj: o}
		w.jobSpec, _ = job.(map[string]any)
		w.podSpec, _ = get(job, "template", "spec").(map[string]any)
		cs := list(get(w.podSpec, "containers"))
		if len(cs) != 1 {
			t.Fatalf("%s: want one container, got %d", o, len(cs))
		}
		w.container, _ = cs[0].(map[string]any)
		// The image's ENTRYPOINT is /reimage: args alone are reimage's arguments; a command
		// must start with /reimage.
		var argv []string
		cmd := list(w.container["command"])
		if len(cmd) > 0 {
			if str(cmd[0]) != "/reimage" {
				t.Fatalf("%s: command %v does not run /reimage", o, cmd)
			}
			cmd = cmd[1:]
		}
		for _, a := range append(cmd, list(w.container["args"])...) {
			s, ok := a.(string)
			if !ok {
				t.Fatalf("%s: argument %v is not a string", o, a)
			}
			argv = append(argv, s)
		}
		w.inv = parseInvocation(t, o.String(), argv)
		ws = append(ws, w)
	}
	if len(ws) == 0 {
		t.Fatal("no CronJob or Job in deploy/kubernetes")
	}
	return ws
}

// mountFor returns the volume mounted at the longest mount path that holds path, and the path
// inside that volume.
func (w workload) mountFor(path string) (volume map[string]any, sub string, mount map[string]any) {
	best := ""
	for _, m := range list(w.container["volumeMounts"]) {
		mp := str(get(m, "mountPath"))
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > len(best) {
			best, mount = mp, m.(map[string]any)
		}
	}
	if mount == nil {
		return nil, "", nil
	}
	for _, v := range list(w.podSpec["volumes"]) {
		if str(get(v, "name")) == str(mount["name"]) {
			volume = v.(map[string]any)
		}
	}
	return volume, strings.TrimPrefix(strings.TrimPrefix(path, best), "/"), mount
}

func find(objs []k8sObject, kind, name string) *k8sObject {
	for i := range objs {
		if objs[i].kind() == kind && objs[i].name() == name {
			return &objs[i]
		}
	}
	return nil
}

// planOf returns the plan a workload runs: the ConfigMap key its plan argument names.
func planOf(t *testing.T, objs []k8sObject, w workload) (text string) {
	t.Helper()
	if len(w.inv.positional) != 1 {
		t.Fatalf("%s: want one plan argument, got %q", w.obj, w.inv.positional)
	}
	vol, key, mount := w.mountFor(w.inv.positional[0])
	cmName := str(get(vol, "configMap", "name"))
	if cmName == "" {
		t.Fatalf("%s: the plan %s is not on a ConfigMap volume", w.obj, w.inv.positional[0])
	}
	if mount["readOnly"] != true {
		t.Errorf("%s: the plan's volume is not mounted readOnly", w.obj)
	}
	cm := find(objs, "ConfigMap", cmName)
	if cm == nil {
		t.Fatalf("%s: ConfigMap %s is not in deploy/kubernetes", w.obj, cmName)
	}
	text = str(get(cm.node, "data", key))
	if text == "" {
		t.Fatalf("%s: ConfigMap %s has no key %s", w.obj, cmName, key)
	}
	return text
}

// planDoc is the part of a plan these tests look at.
type planDoc struct {
	Name      string `yaml:"name"`
	Providers map[string]struct {
		Limits struct {
			RequestsPerSecond float64 `yaml:"requestsPerSecond"`
		} `yaml:"limits"`
	} `yaml:"providers"`
	Rollout struct {
		InstanceTimeout string `yaml:"instanceTimeout"`
	} `yaml:"rollout"`
}

var shardArg = regexp.MustCompile(`^\$\(JOB_COMPLETION_INDEX\)/(\d+)$`)

// TestKubernetesManifests checks the CronJob and the Indexed Job against the binary and against
// what the README and the manifests' comments promise.
func TestKubernetesManifests(t *testing.T) {
	objs := loadK8s(t)
	var sawCron, sawIndexed bool
	plans := map[string]planDoc{} // workload kind -> plan
	shards := 0
	for _, w := range workloads(t, objs) {
		t.Run(w.obj.kind()+"/"+w.obj.name(), func(t *testing.T) {
			inv := w.inv
			if inv.sub != "apply" {
				t.Fatalf("runs reimage %s, want apply", inv.sub)
			}
			for _, f := range []string{"auto-approve", "state", "pushgateway"} {
				if _, ok := inv.flags[f]; !ok {
					t.Errorf("no -%s", f)
				}
			}
			if v := inv.flags["log-format"]; v != "json" {
				t.Errorf("-log-format %q, want json", v)
			}

			// The plan: from a ConfigMap, valid for the real binary.
			text := planOf(t, objs, w)
			dir := t.TempDir()
			pf := filepath.Join(dir, "plan.yaml")
			if err := os.WriteFile(pf, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			run(t, release(t), "validate", pf)
			var p planDoc
			if err := yaml.Unmarshal([]byte(text), &p); err != nil {
				t.Fatal(err)
			}
			plans[w.obj.kind()] = p

			// State on a PersistentVolumeClaim defined here.
			vol, _, _ := w.mountFor(inv.flags["state"])
			claim := str(get(vol, "persistentVolumeClaim", "claimName"))
			if claim == "" {
				t.Fatalf("-state %s is not on a PersistentVolumeClaim", inv.flags["state"])
			}
			pvc := find(objs, "PersistentVolumeClaim", claim)
			if pvc == nil {
				t.Fatalf("PersistentVolumeClaim %s is not in deploy/kubernetes", claim)
			}
			modes := list(get(pvc.node, "spec", "accessModes"))

			// Credentials from a Secret, as environment variables.
			fromSecret := false
			for _, e := range list(w.container["envFrom"]) {
				fromSecret = fromSecret || str(get(e, "secretRef", "name")) != ""
			}
			for _, e := range list(w.container["env"]) {
				fromSecret = fromSecret || get(e, "valueFrom", "secretKeyRef") != nil
			}
			if !fromSecret {
				t.Error("no credentials from a Secret (envFrom secretRef or env secretKeyRef)")
			}

			// Non-root, read-only root filesystem, no privilege escalation, bounded memory.
			if get(w.podSpec, "securityContext", "runAsNonRoot") != true {
				t.Error("pod securityContext.runAsNonRoot is not true")
			}
			if uid, _ := get(w.podSpec, "securityContext", "runAsUser").(int); uid == 0 {
				t.Error("pod securityContext.runAsUser is not a non-zero uid")
			}
			if get(w.podSpec, "securityContext", "fsGroup") == nil {
				t.Error("no fsGroup: the non-root user may not write to the state volume")
			}
			sc := w.container["securityContext"]
			if get(sc, "readOnlyRootFilesystem") != true || get(sc, "allowPrivilegeEscalation") != false {
				t.Error("container securityContext: want readOnlyRootFilesystem true, allowPrivilegeEscalation false")
			}
			if !slices.Contains(list(get(sc, "capabilities", "drop")), any("ALL")) {
				t.Error("container securityContext: capabilities are not dropped (drop: [ALL])")
			}
			if get(w.container, "resources", "requests", "memory") == nil || get(w.container, "resources", "limits", "memory") == nil {
				t.Error("no memory request and limit")
			}
			if get(w.podSpec, "restartPolicy") != "Never" {
				t.Error("restartPolicy is not Never: a failed run would be restarted in place at once")
			}
			// SIGTERM drains: the grace period must cover an instance in flight.
			grace, _ := get(w.podSpec, "terminationGracePeriodSeconds").(int)
			timeout, err := time.ParseDuration(p.Rollout.InstanceTimeout)
			if err != nil {
				timeout = 30 * time.Minute // the default
			}
			if time.Duration(grace)*time.Second < timeout {
				t.Errorf("terminationGracePeriodSeconds %d is shorter than the plan's instanceTimeout %s", grace, timeout)
			}

			switch w.obj.kind() {
			case "CronJob":
				sawCron = true
				spec := get(w.obj.node, "spec")
				if get(spec, "concurrencyPolicy") != "Forbid" {
					t.Error("concurrencyPolicy is not Forbid")
				}
				if d, _ := get(spec, "startingDeadlineSeconds").(int); d <= 0 {
					t.Error("no startingDeadlineSeconds")
				}
				if str(get(spec, "schedule")) == "" {
					t.Error("no schedule")
				}
				if _, ok := inv.flags["shard"]; ok {
					t.Error("the whole-plan CronJob runs a shard")
				}
			case "Job":
				if get(w.jobSpec, "completionMode") != "Indexed" {
					break
				}
				sawIndexed = true
				m := shardArg.FindStringSubmatch(inv.flags["shard"])
				if m == nil {
					t.Fatalf("-shard %q, want $(JOB_COMPLETION_INDEX)/N", inv.flags["shard"])
				}
				shards, _ = strconv.Atoi(m[1])
				for _, k := range []string{"completions", "parallelism"} {
					if n, _ := get(w.jobSpec, k).(int); n != shards {
						t.Errorf("%s is %d, -shard says %d shards", k, n, shards)
					}
				}
				// All shards write to one volume (their file names differ): it must be
				// mountable by pods on several nodes.
				if !slices.Contains(modes, any("ReadWriteMany")) {
					t.Errorf("PersistentVolumeClaim %s is shared by %d pods but not ReadWriteMany: %v", claim, shards, modes)
				}
			}
		})
	}
	if !sawCron || !sawIndexed {
		t.Fatalf("want a CronJob and an Indexed Job; got CronJob %v, Indexed Job %v", sawCron, sawIndexed)
	}

	// Rate-limit shares: every shard has its own token bucket, so the sharded plan's limits are
	// the whole plan's (the account's quota) divided by the shard count.
	whole, sharded := plans["CronJob"], plans["Job"]
	for name, pr := range whole.Providers {
		got, want := sharded.Providers[name].Limits.RequestsPerSecond*float64(shards), pr.Limits.RequestsPerSecond
		if want == 0 || got != want {
			t.Errorf("provider %s: %d shards x requestsPerSecond %v = %v, want the whole plan's %v",
				name, shards, sharded.Providers[name].Limits.RequestsPerSecond, got, want)
		}
	}
	if len(whole.Providers) != len(sharded.Providers) {
		t.Errorf("the whole and the sharded plan have different providers")
	}
}

// TestKubernetesRunsOnSimulator runs every workload's exact arguments with the release binary
// against the simulator (-sim), as the pod would: the plan and state paths mapped into a
// temporary directory, $(JOB_COMPLETION_INDEX) substituted for each index, all shards at once
// on one state directory, and -pushgateway pointed at a real Pushgateway. Every run must converge
// and push its group (one per shard).
func TestKubernetesRunsOnSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("runs rollouts on the simulator (about 10s)")
	}
	t.Parallel()
	objs := loadK8s(t)
	gateway := pushgatewaytest.Start(t)
	type job struct {
		name string
		argv []string
		want map[string]string // grouping labels of its push
	}
	var jobs []job
	for _, w := range workloads(t, objs) {
		dir := t.TempDir()
		text := planOf(t, objs, w)
		plan := w.inv.positional[0]
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(plan)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, plan), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		var p planDoc
		if err := yaml.Unmarshal([]byte(text), &p); err != nil {
			t.Fatal(err)
		}
		n := 1
		if m := shardArg.FindStringSubmatch(w.inv.flags["shard"]); m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		for i := 0; i < n; i++ {
			var argv []string
			for _, a := range w.inv.argv {
				switch {
				case a == plan || a == w.inv.flags["state"]:
					a = filepath.Join(dir, a)
				case a == w.inv.flags["pushgateway"]:
					a = gateway
				}
				argv = append(argv, strings.ReplaceAll(a, "$(JOB_COMPLETION_INDEX)", strconv.Itoa(i)))
			}
			shard := ""
			if n > 1 {
				shard = fmt.Sprintf("%d/%d", i, n)
			}
			want := metricsout.PlanLabels(p.Name, shard)
			want["job"] = "reimage"
			jobs = append(jobs, job{name: fmt.Sprintf("%s[%d]", w.obj, i), argv: append(argv, "-sim"), want: want})
		}
	}
	bin := release(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]string, len(jobs))
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			cmd := exec.CommandContext(ctx, bin, j.argv...)
			cmd.Stdout, cmd.Stderr = &out, &out
			cmd.Env = withoutEnv(os.Environ(), "REIMAGE_PUSHGATEWAY_USERNAME", "REIMAGE_PUSHGATEWAY_PASSWORD")
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Sprintf("%s: reimage %s: %v\n%s", j.name, strings.Join(j.argv, " "), err, out.String())
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Error(e)
		}
	}
	if t.Failed() {
		return
	}
	for _, j := range jobs {
		g := pushgatewaytest.Find(t, gateway, j.want)
		if len(g.Series["reimage_last_success_timestamp_seconds"]) == 0 {
			t.Errorf("%s: the pushed group %v has no reimage_last_success_timestamp_seconds", j.name, j.want)
		}
	}
}

// --- systemd ---

// unit is a systemd unit file: section -> key -> values (a key may repeat).
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	line := 0
	cont := ""
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if cont != "" {
			l = cont + " " + l
			cont = ""
		}
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cont = strings.TrimSuffix(l, "\\")
			continue
		}
		if l[0] == '[' {
			if !strings.HasSuffix(l, "]") {
				t.Fatalf("%s:%d: bad section header %q", path, line, l)
			}
			section = l[1 : len(l)-1]
			if u[section] != nil {
				t.Errorf("%s:%d: section [%s] twice", path, line, section)
			}
			u[section] = map[string][]string{}
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || section == "" || strings.TrimSpace(k) == "" {
			t.Fatalf("%s:%d: want Key=Value inside a [Section], got %q", path, line, l)
		}
		k = strings.TrimSpace(k)
		u[section][k] = append(u[section][k], strings.TrimSpace(v))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

func (u unit) one(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// TestSystemdUnits checks reimage.service and reimage.timer: the keys the scheduling guide
// relies on, the hardening, and ExecStart against the binary's flags.
func TestSystemdUnits(t *testing.T) {
	dir := filepath.Join(root, "deploy", "systemd")
	svc := parseUnit(t, filepath.Join(dir, "reimage.service"))
	tim := parseUnit(t, filepath.Join(dir, "reimage.timer"))

	want := map[string]string{
		"Type": "oneshot", "StateDirectory": "reimage", "NoNewPrivileges": "yes",
		"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
	}
	for k, v := range want {
		if got := svc.one("Service", k); got != v {
			t.Errorf("reimage.service: %s=%q, want %q", k, got, v)
		}
	}
	if svc.one("Service", "DynamicUser") != "yes" && svc.one("Service", "User") == "" {
		t.Error("reimage.service: neither DynamicUser=yes nor a dedicated User=")
	}
	if u := svc.one("Service", "User"); u == "root" || u == "0" {
		t.Error("reimage.service: runs as root")
	}
	if len(svc["Service"]["LoadCredential"]) == 0 && len(svc["Service"]["EnvironmentFile"]) == 0 {
		t.Error("reimage.service: no LoadCredential= or EnvironmentFile= for the credentials")
	}
	// Non-convergence (3) and lock held (1) must leave the unit failed.
	for _, s := range svc["Service"]["SuccessExitStatus"] {
		for _, f := range strings.Fields(s) {
			if f != "0" {
				t.Errorf("reimage.service: SuccessExitStatus=%s hides a failed or unconverged run", s)
			}
		}
	}
	if r := svc.one("Service", "Restart"); r != "" && r != "no" {
		t.Errorf("reimage.service: Restart=%s: a failed run is retried by the next timer, resuming from the journal", r)
	}
	if svc.one("Service", "ProtectSystem") == "strict" {
		// With ProtectSystem=strict, every path written must be writable: the state
		// directory (StateDirectory=) and the textfile's directory (ReadWritePaths=).
		execs := svc["Service"]["ExecStart"]
		if len(execs) != 1 {
			t.Fatalf("reimage.service: %d ExecStart= lines, want 1", len(execs))
		}
		inv := execInvocation(t, "reimage.service ExecStart", execs[0])
		if got := inv.flags["state"]; got != "${STATE_DIRECTORY}" && got != "/var/lib/reimage" {
			t.Errorf("reimage.service: -state %q, want ${STATE_DIRECTORY} (StateDirectory=)", got)
		}
		if tf := inv.flags["metrics-textfile"]; tf != "" {
			ok := false
			for _, p := range svc["Service"]["ReadWritePaths"] {
				for _, f := range strings.Fields(p) {
					ok = ok || filepath.Dir(tf) == strings.TrimLeft(f, "-+")
				}
			}
			if !ok {
				t.Errorf("reimage.service: -metrics-textfile %s is not under a ReadWritePaths=", tf)
			}
		}
		for _, f := range []string{"auto-approve", "state"} {
			if _, ok := inv.flags[f]; !ok {
				t.Errorf("reimage.service: ExecStart has no -%s", f)
			}
		}
		if inv.flags["log-format"] != "json" {
			t.Error("reimage.service: ExecStart without -log-format json")
		}
	}
	// The plan's credential files are the ones LoadCredential= provides.
	creds := map[string]bool{}
	for _, lc := range svc["Service"]["LoadCredential"] {
		name, _, _ := strings.Cut(lc, ":")
		creds["/run/credentials/reimage.service/"+name] = true
	}
	b, err := os.ReadFile(filepath.Join(dir, "fleet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\{file: (/run/credentials/[^}\s]+)\}`).FindAllStringSubmatch(string(b), -1) {
		if !creds[m[1]] {
			t.Errorf("fleet.yaml reads %s, which no LoadCredential= of reimage.service provides", m[1])
		}
	}

	for k, v := range map[string]string{"Persistent": "true", "Unit": "reimage.service"} {
		if got := tim.one("Timer", k); got != v {
			t.Errorf("reimage.timer: %s=%q, want %q", k, got, v)
		}
	}
	if tim.one("Timer", "OnCalendar") == "" {
		t.Error("reimage.timer: no OnCalendar=")
	}
	if tim.one("Install", "WantedBy") != "timers.target" {
		t.Error("reimage.timer: not WantedBy=timers.target")
	}
}

// execInvocation parses a systemd ExecStart= or crontab command whose program is reimage.
func execInvocation(t *testing.T, where, cmdline string) invocation {
	t.Helper()
	f := strings.Fields(cmdline)
	i := slices.IndexFunc(f, func(s string) bool { return filepath.Base(s) == "reimage" })
	if i < 0 {
		t.Fatalf("%s: does not run reimage: %s", where, cmdline)
	}
	var argv []string
	for _, a := range f[i+1:] {
		if strings.HasPrefix(a, ">") || strings.HasPrefix(a, "2>") || a == "|" || a == "&&" || a == ";" {
			break
		}
		argv = append(argv, a)
	}
	return parseInvocation(t, where, argv)
}

// --- cron ---

// TestCrontab checks every entry of the cron.d example: five time fields, a user, a reimage
// apply with flags the binary has, JSON logs and the node_exporter textfile.
func TestCrontab(t *testing.T) {
	path := filepath.Join(root, "deploy", "cron", "reimage.cron")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	entries := 0
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || regexp.MustCompile(`^[A-Z_]+=`).MatchString(l) {
			continue
		}
		where := fmt.Sprintf("reimage.cron:%d", i+1)
		f := strings.Fields(l)
		if len(f) < 7 {
			t.Fatalf("%s: want minute hour day month weekday user command", where)
		}
		if strings.Contains(l, "%") {
			t.Errorf("%s: an unescaped %% ends a cron command", where)
		}
		entries++
		inv := execInvocation(t, where, strings.Join(f[6:], " "))
		if inv.sub != "apply" {
			t.Errorf("%s: reimage %s, want apply", where, inv.sub)
		}
		for _, fl := range []string{"auto-approve", "state", "metrics-textfile"} {
			if _, ok := inv.flags[fl]; !ok {
				t.Errorf("%s: no -%s", where, fl)
			}
		}
		if inv.flags["log-format"] != "json" {
			t.Errorf("%s: without -log-format json", where)
		}
		if !strings.HasSuffix(inv.flags["metrics-textfile"], ".prom") {
			t.Errorf("%s: -metrics-textfile %s: node_exporter reads *.prom only", where, inv.flags["metrics-textfile"])
		}
		// Lock-friendly: at most a few runs a day, at fixed times (not */N minutes).
		if strings.Contains(f[0], "*") || strings.Contains(f[1], "/") {
			t.Errorf("%s: schedule %s %s runs more often than a fleet refresh lasts", where, f[0], f[1])
		}
	}
	if entries == 0 {
		t.Fatal("no crontab entries")
	}
}

// TestHostCommandsRunOnSimulator runs the systemd ExecStart= and the crontab command, paths
// mapped into a temporary directory, with -sim on the systemd example plan: both converge and
// write the textfile.
func TestHostCommandsRunOnSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("runs rollouts on the simulator (about 15s)")
	}
	t.Parallel()
	bin := release(t)
	svc := parseUnit(t, filepath.Join(root, "deploy", "systemd", "reimage.service"))
	cron, err := os.ReadFile(filepath.Join(root, "deploy", "cron", "reimage.cron"))
	if err != nil {
		t.Fatal(err)
	}
	var cronLine string
	for _, l := range strings.Split(string(cron), "\n") {
		if strings.Contains(l, "reimage apply") && !strings.HasPrefix(strings.TrimSpace(l), "#") {
			cronLine = strings.Join(strings.Fields(l)[6:], " ")
		}
	}
	plan, err := os.ReadFile(filepath.Join(root, "deploy", "systemd", "fleet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := map[string]invocation{
		"reimage.service": execInvocation(t, "reimage.service", svc.one("Service", "ExecStart")),
		"reimage.cron":    execInvocation(t, "reimage.cron", cronLine),
	}
	var wg sync.WaitGroup
	for name, inv := range cmds {
		dir := t.TempDir()
		// The credential files the plan names are not read with -sim, so the plan is used as is.
		mapped := func(p string) string {
			p = strings.ReplaceAll(p, "${STATE_DIRECTORY}", "/var/lib/reimage")
			return filepath.Join(dir, p)
		}
		if err := os.MkdirAll(filepath.Dir(mapped(inv.positional[0])), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(mapped(inv.positional[0]), plan, 0o600); err != nil {
			t.Fatal(err)
		}
		textfile := mapped(inv.flags["metrics-textfile"])
		if err := os.MkdirAll(filepath.Dir(textfile), 0o755); err != nil {
			t.Fatal(err)
		}
		var argv []string
		for _, a := range inv.argv {
			if a == inv.positional[0] || a == inv.flags["state"] || a == inv.flags["metrics-textfile"] {
				a = mapped(a)
			}
			argv = append(argv, a)
		}
		argv = append(argv, "-sim")
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := exec.Command(bin, argv...).CombinedOutput()
			if err != nil {
				t.Errorf("%s: reimage %s: %v\n%s", name, strings.Join(argv, " "), err, out)
				return
			}
			b, err := os.ReadFile(textfile)
			if err != nil || !bytes.Contains(b, []byte("reimage_last_success_timestamp_seconds")) {
				t.Errorf("%s: textfile %s: %v\n%s", name, textfile, err, b)
			}
		}()
	}
	wg.Wait()
}

// --- README ---

var cronTimes = regexp.MustCompile(`^([0-9*/,-]+\s+){5}\S+\s+`)

// TestReadmeScheduling checks the command lines of the README's Scheduling section: every
// reimage command uses flags the binary has, every apply is exactly the command of one of the
// deploy files (so the guide and the files cannot drift apart), and every make target exists.
func TestReadmeScheduling(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Scheduling\n")
	if !ok {
		t.Fatal("README.md has no ## Scheduling section")
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}

	// The apply command lines of the deploy files, as reimage gets them.
	deployed := map[string]string{}
	objs := loadK8s(t)
	for _, w := range workloads(t, objs) {
		deployed[strings.Join(w.inv.argv, " ")] = w.obj.String()
	}
	svc := parseUnit(t, filepath.Join(root, "deploy", "systemd", "reimage.service"))
	deployed[strings.Join(execInvocation(t, "reimage.service", svc.one("Service", "ExecStart")).argv, " ")] = "reimage.service"
	cron, err := os.ReadFile(filepath.Join(root, "deploy", "cron", "reimage.cron"))
	if err != nil {
		t.Fatal(err)
	}
	cronLines := map[string]bool{}
	for _, l := range strings.Split(string(cron), "\n") {
		if cronTimes.MatchString(l) {
			cronLines[strings.TrimSpace(l)] = true
			deployed[strings.Join(execInvocation(t, "reimage.cron", cronTimes.ReplaceAllString(l, "")).argv, " ")] = "reimage.cron"
		}
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}

	subs := map[string]bool{}
	for _, l := range strings.Split(run(t, release(t), "-h"), "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(l, "  ") && !strings.HasPrefix(f[0], "-") {
			subs[f[0]] = true
		}
	}

	var lines []string
	inBlock, lang := false, ""
	cont := ""
	for _, l := range strings.Split(section, "\n") {
		if strings.HasPrefix(l, "```") {
			inBlock, lang = !inBlock, strings.TrimPrefix(l, "```")
			continue
		}
		if !inBlock || lang != "sh" {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cont += strings.TrimSuffix(l, "\\")
			continue
		}
		lines = append(lines, strings.TrimSpace(cont+l))
		cont = ""
	}
	applies := 0
	for _, l := range lines {
		if cronTimes.MatchString(l) {
			if !cronLines[l] {
				t.Errorf("README crontab line is not the one in deploy/cron/reimage.cron:\n%s", l)
			}
			l = cronTimes.ReplaceAllString(l, "")
		}
		if cmd, _, _ := strings.Cut(l, "#"); true {
			l = strings.TrimSpace(cmd)
		}
		f := strings.Fields(l)
		for i := 0; i < len(f); i++ {
			switch {
			case f[i] == "make":
				for _, target := range f[i+1:] {
					if target == "&&" || target == ";" {
						break
					}
					if strings.Contains(target, "=") {
						continue
					}
					// Not make -n: it runs the recipe lines that call $(MAKE).
					if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:`).Match(makefile) {
						t.Errorf("README: make %s: no such target in the Makefile", target)
					}
				}
			case filepath.Base(f[i]) == "reimage" && i+1 < len(f) && subs[f[i+1]] &&
				(i == 0 || slices.Contains([]string{"exec", "&&", ";", "|"}, f[i-1])):
				inv := execInvocation(t, "README: "+l, strings.Join(f[i:], " "))
				if inv.sub == "apply" {
					applies++
					if _, ok := deployed[strings.Join(inv.argv, " ")]; !ok {
						t.Errorf("README: this apply is not the command of any file in deploy/:\n%s", l)
					}
				}
			}
		}
	}
	if applies < len(deployed) {
		t.Errorf("README's Scheduling section shows %d apply command lines; deploy/ has %d", applies, len(deployed))
	}
}

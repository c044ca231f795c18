package soak

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/plan"
	// The simulator's front-ends, registered with the clouds' drivers.
	_ "github.com/reimage-dev/reimage/providers/drivers"
	"github.com/reimage-dev/reimage/providers/sim"
)

var (
	soakSeeds = flag.Int("soak.seeds", 0, "run the chaos soak over this many seeds (0: skip it)")
	soakFirst = flag.Int64("soak.first", 1, "first seed of the soak")
	soakBin   = flag.String("soak.bin", "", "reimage binary to soak (default: built from ../../cmd/reimage)")
	soakSteps = flag.Int("soak.steps", 6, "runs per seed before the calm, converging phase")
	soakKeep  = flag.String("soak.keep", "", "keep every run's -json output and stderr in this directory")
)

// The clouds' target images and the login each cloud's instances use.
var (
	kecImages = []string{"8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2", "6a7b8c9d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"}
	ecsImages = []string{"e215580f-73ad-429d-b6f2-5433947433b0", "c3d4e5f6-0718-4293-a4b5-c6d7e8f90a1b"}
)

const ecsProject = "0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e"

// TestChaosSoak runs, per seed, a random fleet of 20–60 instances on one or
// both clouds under a random fault mix, through several apply runs of the
// real binary (killed at random moments with SIGKILL, SIGTERM, SIGHUP or a
// double SIGINT; rerun from the same or a fresh state directory, under a
// renamed plan, or split in shards), acknowledging what a run reports in
// doubt or broken as a person would, then calms the faults and converges.
// After every run it checks the safety model against the simulator (see
// checkAlways, checkRuns, checkTruth, checkConverged).
func TestChaosSoak(t *testing.T) {
	if *soakSeeds == 0 {
		t.Skip("the chaos soak runs only with -soak.seeds N")
	}
	bin := *soakBin
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "reimage")
		out, err := exec.Command("go", "build", "-o", bin, "../../cmd/reimage").CombinedOutput()
		if err != nil {
			t.Fatalf("building reimage: %v\n%s", err, out)
		}
	}
	var total tally
	for seed := *soakFirst; seed < *soakFirst+int64(*soakSeeds); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			sc := newScenario(t, bin, seed)
			sc.run()
			total.add(sc.tally)
		})
	}
	t.Logf("soak: seeds %d..%d: %s", *soakFirst, *soakFirst+int64(*soakSeeds)-1, total)
}

// tally counts what a soak did.
type tally struct {
	runs, kills, acks, violations int
	signals                       map[string]int
}

func (a *tally) add(b tally) {
	a.runs += b.runs
	a.kills += b.kills
	a.acks += b.acks
	a.violations += b.violations
	if a.signals == nil {
		a.signals = map[string]int{}
	}
	for k, v := range b.signals {
		a.signals[k] += v
	}
}

func (a tally) String() string {
	var sig []string
	for k, v := range a.signals {
		sig = append(sig, fmt.Sprintf("%s=%d", k, v))
	}
	slices.Sort(sig)
	return fmt.Sprintf("%d apply runs, %d killed (%s), %d acks, %d violations", a.runs, a.kills, strings.Join(sig, " "), a.acks, a.violations)
}

// faultMix is one scenario's faults, as sim.Options carries them.
type faultMix struct {
	lose, gw502, errRate, failRate, jobFail, queueRate float64
	queue                                              time.Duration
	faultOps                                           []string
	failIDs                                            []string
	rate                                               float64
	// missingMidRun: the second target image of a cloud is deleted during
	// some runs, after their pre-flight.
	missingMidRun bool
}

func (m faultMix) String() string {
	return fmt.Sprintf("lose=%.2f 502=%.2f 5xx=%.2f fail=%.2f jobfail=%.2f queue=%v@%.2f ops=%v failIDs=%d rate=%.0f missingMidRun=%v",
		m.lose, m.gw502, m.errRate, m.failRate, m.jobFail, m.queue, m.queueRate, m.faultOps, len(m.failIDs), m.rate, m.missingMidRun)
}

func (m faultMix) apply(o *sim.Options) {
	o.LostAnswerRate, o.Gateway502Rate, o.ServerErrorRate = m.lose, m.gw502, m.errRate
	o.RebuildFailRate, o.JobFailRate, o.FailIDs = m.failRate, m.jobFail, m.failIDs
	o.QueueDelay, o.QueueRate = m.queue, m.queueRate
	o.FaultOps = m.faultOps
	if m.rate > 0 {
		o.RateLimit = map[string]float64{"ksyun": m.rate, "huaweicloud": m.rate}
	}
}

// calm turns off every fault that can go away; rebuilds the cloud always
// fails (FailIDs) stay.
func calm(o *sim.Options) {
	o.LostAnswerRate, o.Gateway502Rate, o.ServerErrorRate = 0, 0, 0
	o.RebuildFailRate, o.JobFailRate = 0, 0
	o.QueueDelay, o.QueueRate = 0, 0
	o.MissingImages = nil
	o.RateLimit = nil
}

type scenario struct {
	t    *testing.T
	seed int64
	rng  *rand.Rand
	bin  string
	dir  string
	s    *sim.Server
	url  string
	env  []string
	mix  faultMix

	planFile string
	p        *plan.Plan
	// inPlan: the plan's changeable instances by the simulator's key
	// (type/id); protected instances are outside it, like the synthetic ones.
	inPlan map[string]*plan.Instance
	tokens map[string]bool // keys whose instance has a reinstall token
	snap   map[string]sim.InstanceView
	// acked: keys acknowledged while a reinstall of theirs was in doubt
	// (the token counts as done, whether or not the cloud carried it out).
	acked map[string]bool
	// ackedAny: keys acknowledged for any reason; one in the cloud's error
	// state may then be ok (a person vouched for it: README, reimage ack).
	ackedAny map[string]bool
	mainDir  string
	otherDir []string
	step     int
	tally    tally
}

func newScenario(t *testing.T, bin string, seed int64) *scenario {
	sc := &scenario{t: t, seed: seed, rng: rand.New(rand.NewPCG(uint64(seed), 0x50a4)), bin: bin, dir: t.TempDir(),
		acked: map[string]bool{}, ackedAny: map[string]bool{}, tally: tally{signals: map[string]int{}}}
	sc.mainDir = filepath.Join(sc.dir, "state")
	sc.writePlan()
	sc.mix = sc.pickMix()
	opts := sim.Options{Seed: seed, StopDuration: 150 * time.Millisecond, RebuildDuration: 400 * time.Millisecond,
		StartDuration: 150 * time.Millisecond, Jitter: 0.3}
	sc.mix.apply(&opts)
	sim.RandomCredentials(&opts)
	sc.s = sim.New(opts)
	if err := sc.s.SeedPlan(sc.p, 0.3); err != nil {
		t.Fatal(err)
	}
	// Instances with a reinstall token run their target already: the token
	// is the change (a reinstall, not an image change).
	sc.s.Lock()
	for k := range sc.tokens {
		typ, id, _ := strings.Cut(k, "/")
		sc.s.Fleet(typ)[id].Image = sc.inPlan[k].Image
	}
	sc.s.Unlock()
	sc.s.SeedSynthetic(6, 0.3)
	url, err := sc.s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.s.Close() })
	sc.url = url
	o := sc.s.Options()
	sc.env = append(os.Environ(),
		"KSYUN_ACCESS_KEY="+o.Keys["ksyun"].AccessKey, "KSYUN_SECRET_KEY="+o.Keys["ksyun"].SecretKey,
		"HUAWEICLOUD_SDK_AK="+o.Keys["huaweicloud"].AccessKey, "HUAWEICLOUD_SDK_SK="+o.Keys["huaweicloud"].SecretKey)
	sc.snap = sc.view()
	t.Logf("seed %d: %d instances in the plan (%d with a token), faults: %s", seed, len(sc.inPlan), len(sc.tokens), sc.mix)
	return sc
}

func uuid(r *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := fmt.Sprintf("%x", b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// writePlan writes a random plan of 20–60 instances on one or both clouds;
// about a quarter carry a reinstall token, one is protected.
func (sc *scenario) writePlan() {
	r := sc.rng
	clouds := [][]string{{"kec"}, {"ecs"}, {"kec", "ecs"}}[r.IntN(3)]
	n := 20 + r.IntN(41)
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nname: soak\nproviders:\n")
	fmt.Fprintf(&b, "  kec: {type: ksyun, region: cn-beijing-6, limits: {requestsPerSecond: 50}}\n")
	fmt.Fprintf(&b, "  ecs: {type: huaweicloud, region: cn-north-4, projectId: %s, limits: {requestsPerSecond: 50}}\n", ecsProject)
	maxFail := []string{`"100%"`, `"100%"`, `"100%"`, "3"}[r.IntN(4)]
	waves := []string{`[1, "100%"]`, `[1, 5, "100%"]`, `[2, "50%", "100%"]`}[r.IntN(3)]
	fmt.Fprintf(&b, "defaults:\n  provider: kec\n  login: {keyIds: [552a0523-b9b4-4868-b8d9-52ad7a38bf89]}\n")
	fmt.Fprintf(&b, "rollout:\n  concurrency: %d\n  maxFailures: %s\n  waves: %s\n", 2+r.IntN(6), maxFail, waves)
	fmt.Fprintf(&b, "instances:\n")
	token := fmt.Sprintf("soak-%d", sc.seed)
	for i := range n {
		cloud := clouds[r.IntN(len(clouds))]
		id := uuid(r)
		line := fmt.Sprintf("  - {id: %s, name: i-%02d", id, i)
		if cloud == "ecs" {
			line += fmt.Sprintf(", provider: ecs, image: %s, login: {keyName: KeyPair-350b}", ecsImages[r.IntN(2)])
		} else {
			line += ", image: " + kecImages[r.IntN(2)]
		}
		switch x := r.IntN(100); {
		case x < 25:
			line += fmt.Sprintf(", reinstall: %q", token)
		case x < 27:
			line += ", protect: true"
		}
		b.WriteString(line + "}\n")
	}
	sc.planFile = filepath.Join(sc.dir, "soak.yaml")
	if err := os.WriteFile(sc.planFile, []byte(b.String()), 0o644); err != nil {
		sc.t.Fatal(err)
	}
	p, err := plan.Load(sc.planFile)
	if err != nil {
		sc.t.Fatalf("the soak's plan: %v\n%s", err, b.String())
	}
	sc.p = p
	sc.inPlan, sc.tokens = map[string]*plan.Instance{}, map[string]bool{}
	for _, in := range p.Instances {
		if in.Protect {
			continue
		}
		k := p.Providers[in.Provider].Type + "/" + in.ID
		sc.inPlan[k] = in
		if in.Reinstall != "" {
			sc.tokens[k] = true
		}
	}
}

// pickMix draws the scenario's faults: each kind on about half the time.
func (sc *scenario) pickMix() faultMix {
	r := sc.rng
	var m faultMix
	on := func() bool { return r.IntN(2) == 0 }
	pick := func(vs ...float64) float64 { return vs[r.IntN(len(vs))] }
	if on() {
		m.lose = pick(0.05, 0.1, 0.2)
	}
	if on() {
		m.gw502 = pick(0.05, 0.1, 0.2)
	}
	if on() {
		m.errRate = pick(0.02, 0.05, 0.1)
	}
	if on() {
		m.failRate = pick(0.02, 0.05)
	}
	if on() {
		m.jobFail = pick(0.05, 0.1)
	}
	if on() {
		m.queue, m.queueRate = time.Duration(200+r.IntN(600))*time.Millisecond, pick(0.2, 0.5, 1)
	}
	if r.IntN(3) == 0 {
		m.faultOps = []string{"stop", "start", "change", "reinstall", "mark"}
	}
	if r.IntN(3) == 0 {
		m.rate = pick(10, 20)
	}
	if r.IntN(3) == 0 {
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range sc.inPlan {
				if !yield(k) {
					return
				}
			}
		})
		_, id, _ := strings.Cut(keys[r.IntN(len(keys))], "/")
		m.failIDs = []string{id}
	}
	m.missingMidRun = r.IntN(3) == 0
	return m
}

// view is the fleet as the simulator's inspection shows it, by type/id.
func (sc *scenario) view() map[string]sim.InstanceView {
	m := map[string]sim.InstanceView{}
	for _, v := range sc.s.Instances() {
		m[v.Provider+"/"+v.ID] = v
	}
	return m
}

func isRunning(state string) bool { return strings.EqualFold(state, "active") }
func isError(state string) bool   { return strings.EqualFold(state, "error") }
func isIdle(state string) bool {
	switch strings.ToLower(state) {
	case "active", "stopped", "shutoff", "error":
		return true
	}
	return false
}

// quiet waits (at most 30 s) until no instance is in a transitional state,
// then d more (a queued change shows nothing meanwhile), then until quiet
// again.
func (sc *scenario) quiet(d time.Duration) {
	wait := func() {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
			busy := false
			for _, v := range sc.s.Instances() {
				busy = busy || !isIdle(v.State)
			}
			if !busy {
				return
			}
		}
		sc.violation("the fleet did not settle within 30s after the run")
	}
	wait()
	if d > 0 {
		time.Sleep(d)
		wait()
	}
}

func (sc *scenario) violation(format string, args ...any) {
	sc.tally.violations++
	sc.t.Errorf("VIOLATION seed %d step %d: %s", sc.seed, sc.step, fmt.Sprintf(format, args...))
}

// runResult is what one apply process did.
type runResult struct {
	args     []string
	exit     int
	signaled string // the signal(s) sent, "" for none
	hard     bool   // killed or abandoned in flight: its instances may be mid-change
	aborted  bool   // signalled before its run began: exit 1, nothing resolved
	summary  *summary
	planned  []string          // the run's instances (type/id), from its plan event
	blocked  map[string]string // those it found blocked at look-up, with the reason
	metrics  map[string]float64
	stderr   string
}

type summary struct {
	Total, Done, Failed, Pending, Skipped, Blocked, Broken int
	InDoubt                                                int  `json:"in_doubt"`
	Interrupted                                            int  `json:"interrupted_instances"`
	Halted                                                 bool `json:"halted"`
	Interrupt                                              bool `json:"interrupted"`
}

// killPlan says how and when a run is interrupted.
type killPlan struct {
	mode  string // "", "KILL", "TERM", "HUP", "INT", "INT2"
	delay time.Duration
	busy  int // or once this many instances of the plan are busy
}

func (sc *scenario) pickKill() killPlan {
	r := sc.rng
	k := killPlan{delay: time.Duration(100+r.IntN(3000)) * time.Millisecond, busy: 1 + r.IntN(4)}
	switch x := r.IntN(100); {
	case x < 35:
	case x < 60:
		k.mode = "KILL"
	case x < 72:
		k.mode = "TERM"
	case x < 84:
		k.mode = "INT2"
	case x < 94:
		k.mode = "HUP"
	default:
		k.mode = "INT"
	}
	return k
}

// apply runs reimage apply, interrupting it as k says.
func (sc *scenario) apply(planFile, state, shard string, k killPlan) runResult {
	sc.tally.runs++
	tag := fmt.Sprintf("s%d-%d-%s", sc.step, sc.tally.runs, strings.ReplaceAll(shard, "/", "of"))
	prom := filepath.Join(sc.dir, tag+".prom")
	args := []string{"apply", "-sim-url", sc.url, "-auto-approve", "-json", "-poll-interval", "50ms", "-settle", "2s",
		"-sim-pause", "100ms", "-state", state, "-metrics-textfile", prom, "-push-interval", "0", "-progress", "never"}
	if shard != "" {
		args = append(args, "-shard", shard)
	}
	args = append(args, planFile)
	cmd := exec.Command(sc.bin, args...)
	cmd.Env = sc.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		sc.t.Fatal(err)
	}
	res := runResult{args: args}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	if k.mode != "" {
		// Instances an earlier, abandoned run left busy do not count.
		k.busy += sc.busyInPlan()
		sc.tally.kills++
		sc.tally.signals[k.mode]++
		timer := time.NewTimer(k.delay)
		tick := time.NewTicker(20 * time.Millisecond)
	wait:
		for {
			select {
			case <-done:
				break wait
			case <-timer.C:
				break wait
			case <-tick.C:
				if sc.busyInPlan() >= k.busy {
					break wait
				}
			}
		}
		timer.Stop()
		tick.Stop()
		select {
		case <-done:
		default:
			res.signaled = k.mode
			switch k.mode {
			case "KILL":
				_ = cmd.Process.Signal(syscall.SIGKILL)
				res.hard = true
			case "TERM":
				_ = cmd.Process.Signal(syscall.SIGTERM)
			case "HUP":
				_ = cmd.Process.Signal(syscall.SIGHUP)
			case "INT":
				_ = cmd.Process.Signal(syscall.SIGINT)
			case "INT2":
				_ = cmd.Process.Signal(syscall.SIGINT)
				time.Sleep(time.Duration(20+sc.rng.IntN(400)) * time.Millisecond)
				_ = cmd.Process.Signal(syscall.SIGINT)
				res.hard = true
			}
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		sc.violation("apply %v did not end within 5 minutes", args)
	}
	res.exit = cmd.ProcessState.ExitCode()
	res.stderr = stderr.String()
	if *soakKeep != "" {
		_ = os.MkdirAll(*soakKeep, 0o755)
		base := filepath.Join(*soakKeep, fmt.Sprintf("seed%d-%s", sc.seed, tag))
		_ = os.WriteFile(base+".json", stdout.Bytes(), 0o644)
		_ = os.WriteFile(base+".stderr", stderr.Bytes(), 0o644)
	}
	sc.readEvents(&res, stdout.Bytes())
	res.metrics = readMetrics(prom)
	if res.signaled != "" && res.exit == -1 {
		// Killed by the signal itself: it came before the process had set
		// up its handlers (its first milliseconds), as a kill -9 would.
		res.hard = true
	}
	if res.signaled != "" && res.exit == 1 && res.summary == nil {
		// A signal before the run began (during the look-up) cancels it
		// at once, before any change, as at the prompt: exit 1. What an
		// earlier killed run left is resolved by the next one.
		res.aborted = true
	}
	return res
}

func (sc *scenario) busyInPlan() int {
	n := 0
	for _, v := range sc.s.Instances() {
		if sc.inPlan[v.Provider+"/"+v.ID] != nil && !isIdle(v.State) {
			n++
		}
	}
	return n
}

// readEvents takes the run's instances from its plan event and its summary
// from run_end.
func (sc *scenario) readEvents(res *runResult, out []byte) {
	sc2 := bufio.NewScanner(bytes.NewReader(out))
	sc2.Buffer(make([]byte, 1<<20), 64<<20)
	for sc2.Scan() {
		var e struct {
			Type string `json:"type"`
			Plan struct {
				Instances []struct{ Provider, ID, Action, Reason string } `json:"instances"`
			} `json:"plan"`
			Summary *summary `json:"summary"`
		}
		if json.Unmarshal(sc2.Bytes(), &e) != nil {
			continue
		}
		switch e.Type {
		case "plan":
			res.blocked = map[string]string{}
			for _, in := range e.Plan.Instances {
				k := sc.p.Providers[in.Provider].Type + "/" + in.ID
				res.planned = append(res.planned, k)
				if in.Action == "blocked" {
					res.blocked[k] = in.Reason
				}
			}
		case "run_end":
			res.summary = e.Summary
		}
	}
}

// readMetrics sums each metric of a textfile over its labels.
func readMetrics(path string) map[string]float64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	m := map[string]float64{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			continue
		}
		m[name] += v
	}
	return m
}

func (r runResult) String() string {
	s := fmt.Sprintf("apply %s -> exit %d", strings.Join(r.args[len(r.args)-3:], " "), r.exit)
	if r.signaled != "" {
		s += " after SIG" + r.signaled
	}
	if r.summary != nil {
		s += fmt.Sprintf(" %+v", *r.summary)
	}
	return s
}

// checkAlways: at any moment, even mid-run: no instance of the plan had its
// OS installed twice, nothing outside the plan (protected, synthetic) was
// touched.
func (sc *scenario) checkAlways(what string) {
	for k, now := range sc.view() {
		was, ok := sc.snap[k]
		if !ok {
			sc.violation("%s: %s appeared", what, k)
			continue
		}
		in := sc.inPlan[k]
		if in == nil {
			if now.Image != was.Image || now.Changes != was.Changes || (isRunning(was.State) != isRunning(now.State)) {
				sc.violation("%s: %s (%s) is outside the plan, yet touched: image %s -> %s, state %s -> %s, installs %d -> %d",
					what, k, now.Name, was.Image, now.Image, was.State, now.State, was.Changes, now.Changes)
			}
			continue
		}
		if d := now.Changes - was.Changes; d > 1 {
			kind := "image change"
			if sc.tokens[k] {
				kind = "reinstall token"
			}
			sc.violation("%s: %s (%s): OS installed %d times (%s), want at most once", what, k, in.Name, d, kind)
		}
	}
}

// checkRuns: after a run that ended by itself (or drained after one
// signal), every instance of the plan that ran before runs now, but those the
// cloud left in its error state.
func (sc *scenario) checkRuns(what string, keys []string) {
	now := sc.view()
	for _, k := range keys {
		was, v := sc.snap[k], now[k]
		if isRunning(was.State) && !isRunning(v.State) && !isError(v.State) {
			sc.violation("%s: %s (%s) ran before, now %s (image %s, installs %d)", what, k, v.Name, v.State, v.Image, v.Changes-was.Changes)
		}
	}
}

// checkTruth: the exit code, the -json summary and the metrics agree, and an
// exit 0 means the simulator shows every instance of the run converged.
func (sc *scenario) checkTruth(what string, r runResult) {
	if r.hard || r.aborted {
		return
	}
	if r.exit != 0 && r.exit != 3 {
		sc.violation("%s: exit %d (want 0 or 3)\n%s", what, r.exit, tail(r.stderr))
		return
	}
	if r.summary == nil {
		sc.violation("%s: no run_end summary", what)
		return
	}
	s := *r.summary
	conv := r.metrics["reimage_last_run_converged"]
	if r.exit == 0 {
		if s.Failed+s.InDoubt+s.Broken+s.Pending+s.Interrupted > 0 || s.Halted || s.Interrupt {
			sc.violation("%s: exit 0 but the summary says %+v", what, s)
		}
		if r.metrics != nil && (conv != 1 || r.metrics["reimage_instances_in_doubt"] != 0 || r.metrics["reimage_instances_broken"] != 0) {
			sc.violation("%s: exit 0 but metrics say converged=%v in_doubt=%v broken=%v", what, conv, r.metrics["reimage_instances_in_doubt"], r.metrics["reimage_instances_broken"])
		}
		now := sc.view()
		for _, k := range r.planned {
			in := sc.inPlan[k]
			if in == nil || r.blocked[k] != "" {
				// Blocked at look-up, with its reason: never touched, and
				// by design no reason not to converge (README).
				continue
			}
			v, was := now[k], sc.snap[k]
			if isError(v.State) && sc.ackedAny[k] {
				continue
			}
			d := v.Changes - was.Changes
			want := d == 1 || (sc.acked[k] && d == 0)
			if v.Image != in.Image || isError(v.State) || !want {
				sc.violation("%s: exit 0 but %s (%s) is %s on %s after %d installs (want %s, installed once)", what, k, in.Name, v.State, v.Image, d, in.Image)
			}
		}
	} else {
		if r.metrics != nil && conv != 0 {
			sc.violation("%s: exit 3 but metrics say converged=%v", what, conv)
		}
		if s.Failed+s.InDoubt+s.Broken+s.Pending+s.Interrupted+s.Blocked == 0 && !s.Halted && !s.Interrupt {
			sc.violation("%s: exit 3 but the summary gives no reason: %+v", what, s)
		}
	}
	if r.metrics != nil && (r.metrics["reimage_instances_in_doubt"] != float64(s.InDoubt) || r.metrics["reimage_instances_broken"] != float64(s.Broken)) {
		sc.violation("%s: metrics say %v in doubt and %v broken, the summary %d and %d", what,
			r.metrics["reimage_instances_in_doubt"], r.metrics["reimage_instances_broken"], s.InDoubt, s.Broken)
	}
	if r.metrics == nil {
		sc.violation("%s: no metrics textfile written", what)
	}
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// ack does what a person does after a run that did not converge: reads
// plan -json (same state directory), and for each instance reported in doubt
// or broken, checks in the simulator that it is idle, then acknowledges it.
func (sc *scenario) ack(state string) {
	cmd := exec.Command(sc.bin, "plan", "-json", "-sim-url", sc.url, "-state", state, sc.planFile)
	cmd.Env = sc.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run()
	var doc struct {
		Instances []struct {
			Provider, ID, Name, Action, Reason, Broken string
		} `json:"instances"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		sc.violation("plan -json: %v\n%s", err, tail(errb.String()))
		return
	}
	now := sc.view()
	for _, in := range doc.Instances {
		inDoubt := in.Action == "blocked" && strings.Contains(in.Reason, "in doubt")
		if !inDoubt && in.Broken == "" {
			continue
		}
		k := sc.p.Providers[in.Provider].Type + "/" + in.ID
		if !isIdle(now[k].State) {
			continue // a person waits until it settles
		}
		if inDoubt && isError(now[k].State) {
			// A person repairs it first: the clouds refuse the done
			// marker on an instance in their error state (ack says so).
			continue
		}
		cmd := exec.Command(sc.bin, "ack", "-sim-url", sc.url, "-state", state, sc.planFile, in.ID)
		cmd.Env = sc.env
		b, err := cmd.CombinedOutput()
		sc.tally.acks++
		sc.t.Logf("  ack %s (%s): %s (%s)", in.Name, k, firstLine(in.Reason+in.Broken), errString(err))
		if err != nil {
			sc.violation("ack of %s (%s), reported %q, failed: %v\n%s", in.Name, k, in.Reason+in.Broken, err, tail(string(b)))
			continue
		}
		sc.ackedAny[k] = true
		if inDoubt && sc.tokens[k] {
			sc.acked[k] = true
		}
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }
func errString(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Sprintf("exit %d", ee.ExitCode())
	}
	if err != nil {
		return err.Error()
	}
	return "ok"
}

// renamed writes the plan under another name and file.
func (sc *scenario) renamed() string {
	b, err := os.ReadFile(sc.planFile)
	if err != nil {
		sc.t.Fatal(err)
	}
	name := fmt.Sprintf("soak-renamed-%d", sc.step)
	f := filepath.Join(sc.dir, name+".yaml")
	if err := os.WriteFile(f, bytes.Replace(b, []byte("name: soak\n"), []byte("name: "+name+"\n"), 1), 0o644); err != nil {
		sc.t.Fatal(err)
	}
	return f
}

func (sc *scenario) keys() []string {
	var ks []string
	for k := range sc.inPlan {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// run is the scenario: soak steps under faults, then calm and converge.
func (sc *scenario) run() {
	r := sc.rng
	for sc.step = 1; sc.step <= *soakSteps; sc.step++ {
		kind := "main"
		switch x := r.IntN(100); {
		case x < 15:
			kind = "fresh"
		case x < 30:
			kind = "renamed"
		case x < 45:
			kind = "shards"
		}
		if kind == "fresh" {
			// Only overlapping runs from two state directories may submit
			// a queued change twice (README: not covered); a new state
			// directory is used the way a second host would be, after
			// the killed run's changes have shown.
			sc.quiet(2*sc.mix.queue + 100*time.Millisecond)
		}
		var missing []string
		if sc.mix.missingMidRun && r.IntN(3) == 0 {
			missing = []string{kecImages[1], ecsImages[1]}
			// Deleted once this run's instances are busy, not those an
			// earlier run abandoned (its pre-flight would refuse).
			sc.quiet(0)
		}
		var results []runResult
		switch kind {
		case "main", "renamed", "fresh":
			f, state, k := sc.planFile, sc.mainDir, sc.pickKill()
			if kind == "renamed" {
				f = sc.renamed()
			}
			if kind == "fresh" {
				state = filepath.Join(sc.dir, fmt.Sprintf("state-%d", sc.step))
				sc.otherDir = append(sc.otherDir, state)
				k = killPlan{}
			}
			stop := func() {}
			if missing != nil {
				stop = sc.deleteImagesSoon(missing)
			}
			results = append(results, sc.apply(f, state, "", k))
			stop()
		case "shards":
			n := 2 + r.IntN(3)
			kills := make([]killPlan, n)
			kills[r.IntN(n)] = sc.pickKill()
			results = make([]runResult, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { results[i] = sc.apply(sc.planFile, sc.mainDir, fmt.Sprintf("%d/%d", i, n), kills[i]) })
			}
			wg.Wait()
		}
		sc.s.SetOptions(func(o *sim.Options) { o.MissingImages = nil })
		hard := false
		for _, res := range results {
			sc.t.Logf("step %d (%s): %s", sc.step, kind, res)
			hard = hard || res.hard || res.aborted
		}
		what := fmt.Sprintf("after step %d (%s)", sc.step, kind)
		sc.checkAlways(what)
		for _, res := range results {
			sc.checkTruth(what, res)
		}
		if !hard && kind != "fresh" {
			sc.quiet(0)
			sc.checkRuns(what, sc.keys())
		}
		sc.checkAlways(what + ", settled")
		if !hard && r.IntN(2) == 0 {
			sc.ack(sc.mainDir)
		}
	}
	// Calm: what reimage could prove converges once a person acknowledged
	// what it could not.
	sc.step = 0
	sc.quiet(2 * sc.mix.queue)
	sc.s.SetOptions(calm)
	var last runResult
	for round := 1; round <= 4; round++ {
		last = sc.apply(sc.planFile, sc.mainDir, "", killPlan{})
		sc.t.Logf("calm %d: %s", round, last)
		sc.checkAlways("calm")
		sc.checkTruth("calm", last)
		if last.exit == 0 {
			break
		}
		sc.ack(sc.mainDir)
		for _, d := range sc.otherDir {
			sc.ack(d)
		}
	}
	sc.quiet(0)
	sc.checkRuns("calm", sc.keys())
	sc.checkConverged(last)
}

// checkConverged: in the end every instance the cloud did not break is on
// its target, installed exactly once (a reinstall acknowledged in doubt: at
// most once), and apply exits 0 unless the cloud broke one.
func (sc *scenario) checkConverged(last runResult) {
	now := sc.view()
	broken := 0
	for _, k := range sc.keys() {
		in, v, was := sc.inPlan[k], now[k], sc.snap[k]
		if isError(v.State) {
			broken++
			continue
		}
		d := v.Changes - was.Changes
		if v.Image != in.Image || !(d == 1 || (sc.acked[k] && d == 0)) {
			sc.violation("calm: %s (%s) never converged: %s on %s after %d installs (want %s once)", k, in.Name, v.State, v.Image, d, in.Image)
		}
	}
	if broken == 0 && last.exit != 0 {
		sc.violation("calm: nothing is broken, yet the last apply exits %d: %s\n%s", last.exit, last, tail(last.stderr))
	}
}

// deleteImagesSoon deletes images once the run is under way (after its
// pre-flight), as when someone deletes an image mid-rollout; the function it
// returns stops waiting and returns once nothing more will be deleted.
func (sc *scenario) deleteImagesSoon(ids []string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sc.busyInPlan() == 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		sc.s.SetOptions(func(o *sim.Options) { o.MissingImages = ids })
	}()
	return func() { cancel(); <-done }
}

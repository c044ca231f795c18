package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/executor/forecast"
	_ "github.com/reimage-dev/reimage/providers/drivers" // the simulator's front-ends
	"github.com/reimage-dev/reimage/providers/sim"
)

// Images of the scenarios: the instances run old*, the plan wants new*.
const (
	kecOld = "c68c074b-dc85-44e4-940b-924143be527b"
	kecNew = "8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2"
	ecsOld = "3aa9cfc0-a4c5-4bc5-bc3b-304bbcc04505"
	ecsNew = "e215580f-73ad-429d-b6f2-5433947433b0"
	ecsPrj = "0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e"
)

// scenario describes a fleet, its plan and the simulator's behaviour.
type scenario struct {
	kec, ecs           int // instances per cloud
	kecStopped         bool
	ecsStopped         bool
	rate               float64 // requests/s, the plan's and the simulator's, per provider
	burst              int     // the plan's burst; 0 = the plan's default
	simRate            float64 // simulator's limit; 0 = same as rate
	concurrency        int
	waves              string // YAML flow list
	stop, rebuild, run time.Duration
	jitter             float64
	poll               time.Duration
	// grouped lists every KEC instance, then every ECS one (as people group
	// a plan by provider), instead of interleaving them.
	grouped bool
}

func kecID(i int) string { return fmt.Sprintf("98284100-f6d1-4bbf-886a-%012x", i) }
func ecsID(i int) string { return fmt.Sprintf("e0a4c9d2-7b1f-4e35-9a6c-%012x", i) }

// order interleaves the two clouds, as a plan listing a mixed fleet by role
// would, so that every wave draws on both providers' rate limits.
func (sc scenario) order() []struct {
	kec bool
	i   int
} {
	var out []struct {
		kec bool
		i   int
	}
	if sc.grouped {
		for i := 0; i < sc.kec; i++ {
			out = append(out, struct {
				kec bool
				i   int
			}{true, i})
		}
		for i := 0; i < sc.ecs; i++ {
			out = append(out, struct {
				kec bool
				i   int
			}{false, i})
		}
		return out
	}
	for i := 0; i < max(sc.kec, sc.ecs); i++ {
		if i < sc.kec {
			out = append(out, struct {
				kec bool
				i   int
			}{true, i})
		}
		if i < sc.ecs {
			out = append(out, struct {
				kec bool
				i   int
			}{false, i})
		}
	}
	return out
}

// writePlan writes the scenario's plan and returns its path.
func (sc scenario) writePlan(dir string) string {
	var b strings.Builder
	limits := fmt.Sprintf("{requestsPerSecond: %g}", sc.rate)
	if sc.burst > 0 {
		limits = fmt.Sprintf("{requestsPerSecond: %g, burst: %d}", sc.rate, sc.burst)
	}
	fmt.Fprintf(&b, `version: 1
name: bench
providers:
  kec:
    type: ksyun
    region: cn-beijing-6
    limits: %s
  ecs:
    type: huaweicloud
    region: cn-north-4
    projectId: %s
    limits: %s
rollout:
  concurrency: %d
  waves: %s
  instanceTimeout: 10m
instances:
`, limits, ecsPrj, limits, sc.concurrency, sc.waves)
	for _, o := range sc.order() {
		if o.kec {
			fmt.Fprintf(&b, "  - {id: %s, provider: kec, image: %s, login: {keyIds: [552a0523-b9b4-4868-b8d9-52ad7a38bf89]}}\n", kecID(o.i), kecNew)
		} else {
			fmt.Fprintf(&b, "  - {id: %s, provider: ecs, image: %s, login: {keyName: KeyPair-350b}}\n", ecsID(o.i), ecsNew)
		}
	}
	path := filepath.Join(dir, "plan.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		panic(err)
	}
	return path
}

// startSim starts a simulator with the scenario's fleet on the old images.
func (sc scenario) startSim(tb testing.TB) (*sim.Server, string) {
	tb.Helper()
	rl := sc.simRate
	if rl == 0 {
		rl = sc.rate
	}
	opts := sim.Options{Seed: 42, StopDuration: sc.stop, RebuildDuration: sc.rebuild, StartDuration: sc.run, Jitter: sc.jitter}
	if rl > 0 {
		opts.RateLimit = map[string]float64{"ksyun": rl, "huaweicloud": rl}
	}
	s := sim.New(opts)
	s.AddImage("ksyun", kecNew)
	s.AddImage("huaweicloud", ecsNew)
	// The plans' key pairs exist (pre-flight blocks an instance whose key pair does not).
	if err := s.AddKeyPair(sim.KeyPair{Provider: "ksyun", ID: "552a0523-b9b4-4868-b8d9-52ad7a38bf89", Name: "ops"}); err != nil {
		tb.Fatal(err)
	}
	if err := s.AddKeyPair(sim.KeyPair{Provider: "huaweicloud", Name: "KeyPair-350b"}); err != nil {
		tb.Fatal(err)
	}
	state := func(stopped bool) string {
		if stopped {
			return "stopped"
		}
		return "running"
	}
	for i := 0; i < sc.kec; i++ {
		if err := s.AddInstance(sim.Instance{Provider: "ksyun", ID: kecID(i), Name: fmt.Sprintf("kec-%d", i), Image: kecOld, State: state(sc.kecStopped)}); err != nil {
			tb.Fatal(err)
		}
	}
	for i := 0; i < sc.ecs; i++ {
		if err := s.AddInstance(sim.Instance{Provider: "huaweicloud", ID: ecsID(i), Name: fmt.Sprintf("ecs-%d", i), Image: ecsOld, State: state(sc.ecsStopped), ProjectID: ecsPrj}); err != nil {
			tb.Fatal(err)
		}
	}
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, url
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// reimageBinary builds the command once per test binary.
func reimageBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "reimage-bench")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "reimage")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/reimage").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// childRun is what a reimage child process cost.
type childRun struct {
	wall   time.Duration
	cpu    time.Duration
	maxRSS int64 // bytes
	stdout []byte
	stderr []byte
	exit   int
}

// runReimage runs the binary with the simulator's credentials in its environment.
func runReimage(tb testing.TB, s *sim.Server, args ...string) childRun {
	tb.Helper()
	o := s.Options()
	cmd := exec.Command(reimageBinary(tb), args...)
	cmd.Env = append(os.Environ(),
		"KSYUN_ACCESS_KEY="+o.Keys["ksyun"].AccessKey, "KSYUN_SECRET_KEY="+o.Keys["ksyun"].SecretKey,
		"HUAWEICLOUD_SDK_AK="+o.Keys["huaweicloud"].AccessKey, "HUAWEICLOUD_SDK_SK="+o.Keys["huaweicloud"].SecretKey)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := childRun{wall: time.Since(start), stdout: stdout.Bytes(), stderr: stderr.Bytes()}
	if cmd.ProcessState == nil {
		tb.Fatalf("reimage %v: %v", args, err)
	}
	r.exit = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.maxRSS = ru.Maxrss * 1024 // Linux reports KiB
	}
	return r
}

// rolloutResult is what the rollout benchmark measures.
type rolloutResult struct {
	Makespan, Bound            time.Duration
	Efficiency                 float64
	KECCalls, ECSCalls         int
	KECChanged, ECSChanged     int
	KECPerInstance, ECSPerInst float64
	PerInstance                float64
	// ReadsPerInstance: the instances asked for by id in status reads (polls
	// and re-checks), per changed instance: how often each was polled.
	ReadsPerInstance float64
	Throttled        int
	CPU              time.Duration
	MaxRSS           int64
	Wall             time.Duration
	ByOperation      map[string]int
	// Waves are each wave's measured time and its bound.
	Waves []waveTime
	// MeanKEC and MeanECS are the mean time of one instance, start to done.
	MeanKEC, MeanECS time.Duration
	// ToSubmitKEC and ToSubmitECS are the mean time from an instance's start
	// to its change's submission (the re-check, a stop, the intent).
	ToSubmitKEC, ToSubmitECS time.Duration
}

type waveTime struct {
	Size           int
	Elapsed, Bound time.Duration
	// Submitting is how long after the wave's start its last change was
	// submitted; Tail, from then to the wave's end.
	Submitting, Tail time.Duration
}

// apiEvent is the part of apply -json events the harness reads.
type apiEvent struct {
	Type           string  `json:"type"`
	Wave           int     `json:"wave"`
	Provider       string  `json:"provider"`
	ID             string  `json:"id"`
	Step           string  `json:"step"`
	Time           string  `json:"time"`
	WaveSize       int     `json:"wave_size"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	Summary        *struct {
		Done, Failed int
	} `json:"summary"`
}

// runRollout applies the scenario's plan and measures it.
func runRollout(tb testing.TB, sc scenario) rolloutResult {
	tb.Helper()
	s, url := sc.startSim(tb)
	dir := tb.TempDir()
	planPath := sc.writePlan(dir)
	r := runReimage(tb, s, "apply", "-sim-url", url, "-sim-pause", "0", "-poll-interval", sc.poll.String(),
		"-auto-approve", "-json", "-state", filepath.Join(dir, "state"), planPath)
	if r.exit != 0 {
		tb.Fatalf("reimage apply exited %d\n%s", r.exit, tail(r.stderr, 40))
	}
	if *eventsDir != "" {
		// For profiling a run: its events, steps included, one JSON per line.
		if err := os.WriteFile(filepath.Join(*eventsDir, tb.Name()+".jsonl"), r.stdout, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	var first, last time.Time
	sc2 := bufio.NewScanner(bytes.NewReader(r.stdout))
	sc2.Buffer(make([]byte, 1<<20), 1<<20)
	var done int
	var waveElapsed []time.Duration
	var kecSum, ecsSum time.Duration
	var kecN, ecsN int
	// Where the time goes: each instance's start, each wave's start and last
	// submission.
	started := map[string]time.Time{}
	toSubmit := map[string]time.Duration{}
	toSubmitN := map[string]int{}
	waveStart := map[int]time.Time{}
	lastSubmit := map[int]time.Time{}
	var submitting, tails []time.Duration
	for sc2.Scan() {
		var e apiEvent
		if json.Unmarshal(sc2.Bytes(), &e) != nil {
			continue
		}
		t, _ := time.Parse(time.RFC3339Nano, e.Time)
		switch e.Type {
		case "wave_start":
			if first.IsZero() {
				first = t
			}
			waveStart[e.Wave] = t
		case "instance_start":
			started[e.Provider+"/"+e.ID] = t
		case "instance_step":
			if e.Step != "submit" {
				break
			}
			if s, ok := started[e.Provider+"/"+e.ID]; ok {
				toSubmit[e.Provider] += t.Sub(s)
				toSubmitN[e.Provider]++
				delete(started, e.Provider+"/"+e.ID)
			}
			if t.After(lastSubmit[e.Wave]) {
				lastSubmit[e.Wave] = t
			}
		case "instance_done":
			d := time.Duration(e.ElapsedSeconds * float64(time.Second))
			if e.Provider == "kec" {
				kecSum, kecN = kecSum+d, kecN+1
			} else {
				ecsSum, ecsN = ecsSum+d, ecsN+1
			}
		case "wave_end":
			waveElapsed = append(waveElapsed, time.Duration(e.ElapsedSeconds*float64(time.Second)))
			submitting = append(submitting, lastSubmit[e.Wave].Sub(waveStart[e.Wave]))
			tails = append(tails, t.Sub(lastSubmit[e.Wave]))
		case "run_end":
			last = t
			if e.Summary != nil {
				done = e.Summary.Done
			}
		}
	}
	if first.IsZero() || last.IsZero() || done != sc.kec+sc.ecs {
		tb.Fatalf("apply did not converge: %d done of %d\n%s", done, sc.kec+sc.ecs, tail(r.stderr, 40))
	}
	res := rolloutResult{Makespan: last.Sub(first), Bound: sc.bound(), CPU: r.cpu, MaxRSS: r.maxRSS, Wall: r.wall, ByOperation: map[string]int{}}
	res.Efficiency = res.Bound.Seconds() / res.Makespan.Seconds()
	res.MeanKEC = kecSum / time.Duration(max(kecN, 1))
	res.MeanECS = ecsSum / time.Duration(max(ecsN, 1))
	res.ToSubmitKEC = toSubmit["kec"] / time.Duration(max(toSubmitN["kec"], 1))
	res.ToSubmitECS = toSubmit["ecs"] / time.Duration(max(toSubmitN["ecs"], 1))
	for i, wb := range sc.waveBounds() {
		wt := waveTime{Size: wb.Size, Bound: wb.Bound}
		if i < len(waveElapsed) {
			wt.Elapsed, wt.Submitting, wt.Tail = waveElapsed[i], submitting[i], tails[i]
		}
		res.Waves = append(res.Waves, wt)
	}
	st := s.Stats()
	for k, n := range st.Requests {
		parts := strings.SplitN(k, "/", 3)
		switch parts[0] {
		case "ksyun":
			res.KECCalls += int(n)
		case "huaweicloud":
			res.ECSCalls += int(n)
		}
		res.ByOperation[parts[0]+"/"+parts[1]] += int(n)
	}
	res.Throttled = int(st.Throttled)
	for _, in := range s.Instances() {
		if in.Changes != 1 {
			tb.Fatalf("instance %s changed %d times", in.ID, in.Changes)
		}
		if in.Provider == "ksyun" {
			res.KECChanged++
		} else {
			res.ECSChanged++
		}
	}
	res.KECPerInstance = float64(res.KECCalls) / float64(max(res.KECChanged, 1))
	res.ECSPerInst = float64(res.ECSCalls) / float64(max(res.ECSChanged, 1))
	res.PerInstance = float64(res.KECCalls+res.ECSCalls) / float64(max(res.KECChanged+res.ECSChanged, 1))
	res.ReadsPerInstance = float64(st.Reads["ksyun"]+st.Reads["huaweicloud"]) / float64(max(res.KECChanged+res.ECSChanged, 1))
	return res
}

// bound is the lower bound on the makespan that the scenario's parameters
// allow, summed over waves. For each wave, the larger of:
//   - rate: every provider's write calls (one change per instance, plus the
//     stop and start batch calls of at most 100 ids each that its instances
//     need) at the provider's rate;
//   - steps: the instance-seconds of the wave's instances (their nominal step
//     durations, without jitter) spread over the concurrency, and at least the
//     longest single instance.
//
// Look-ups and status polls are left out: the bound is what no client could
// beat, not what this one does.
func (sc scenario) bound() time.Duration {
	var total time.Duration
	for _, w := range sc.waveBounds() {
		total += w.Bound
	}
	return total
}

// waveOrder is the order in which apply starts the instances and its wave
// sizes: rollout.canary defaults to perImage, so the first wave holds the
// first instance of each (provider, image) pair (here one per cloud) and the
// later waves keep their sizes, the last one taking what is left, as
// plan.WaveOrder does.
func (sc scenario) waveOrder() ([]struct {
	kec bool
	i   int
}, []int) {
	all := sc.order()
	sizes := waveSizes(sc.waves, len(all))
	var canaries, rest []struct {
		kec bool
		i   int
	}
	seen := map[bool]bool{}
	for _, o := range all {
		if seen[o.kec] {
			rest = append(rest, o)
			continue
		}
		seen[o.kec] = true
		canaries = append(canaries, o)
	}
	ordered := append(canaries, rest...)
	if sizes[0] >= len(canaries) {
		return ordered, sizes
	}
	out := []int{len(canaries)}
	left := len(all) - len(canaries)
	for _, s := range sizes[1:] {
		if left == 0 {
			break
		}
		s = min(s, left)
		out = append(out, s)
		left -= s
	}
	if left > 0 {
		out = append(out, left)
	}
	return ordered, out
}

// waveBounds is the bound of each wave (see bound): the rollout model's
// lower bound (executor/forecast.Bound) of the scenario, so that the
// benchmarks, plan's forecast and apply's ETA share one model of a rollout.
func (sc scenario) waveBounds() []waveTime {
	var out []waveTime
	for _, w := range forecast.Bound(sc.forecastInput()).Waves {
		out = append(out, waveTime{Size: w.Size, Bound: w.Duration})
	}
	return out
}

// forecastInput is the scenario as the rollout model's input, with the
// simulator's nominal step durations (no jitter): KEC stops a running
// instance first (batched) and ModifyInstanceImage boots the rebuilt one;
// ECS changeos stops a running one itself (withStopServer) and starts it
// again; both simulated clouds boot the rebuilt instance.
func (sc scenario) forecastInput() forecast.Input {
	order, sizes := sc.waveOrder()
	nominal := forecast.Durations{
		forecast.Stop:          {D: sc.stop},
		forecast.Change:        {D: sc.rebuild + sc.run},
		forecast.ChangeRunning: {D: sc.stop + sc.rebuild + sc.run},
	}
	in := forecast.Input{Concurrency: sc.concurrency, Providers: map[string]forecast.Provider{
		"kec": {Rate: sc.rate, Durations: nominal},
		"ecs": {Rate: sc.rate, ChangeStopsRunning: true, Durations: nominal},
	}}
	for _, o := range order {
		if o.kec {
			in.Instances = append(in.Instances, forecast.Instance{Provider: "kec", Running: !sc.kecStopped})
		} else {
			in.Instances = append(in.Instances, forecast.Instance{Provider: "ecs", Running: !sc.ecsStopped})
		}
	}
	for _, n := range sizes {
		in.Waves = append(in.Waves, forecast.Wave{Size: n})
	}
	return in
}

// waveSizes applies Ansible serial semantics to a flow list like [1, "10%", "100%"].
func waveSizes(list string, n int) []int {
	var entries []string
	for _, f := range strings.Split(strings.Trim(list, "[] "), ",") {
		entries = append(entries, strings.Trim(strings.TrimSpace(f), `"`))
	}
	var out []int
	for i, left := 0, n; left > 0; i++ {
		e := entries[min(i, len(entries)-1)]
		var size int
		if p, ok := strings.CutSuffix(e, "%"); ok {
			var pct int
			fmt.Sscan(p, &pct)
			size = max((n*pct+99)/100, 1)
		} else {
			fmt.Sscan(e, &size)
		}
		size = min(size, left)
		out = append(out, size)
		left -= size
	}
	return out
}

func tail(b []byte, lines int) string {
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// machine describes where the figures were measured.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf(", %.0f GiB memory", float64(kb)/(1<<20))
	}
	return fmt.Sprintf("%s, %d cores%s, %s %s/%s", model, runtime.NumCPU(), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

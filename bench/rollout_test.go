package bench

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var reportPath = flag.String("report", "", "write the measured figures as Markdown to `FILE` (BENCHMARKS.md)")

// rolloutScenario is issue 7's: 2,000 instances (1,000 KEC stopped, 1,000 ECS
// running), stop 1 s, rebuild 3 s, start 1 s (±20 %), 50 requests/s per
// provider on both sides, concurrency 200, waves [1, 10%, 100%] without pauses.
var rolloutScenario = scenario{
	kec: 1000, ecs: 1000, kecStopped: true,
	rate: 50, concurrency: 200, waves: `[1, "10%", "100%"]`,
	stop: time.Second, rebuild: 3 * time.Second, run: time.Second, jitter: 0.2,
	poll: 100 * time.Millisecond,
}

// groupedScenario is issue 16's: the same fleet and steps, the plan in
// provider blocks (every KEC instance, then every ECS one), 20 requests/s per
// cloud, concurrency 100, 250 ms polls. One cloud's instances must not fill
// the concurrency while the other cloud's rate budget idles.
var groupedScenario = scenario{
	kec: 1000, ecs: 1000, kecStopped: true, grouped: true,
	rate: 20, concurrency: 100, waves: `[1, "10%", "100%"]`,
	stop: time.Second, rebuild: 3 * time.Second, run: time.Second, jitter: 0.2,
	poll: 250 * time.Millisecond,
}

// TestHarness runs a small rollout through the whole harness, so that the
// ordinary test suite catches a harness that no longer works. It asserts
// correctness (convergence, one change per instance), never speed.
func TestHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the reimage binary")
	}
	sc := rolloutScenario
	sc.kec, sc.ecs, sc.concurrency = 10, 10, 8
	sc.stop, sc.rebuild, sc.run = 50*time.Millisecond, 150*time.Millisecond, 50*time.Millisecond
	sc.poll = 50 * time.Millisecond
	r := runRollout(t, sc)
	if r.KECChanged != 10 || r.ECSChanged != 10 {
		t.Fatalf("changed %d KEC and %d ECS, want 10 each", r.KECChanged, r.ECSChanged)
	}
	if r.Bound <= 0 || r.Makespan <= 0 {
		t.Fatalf("bound %v makespan %v", r.Bound, r.Makespan)
	}
	for i, w := range r.Waves {
		if w.Submitting < 0 || w.Tail <= 0 || w.Submitting+w.Tail > w.Elapsed+50*time.Millisecond {
			t.Errorf("wave %d: last submission after %v, then %v to the end, of %v", i+1, w.Submitting, w.Tail, w.Elapsed)
		}
	}
	if r.ToSubmitKEC <= 0 || r.ToSubmitECS <= 0 {
		t.Errorf("start to submission: KEC %v, ECS %v", r.ToSubmitKEC, r.ToSubmitECS)
	}
}

func TestBound(t *testing.T) {
	// Waves of 2, 200 and 1798 of 2,000 interleaved instances (KEC first): the
	// first holds the canary of each image (one KEC, one ECS: 5 s, the ECS
	// one's stop, rebuild and start); then (100×4 + 100×5)/200 = 4.5 s but at
	// least the 5 s of one ECS instance; then (899×4 + 899×5)/200 = 40.455 s.
	got := rolloutScenario.bound().Round(time.Millisecond)
	if want := 50455 * time.Millisecond; got != want {
		t.Errorf("bound = %v, want %v", got, want)
	}
	if got := fmt.Sprint(waveSizes(`[1, "10%", "100%"]`, 2000)); got != "[1 200 1799]" {
		t.Errorf("waves = %s", got)
	}
	// Grouped: the canaries are KEC 0 and ECS 0; wave 2 is KEC 1–200, at
	// 20/s 10 s of writes; wave 3 is 799 KEC and 999 ECS: (799×4 + 999×5)/100
	// = 81.91 s.
	if got, want := groupedScenario.bound().Round(time.Millisecond), 96910*time.Millisecond; got != want {
		t.Errorf("grouped bound = %v, want %v", got, want)
	}
	for _, w := range groupedScenario.waveBounds() {
		t.Logf("grouped wave: %d instances, bound %v", w.Size, w.Bound)
	}
}

var (
	eventsDir  = flag.String("events", "", "keep each rollout's apply -json events in `DIR`/BENCHNAME.jsonl, to profile where the time goes")
	benchPoll  = flag.Duration("poll", 0, "override the rollout scenario's poll interval")
	benchBurst = flag.Int("burst", 0, "override the rollout scenario's plan burst")
)

func BenchmarkRollout(b *testing.B) {
	sc := rolloutScenario
	if *benchPoll > 0 {
		sc.poll = *benchPoll
	}
	if *benchBurst > 0 {
		sc.burst = *benchBurst
	}
	benchRollout(b, "rollout", sc)
}

// BenchmarkRolloutGrouped is the grouped-order scenario (groupedScenario).
func BenchmarkRolloutGrouped(b *testing.B) {
	benchRollout(b, "rollout-grouped", groupedScenario)
}

func benchRollout(b *testing.B, name string, sc scenario) {
	for i := 0; i < b.N; i++ {
		r := runRollout(b, sc)
		b.ReportMetric(r.Makespan.Seconds(), "makespan-s")
		b.ReportMetric(r.Bound.Seconds(), "bound-s")
		b.ReportMetric(r.Efficiency, "efficiency")
		b.ReportMetric(r.KECPerInstance, "kec-calls/instance")
		b.ReportMetric(r.ECSPerInst, "ecs-calls/instance")
		b.ReportMetric(r.PerInstance, "calls/instance")
		b.ReportMetric(r.ReadsPerInstance, "reads/instance")
		b.ReportMetric(float64(r.Throttled), "throttled")
		b.ReportMetric(r.CPU.Seconds(), "cpu-s")
		b.ReportMetric(float64(r.MaxRSS)/(1<<20), "peak-MiB")
		b.Logf("mean instance time: KEC %.2f s, ECS %.2f s; start to submission: KEC %.0f ms, ECS %.0f ms", r.MeanKEC.Seconds(), r.MeanECS.Seconds(),
			r.ToSubmitKEC.Seconds()*1000, r.ToSubmitECS.Seconds()*1000)
		for i, w := range r.Waves {
			b.Logf("wave %d: %d instances, %.2f s measured, %.2f s bound; last submission after %.2f s, then %.2f s to the wave's end",
				i+1, w.Size, w.Elapsed.Seconds(), w.Bound.Seconds(), w.Submitting.Seconds(), w.Tail.Seconds())
		}
		record(name, r)
		recordRun(name, r)
	}
}

// scaleResult is what the scale benchmark measures for one command.
type scaleResult struct {
	Command     string
	Wall, CPU   time.Duration
	MaxRSS      int64
	LookupCalls int
}

// BenchmarkScale100k validates and plans 100,000 instances (half per cloud)
// against the simulator (its rate limits off, the plan's set high).
func BenchmarkScale100k(b *testing.B) {
	sc := scenario{kec: 50000, ecs: 50000, rate: 2000, simRate: -1, concurrency: 10, waves: `[1, "100%"]`}
	for i := 0; i < b.N; i++ {
		s, url := sc.startSim(b)
		planPath := sc.writePlan(b.TempDir())
		v := runReimage(b, s, "validate", planPath)
		if v.exit != 0 {
			b.Fatalf("validate exited %d: %s", v.exit, tail(v.stderr, 10))
		}
		p := runReimage(b, s, "plan", "-sim-url", url, planPath)
		if p.exit != 0 {
			b.Fatalf("plan exited %d: %s", p.exit, tail(p.stderr, 10))
		}
		if !strings.Contains(string(p.stdout), "Plan: 100000 to change") {
			b.Fatalf("plan output: %s", tail(p.stdout, 3))
		}
		lookups := 0
		for k, n := range s.Stats().Requests {
			if strings.Contains(k, "/DescribeInstances/") || strings.Contains(k, "/ListServersDetails/") {
				lookups += int(n)
			}
		}
		b.ReportMetric(v.wall.Seconds(), "validate-s")
		b.ReportMetric(float64(v.maxRSS)/(1<<20), "validate-peak-MiB")
		b.ReportMetric(p.wall.Seconds(), "plan-s")
		b.ReportMetric(float64(p.maxRSS)/(1<<20), "plan-peak-MiB")
		b.ReportMetric(float64(lookups), "lookup-calls")
		record("scale", []scaleResult{
			{Command: "validate", Wall: v.wall, CPU: v.cpu, MaxRSS: v.maxRSS},
			{Command: "plan", Wall: p.wall, CPU: p.cpu, MaxRSS: p.maxRSS, LookupCalls: lookups},
		})
	}
}

var (
	resultsMu sync.Mutex
	results   = map[string]any{}
)

func record(name string, v any) {
	resultsMu.Lock()
	results[name] = v
	resultsMu.Unlock()
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if *reportPath != "" && code == 0 {
		if err := writeReport(*reportPath); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func writeReport(path string) error {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Measured by `make benchmarks`, which runs `go test ./bench -run '^$' -bench . -benchtime 1x -timeout 30m -args -report $PWD/BENCHMARKS.md`,\n")
	fmt.Fprintf(&b, "on %s, %s. This file is written by the harness from the figures it measured; do not edit it by hand.\n\n", machine(), time.Now().UTC().Format("2006-01-02"))
	b.WriteString("The reimage binary runs as a child process (its CPU time and peak RSS are its own, from getrusage) against the simulator, in the benchmark's process, over loopback.\n")
	if r, ok := results["rollout"].(rolloutResult); ok {
		b.WriteString(rolloutReport("Rollout", "interleaved: one KEC, one ECS", rolloutScenario, r, "≥ 0.90"))
		b.WriteString(spreadReport(runs["rollout"]))
	}
	if r, ok := results["rollout-grouped"].(rolloutResult); ok {
		b.WriteString(rolloutReport("Rollout, plan grouped by provider", "grouped: every KEC instance, then every ECS one", groupedScenario, r, "≥ 0.85"))
		b.WriteString(spreadReport(runs["rollout-grouped"]))
	}
	if r, ok := results["forecast"].(forecastResult); ok {
		b.WriteString(forecastReport(forecastScenario, r))
	}
	if rs, ok := results["scale"].([]scaleResult); ok {
		b.WriteString("\n## Scale\n\n100,000 instances (50,000 per cloud) in one plan; the simulator holds them all, without rate limits; the plan allows 2,000 requests/s per provider.\n\n")
		b.WriteString("| command | wall time | CPU time | peak memory (max RSS) | look-up calls | target |\n| --- | --- | --- | --- | --- | --- |\n")
		for _, r := range rs {
			target, calls := "", "–"
			if r.Command == "plan" {
				target, calls = "< 10 s, < 1 GB, ≤ 1,100 calls", fmt.Sprint(r.LookupCalls)
			}
			fmt.Fprintf(&b, "| reimage %s | %.2f s | %.2f s | %.0f MiB | %s | %s |\n", r.Command, r.Wall.Seconds(), r.CPU.Seconds(), float64(r.MaxRSS)/(1<<20), calls, target)
		}
	}
	if r, ok := results["journal"].([]journalLine); ok {
		b.WriteString(journalReport(r))
	}
	if r, ok := results["select"].(selectResult); ok {
		b.WriteString(selectReport(r))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// rolloutReport renders one rollout scenario's figures.
func rolloutReport(title, order string, sc scenario, r rolloutResult, target string) string {
	var b strings.Builder
	kecState, ecsState := "running", "running"
	if sc.kecStopped {
		kecState = "stopped"
	}
	if sc.ecsStopped {
		ecsState = "stopped"
	}
	fmt.Fprintf(&b, "\n## %s\n\n%d instances (%d KEC %s, %d ECS %s), plan order %s; simulated stop %s, rebuild %s, start %s (each ±%.0f %%, seeded); simulator and plan both at %g requests/s per provider; concurrency %d; waves %s without pauses (the default canary, perImage, puts one instance of each cloud in the first wave); poll interval %s.\n\n",
		title, sc.kec+sc.ecs, sc.kec, kecState, sc.ecs, ecsState, order, sc.stop, sc.rebuild, sc.run, sc.jitter*100, sc.rate, sc.concurrency, sc.waves, sc.poll)
	b.WriteString("| figure | value | target |\n| --- | --- | --- |\n")
	fmt.Fprintf(&b, "| makespan (first wave start to run end) | %.1f s | |\n", r.Makespan.Seconds())
	fmt.Fprintf(&b, "| lower bound (formula below) | %.1f s | |\n", r.Bound.Seconds())
	fmt.Fprintf(&b, "| efficiency = bound / makespan | %.3f | %s |\n", r.Efficiency, target)
	fmt.Fprintf(&b, "| KEC API calls per changed instance | %.3f (%d calls, %d instances) | ≤ 2.0 |\n", r.KECPerInstance, r.KECCalls, r.KECChanged)
	fmt.Fprintf(&b, "| ECS API calls per changed instance | %.3f (%d calls, %d instances) | ≤ 2.0 |\n", r.ECSPerInst, r.ECSCalls, r.ECSChanged)
	fmt.Fprintf(&b, "| API calls per changed instance, total | %.3f | ≤ 1.5 |\n", r.PerInstance)
	fmt.Fprintf(&b, "| instances read by status calls (polls, re-checks) per changed instance | %.2f | |\n", r.ReadsPerInstance)
	fmt.Fprintf(&b, "| throttled answers | %d | 0 |\n", r.Throttled)
	fmt.Fprintf(&b, "| reimage CPU time | %.2f s | |\n", r.CPU.Seconds())
	fmt.Fprintf(&b, "| reimage peak memory (max RSS) | %.0f MiB | |\n", float64(r.MaxRSS)/(1<<20))
	kecNominal := sc.rebuild + sc.run
	if !sc.kecStopped {
		kecNominal += sc.stop
	}
	ecsNominal := sc.rebuild
	if !sc.ecsStopped {
		ecsNominal += sc.stop + sc.run
	}
	fmt.Fprintf(&b, "| mean time of one instance, start to done (nominal: KEC %s, ECS %s) | KEC %.2f s, ECS %.2f s | |\n", kecNominal, ecsNominal, r.MeanKEC.Seconds(), r.MeanECS.Seconds())
	fmt.Fprintf(&b, "| mean time from an instance's start to its submission (re-check, stop, intent) | KEC %.0f ms, ECS %.0f ms | |\n", r.ToSubmitKEC.Seconds()*1000, r.ToSubmitECS.Seconds()*1000)
	fmt.Fprintf(&b, "| reimage wall time (look-up, plan, rollout) | %.1f s | |\n", r.Wall.Seconds())
	b.WriteString("\nBy wave (the last two columns: when the wave's last change was submitted, and from then to the wave's end, its slowest instance):\n\n| wave | instances | measured | bound | last submission | then to the end |\n| --- | --- | --- | --- | --- | --- |\n")
	for i, w := range r.Waves {
		fmt.Fprintf(&b, "| %d | %d | %.2f s | %.2f s | %.2f s | %.2f s |\n", i+1, w.Size, w.Elapsed.Seconds(), w.Bound.Seconds(), w.Submitting.Seconds(), w.Tail.Seconds())
	}
	b.WriteString("\nAPI calls by operation (every status: 2xx, 429, 5xx):\n\n| provider/operation | calls |\n| --- | --- |\n")
	ops := make([]string, 0, len(r.ByOperation))
	for k := range r.ByOperation {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	for _, k := range ops {
		fmt.Fprintf(&b, "| %s | %d |\n", k, r.ByOperation[k])
	}
	b.WriteString(`
The lower bound, computed by the harness from the same parameters (bench/harness_test.go, scenario.bound: the rollout model's executor/forecast.Bound):
for each wave, the larger of (a) each provider's write calls (one change per instance, plus one stop
batch call per 100 running KEC instances) at the provider's rate, and (b) the wave's instance-seconds
at nominal step durations (KEC stopped: rebuild + boot; ECS running: stop + rebuild + start) divided
by the concurrency, and at least the longest single instance; summed over waves. Look-ups and polls
are left out: it is what no client could beat.
`)
	return b.String()
}

// runs keeps every run of a rollout scenario (go test -count N), for the
// spread; results keeps the last one, whose details the report shows.
var runs = map[string][]rolloutResult{}

func recordRun(name string, r rolloutResult) {
	resultsMu.Lock()
	runs[name] = append(runs[name], r)
	resultsMu.Unlock()
}

// spreadReport renders the figures of every run of a scenario, when there
// was more than one: the machine is shared, and the simulator's seeded jitter
// is drawn in the order calls arrive, so one run is one sample.
func spreadReport(rs []rolloutResult) string {
	if len(rs) < 2 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nAll %d runs of this scenario (the tables above are the last):\n\n| run | makespan | efficiency | calls per changed instance | reads per changed instance | wave times |\n| --- | --- | --- | --- | --- | --- |\n", len(rs))
	effs := make([]float64, 0, len(rs))
	for i, r := range rs {
		var waves []string
		for _, w := range r.Waves {
			waves = append(waves, fmt.Sprintf("%.2f s", w.Elapsed.Seconds()))
		}
		fmt.Fprintf(&b, "| %d | %.1f s | %.3f | %.3f | %.2f | %s |\n", i+1, r.Makespan.Seconds(), r.Efficiency, r.PerInstance, r.ReadsPerInstance, strings.Join(waves, ", "))
		effs = append(effs, r.Efficiency)
	}
	sort.Float64s(effs)
	fmt.Fprintf(&b, "\nEfficiency: min %.3f, median %.3f, max %.3f.\n", effs[0], effs[len(effs)/2], effs[len(effs)-1])
	return b.String()
}

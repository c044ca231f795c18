package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/providers/sim"
)

// selectScenario is a fleet of kec+ecs instances with names, zones and tags:
// instance i is web-NNNNNN with role=web when i is even, app-NNNNNN with
// role=app otherwise, in zone a, b or c by i mod 3.
type selectScenario struct {
	kec, ecs int
}

// startSim starts a simulator (rate limits off) with the scenario's fleet on
// the old images.
func (sc selectScenario) startSim(tb testing.TB) (*sim.Server, string) {
	tb.Helper()
	s := sim.New(sim.Options{Seed: 42, ProjectIDs: []string{ecsPrj}})
	s.AddImage("ksyun", kecNew)
	s.AddImage("huaweicloud", ecsNew)
	// The plan's key pairs exist (pre-flight blocks an instance whose key pair does not).
	if err := s.AddKeyPair(sim.KeyPair{Provider: "ksyun", ID: "552a0523-b9b4-4868-b8d9-52ad7a38bf89", Name: "ops"}); err != nil {
		tb.Fatal(err)
	}
	if err := s.AddKeyPair(sim.KeyPair{Provider: "huaweicloud", Name: "KeyPair-350b"}); err != nil {
		tb.Fatal(err)
	}
	add := func(provider, id, region string, i int, image string) {
		role := "web"
		if i%2 == 1 {
			role = "app"
		}
		in := sim.Instance{Provider: provider, ID: id, Name: fmt.Sprintf("%s-%06d", role, i), Image: image,
			Zone: region + string(rune('a'+i%3)), Tags: map[string]string{"role": role, "env": "prod"}}
		if provider == "huaweicloud" {
			in.ProjectID = ecsPrj
		}
		if err := s.AddInstance(in); err != nil {
			tb.Fatal(err)
		}
	}
	for i := 0; i < sc.kec; i++ {
		add("ksyun", kecID(i), "cn-beijing-6", i, kecOld)
	}
	for i := 0; i < sc.ecs; i++ {
		add("huaweicloud", ecsID(i), "cn-north-4", i, ecsOld)
	}
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, url
}

// writePlan writes a plan with no instances listed: one selector per cloud,
// KEC by tag (its tag service), Huawei by tag and zone.
func (sc selectScenario) writePlan(dir string) string {
	plan := fmt.Sprintf(`version: 1
name: select-bench
providers:
  kec:
    type: ksyun
    region: cn-beijing-6
    limits: {requestsPerSecond: 2000}
    defaults: {image: %s, login: {keyIds: [552a0523-b9b4-4868-b8d9-52ad7a38bf89]}}
  ecs:
    type: huaweicloud
    region: cn-north-4
    projectId: %s
    limits: {requestsPerSecond: 2000}
    defaults: {image: %s, login: {keyName: KeyPair-350b}}
select:
  - provider: kec
    where: {tags: {role: web}}
  - provider: ecs
    where: {tags: {role: web}, name: "web-*", zone: cn-north-4a}
`, kecNew, ecsPrj, ecsNew)
	path := filepath.Join(dir, "select.yaml")
	if err := os.WriteFile(path, []byte(plan), 0o644); err != nil {
		panic(err)
	}
	return path
}

// want is how many instances the plan's selectors match.
func (sc selectScenario) want() int {
	n := (sc.kec + 1) / 2
	for i := 0; i < sc.ecs; i += 2 {
		if i%3 == 0 {
			n++
		}
	}
	return n
}

// selectResult is what the selection benchmark measures.
type selectResult struct {
	Instances, Selected int
	Wall, CPU           time.Duration
	MaxRSS              int64
	// Calls counts the listing calls by provider/operation (every status).
	Calls map[string]int
}

// BenchmarkSelect100k plans 100,000 simulated instances (half per cloud)
// chosen by selectors only: the clouds' listings (KEC DescribeInstances and
// its tag service, Huawei's detail list), then the look-up of what they chose.
func BenchmarkSelect100k(b *testing.B) {
	sc := selectScenario{kec: 50_000, ecs: 50_000}
	for i := 0; i < b.N; i++ {
		r := runSelect(b, sc)
		b.ReportMetric(r.Wall.Seconds(), "plan-s")
		b.ReportMetric(float64(r.MaxRSS)/(1<<20), "plan-peak-MiB")
		total := 0
		for _, n := range r.Calls {
			total += n
		}
		b.ReportMetric(float64(total), "calls")
		record("select", r)
	}
}

// TestSelectHarness runs the selection scenario small in the ordinary suite,
// so that it cannot rot: the selectors choose exactly the expected instances.
func TestSelectHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the reimage binary")
	}
	r := runSelect(t, selectScenario{kec: 300, ecs: 300})
	if len(r.Calls) == 0 {
		t.Fatal("no calls counted")
	}
}

func runSelect(tb testing.TB, sc selectScenario) selectResult {
	tb.Helper()
	s, url := sc.startSim(tb)
	planPath := sc.writePlan(tb.TempDir())
	before := s.Stats().Requests
	p := runReimage(tb, s, "plan", "-sim-url", url, "-state", filepath.Join(tb.TempDir(), "state"), planPath)
	if p.exit != 0 {
		tb.Fatalf("plan exited %d: %s", p.exit, tail(p.stderr, 10))
	}
	want := sc.want()
	if !strings.Contains(string(p.stdout), fmt.Sprintf("Plan: %d to change, 0 to reinstall, 0 ok", want)) {
		tb.Fatalf("want %d changes; plan output: %s", want, tail(p.stdout, 3))
	}
	calls := map[string]int{}
	for k, n := range s.Stats().Requests {
		if d := int(n) - int(before[k]); d > 0 {
			// "provider/operation/status" -> "provider/operation"
			parts := strings.Split(k, "/")
			if len(parts) >= 2 {
				calls[parts[0]+"/"+parts[1]] += d
			}
		}
	}
	return selectResult{Instances: sc.kec + sc.ecs, Selected: want, Wall: p.wall, CPU: p.cpu, MaxRSS: p.maxRSS, Calls: calls}
}

// selectReport renders the selection figures for BENCHMARKS.md.
func selectReport(r selectResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Selection\n\n`reimage plan` of a plan that lists no instance and selects %d of %d simulated instances (half per cloud) with one selector per cloud (KEC: tag role=web; Huawei: tag, name glob and zone); the simulator's rate limits off, the plan's at 2,000 requests/s (bench/select_test.go).\n\n", r.Selected, r.Instances)
	b.WriteString("| figure | value |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| plan wall time (listing, look-up, diff, output) | %.2f s |\n", r.Wall.Seconds())
	fmt.Fprintf(&b, "| reimage CPU time | %.2f s |\n", r.CPU.Seconds())
	fmt.Fprintf(&b, "| reimage peak memory (max RSS) | %.0f MiB |\n", float64(r.MaxRSS)/(1<<20))
	ops := make([]string, 0, len(r.Calls))
	total := 0
	for k, n := range r.Calls {
		ops = append(ops, k)
		total += n
	}
	sort.Strings(ops)
	for _, k := range ops {
		fmt.Fprintf(&b, "| calls: %s | %d |\n", k, r.Calls[k])
	}
	fmt.Fprintf(&b, "| calls, total | %d |\n", total)
	return b.String()
}

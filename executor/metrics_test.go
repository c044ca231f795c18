package executor

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// runWithMetrics applies the plan on the fake cloud with RunMetrics observing,
// on a registry that also holds the API metrics, wrapped with the plan label
// as apply does.
func runWithMetrics(t *testing.T, cloud *fakeCloud, p *plan.Plan, reg *prometheus.Registry) (Summary, *RunMetrics) {
	t.Helper()
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"plan": p.Name}, reg)
	m := NewRunMetrics(wrapped, "fake")
	providers.NewAPIMetrics(wrapped, nil)
	var sum Summary
	e := New(Options{Plan: p, Providers: map[string]providers.Provider{"fake": cloud}, PollInterval: time.Millisecond, Observer: m})
	obs, err := Lookup(t.Context(), p, map[string]providers.Provider{"fake": cloud}, nil)
	if err != nil {
		t.Fatal(err)
	}
	changes := plan.Diff(p, obs, nil)
	if sum, err = e.Apply(t.Context(), changes); err != nil {
		t.Fatal(err)
	}
	return sum, m
}

func TestRunMetricsConverged(t *testing.T) {
	cloud := newFakeCloud(10, true)
	reg := prometheus.NewRegistry()
	before := time.Now()
	sum, _ := runWithMetrics(t, cloud, testPlan(cloud, canaryWaves, plan.Size{}, 4), reg)
	if !sum.Converged() {
		t.Fatalf("summary %+v", sum)
	}
	want := `
# HELP reimage_instance_changes_total Instance changes (re-images) finished by this run, by provider and result (done, failed).
# TYPE reimage_instance_changes_total counter
reimage_instance_changes_total{plan="t",provider="fake",result="done"} 10
reimage_instance_changes_total{plan="t",provider="fake",result="failed"} 0
# HELP reimage_instances Instances of the run by state: pending (not started), in_progress (in flight), done, failed, skipped (left alone: ok, protected or blocked).
# TYPE reimage_instances gauge
reimage_instances{plan="t",state="done"} 10
reimage_instances{plan="t",state="failed"} 0
reimage_instances{plan="t",state="in_progress"} 0
reimage_instances{plan="t",state="pending"} 0
reimage_instances{plan="t",state="skipped"} 0
# HELP reimage_wave The wave the run is in (1-based); 0 before the first.
# TYPE reimage_wave gauge
reimage_wave{plan="t"} 3
# HELP reimage_waves The number of waves the run planned.
# TYPE reimage_waves gauge
reimage_waves{plan="t"} 3
# HELP reimage_last_run_converged 1 if the last run converged (everything done), 0 if it failed, halted or was interrupted.
# TYPE reimage_last_run_converged gauge
reimage_last_run_converged{plan="t"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"reimage_instance_changes_total", "reimage_instances", "reimage_wave", "reimage_waves", "reimage_last_run_converged"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "reimage_instance_duration_seconds"); n != 1 {
		t.Errorf("%d duration series, want 1", n)
	}
	success := gaugeValue(t, reg, "reimage_last_success_timestamp_seconds")
	last := gaugeValue(t, reg, "reimage_last_run_timestamp_seconds")
	if success != last || success < float64(before.Unix()) {
		t.Errorf("last success %v, last run %v; want both the run's end, after %v", success, last, before.Unix())
	}
	lintAll(t, reg)
}

func TestRunMetricsFailedRunSetsNoSuccess(t *testing.T) {
	cloud := newFakeCloud(10, false)
	cloud.fail["i-000"] = true
	reg := prometheus.NewRegistry()
	sum, _ := runWithMetrics(t, cloud, testPlan(cloud, canaryWaves, plan.Size{}, 4), reg)
	if !sum.Halted {
		t.Fatalf("summary %+v, want halted", sum)
	}
	want := `
# HELP reimage_instance_changes_total Instance changes (re-images) finished by this run, by provider and result (done, failed).
# TYPE reimage_instance_changes_total counter
reimage_instance_changes_total{plan="t",provider="fake",result="done"} 0
reimage_instance_changes_total{plan="t",provider="fake",result="failed"} 1
# HELP reimage_instances Instances of the run by state: pending (not started), in_progress (in flight), done, failed, skipped (left alone: ok, protected or blocked).
# TYPE reimage_instances gauge
reimage_instances{plan="t",state="done"} 0
reimage_instances{plan="t",state="failed"} 1
reimage_instances{plan="t",state="in_progress"} 0
reimage_instances{plan="t",state="pending"} 9
reimage_instances{plan="t",state="skipped"} 0
# HELP reimage_last_run_converged 1 if the last run converged (everything done), 0 if it failed, halted or was interrupted.
# TYPE reimage_last_run_converged gauge
reimage_last_run_converged{plan="t"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"reimage_instance_changes_total", "reimage_instances", "reimage_last_run_converged"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "reimage_last_success_timestamp_seconds"); n != 0 {
		t.Errorf("a failed run exports a last success (%d series)", n)
	}
	if v := gaugeValue(t, reg, "reimage_last_run_timestamp_seconds"); v == 0 {
		t.Error("a failed run sets no last run timestamp")
	}
	lintAll(t, reg)
}

// TestRunMetricsBeforeEnd: mid-run, no outcome is exported, so a periodic push
// cannot overwrite the last success of an earlier run.
func TestRunMetricsBeforeEnd(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewRunMetrics(reg, "kec")
	if n := testutil.CollectAndCount(reg, "reimage_run_start_timestamp_seconds"); n != 0 {
		t.Error("the run's start exported before it started")
	}
	m.Observe(Event{Type: EventRunStart, Time: time.Unix(1699999000, 500e6), Waves: 2, Summary: &Summary{Total: 3, Skipped: 1}})
	if v := gaugeValue(t, reg, "reimage_run_start_timestamp_seconds"); v != 1699999000.5 {
		t.Errorf("run start %v, want the run_start event's time 1699999000.5", v)
	}
	m.Observe(Event{Type: EventWaveStart, Wave: 1, Waves: 2})
	in := &plan.Instance{ID: "i-1", Provider: "kec"}
	m.Observe(Event{Type: EventInstanceStart, Change: &plan.Change{Instance: in}})
	for _, name := range []string{"reimage_last_success_timestamp_seconds", "reimage_last_run_timestamp_seconds", "reimage_run_duration_seconds", "reimage_last_run_converged"} {
		if n := testutil.CollectAndCount(reg, name); n != 0 {
			t.Errorf("%s exported before the run ended", name)
		}
	}
	want := `
# HELP reimage_instances Instances of the run by state: pending (not started), in_progress (in flight), done, failed, skipped (left alone: ok, protected or blocked).
# TYPE reimage_instances gauge
reimage_instances{state="done"} 0
reimage_instances{state="failed"} 0
reimage_instances{state="in_progress"} 1
reimage_instances{state="pending"} 2
reimage_instances{state="skipped"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "reimage_instances"); err != nil {
		t.Error(err)
	}
	m.Aborted(time.Unix(1700000000, 0))
	if v := gaugeValue(t, reg, "reimage_last_run_converged"); v != 0 {
		t.Errorf("aborted run: converged %v", v)
	}
	if n := testutil.CollectAndCount(reg, "reimage_last_success_timestamp_seconds"); n != 0 {
		t.Error("an aborted run exports a last success")
	}
}

func gaugeValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("%s: not exported once", name)
	return 0
}

func lintAll(t *testing.T, g prometheus.Gatherer) {
	t.Helper()
	problems, err := testutil.GatherAndLint(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

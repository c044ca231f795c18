package executor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// runGated applies p on cloud with an optional clock and returns the summary
// and events.
func runGated(t *testing.T, cloud *fakeCloud, p *plan.Plan, now func() time.Time) (Summary, []Event) {
	t.Helper()
	var mu sync.Mutex
	var events []Event
	provs := map[string]providers.Provider{"fake": cloud}
	e := New(Options{Plan: p, Providers: provs, PollInterval: time.Millisecond, Now: now,
		Observer: ObserverFunc(func(ev Event) { mu.Lock(); events = append(events, ev); mu.Unlock() })})
	ctx := context.Background()
	obs, err := Lookup(ctx, p, provs, nil)
	if err != nil {
		t.Fatal(err)
	}
	changes := plan.Diff(p, obs, nil)
	sum, err := e.Apply(ctx, changes)
	if err != nil {
		t.Fatal(err)
	}
	return sum, events
}

func mustTemplates(t *testing.T, args ...string) []*plan.Template {
	t.Helper()
	var out []*plan.Template
	for _, a := range args {
		tm, err := plan.ParseTemplate(a)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tm)
	}
	return out
}

func withPrivateIPs(cloud *fakeCloud) {
	for _, in := range cloud.inst {
		in.PrivateIP = "127.0.0.1"
	}
}

func recapOf(events []Event) []RecapEntry {
	for _, ev := range events {
		if ev.Type == EventRecap {
			return ev.Recap
		}
	}
	return nil
}

// TestHealthUnhealthyFailAfterTimeoutHealthyAfterWarmup: an HTTP health check per
// instance; the unhealthy ones fail once the timeout has passed, the second
// failure exceeds maxFailures 1 and halts the rollout, and every healthy one
// counts as done only after its warmup.
func TestHealthUnhealthyFailAfterTimeoutHealthyAfterWarmup(t *testing.T) {
	unhealthy := map[string]bool{"i-001": true, "i-002": true}
	var mu sync.Mutex
	checks := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/healthz/")
		mu.Lock()
		checks[id]++
		mu.Unlock()
		if unhealthy[id] {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	cloud := newFakeCloud(8, false)
	withPrivateIPs(cloud)
	waves := []plan.Wave{{Size: plan.Size{Count: 1}}, {Size: plan.Size{Count: 2}}, {Size: plan.Size{Count: 5}}}
	p := testPlan(cloud, waves, plan.Size{Count: 1}, 2)
	const warmup, timeout = 150 * time.Millisecond, 200 * time.Millisecond
	url := mustTemplates(t, fmt.Sprintf("http://{{.PrivateIP}}:%d/healthz/{{.ID}}", port))[0]
	p.Rollout.Health = &plan.Health{Warmup: warmup, Timeout: timeout, Interval: 20 * time.Millisecond,
		HTTP: &plan.HTTPCheck{URL: url, Status: 200}}

	sum, events := runGated(t, cloud, p, nil)
	if !sum.Halted || sum.Done != 1 || sum.Failed != 2 || sum.Pending != 5 {
		t.Fatalf("summary %+v, want 1 done, 2 failed, halted with 5 not started", sum)
	}
	for _, ev := range events {
		switch ev.Type {
		case EventInstanceDone:
			if ev.Elapsed < warmup {
				t.Errorf("%s done after %s, before its warmup of %s", ev.Change.Instance.ID, ev.Elapsed, warmup)
			}
		case EventInstanceFail:
			id := ev.Change.Instance.ID
			if !unhealthy[id] {
				t.Errorf("%s failed: %v", id, ev.Err)
			}
			if ev.Elapsed < warmup+timeout {
				t.Errorf("%s failed after %s, before warmup+timeout %s", id, ev.Elapsed, warmup+timeout)
			}
			if !strings.Contains(ev.Err.Error(), "health: unhealthy after 200ms") || !strings.Contains(ev.Err.Error(), "answered 503, want 200") {
				t.Errorf("%s: reason %q does not say it was unhealthy and what the check got", id, ev.Err)
			}
			// Unhealthy but changed: left as it is, on the new image.
			if cloud.changes[id] != 1 || cloud.inst[id].Image != "new" {
				t.Errorf("%s: changes %d image %s, want changed once and left", id, cloud.changes[id], cloud.inst[id].Image)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if checks["i-001"] < 2 {
		t.Errorf("i-001 checked %d times, want repeated checks until the timeout", checks["i-001"])
	}
	for id := range cloud.inst {
		if id > "i-002" && cloud.changes[id] != 0 {
			t.Errorf("%s changed after the halt", id)
		}
	}
	var failedInRecap, notStarted int
	for _, r := range recapOf(events) {
		switch r.Outcome {
		case OutcomeFailed:
			failedInRecap++
			if !strings.Contains(r.Next, "not healthy") {
				t.Errorf("recap next step for %s: %q", r.ID, r.Next)
			}
		case OutcomeNotStarted:
			notStarted++
			if !strings.Contains(r.Reason, "maxFailures") {
				t.Errorf("recap reason for %s: %q", r.ID, r.Reason)
			}
		}
	}
	if failedInRecap != 2 || notStarted != 5 {
		t.Errorf("recap: %d failed, %d not started; want 2 and 5", failedInRecap, notStarted)
	}
}

// TestHooksRunInOrderWithVariables: before and after run per instance, around
// its change, with the templates expanded and the REIMAGE_* variables set; a
// failing before hook leaves its instance untouched and counts as a failure.
func TestHooksRunInOrderWithVariables(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "hooks.log")
	script := filepath.Join(dir, "hook.sh")
	// The hook logs its argument, its variables, and what the cloud shows of the
	// instance's image at that moment (through a marker file the test's cloud writes).
	if err := os.WriteFile(script, []byte(`#!/bin/sh
echo "$1 $2 id=$REIMAGE_INSTANCE_ID name=$REIMAGE_INSTANCE_NAME provider=$REIMAGE_PROVIDER ip=$REIMAGE_PRIVATE_IP image=$REIMAGE_IMAGE changed=$(cat "`+dir+`/changed-$REIMAGE_INSTANCE_ID" 2>/dev/null || echo no)" >> `+log+`
if [ "$1" = before ] && [ "$REIMAGE_INSTANCE_NAME" = web-2 ]; then echo "web-2 refuses to drain" >&2; exit 3; fi
`), 0o755); err != nil {
		t.Fatal(err)
	}
	cloud := newFakeCloud(3, false)
	withPrivateIPs(cloud)
	p := testPlan(cloud, []plan.Wave{{Size: plan.Size{Count: 3}}}, plan.Size{Count: 1}, 1)
	for i, in := range p.Instances {
		in.Name = fmt.Sprintf("web-%d", i+1)
	}
	p.Rollout.Hooks = plan.Hooks{
		Before: &plan.Hook{Command: mustTemplates(t, script, "before", "{{.Name}}@{{.PrivateIP}}"), Timeout: 5 * time.Second},
		After:  &plan.Hook{Command: mustTemplates(t, script, "after", "{{.Name}}@{{.PrivateIP}}"), Timeout: 5 * time.Second},
	}
	marking := &markingCloud{fakeCloud: cloud, dir: dir}
	var mu sync.Mutex
	var events []Event
	provs := map[string]providers.Provider{"fake": marking}
	e := New(Options{Plan: p, Providers: provs, PollInterval: time.Millisecond,
		Observer: ObserverFunc(func(ev Event) { mu.Lock(); events = append(events, ev); mu.Unlock() })})
	obs, err := Lookup(context.Background(), p, provs, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := e.Apply(context.Background(), plan.Diff(p, obs, nil))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 2 || sum.Failed != 1 {
		t.Fatalf("summary %+v, want 2 done and 1 failed", sum)
	}
	got, _ := os.ReadFile(log)
	want := `before web-1@127.0.0.1 id=i-000 name=web-1 provider=fake ip=127.0.0.1 image=new changed=no
after web-1@127.0.0.1 id=i-000 name=web-1 provider=fake ip=127.0.0.1 image=new changed=yes
before web-2@127.0.0.1 id=i-001 name=web-2 provider=fake ip=127.0.0.1 image=new changed=no
before web-3@127.0.0.1 id=i-002 name=web-3 provider=fake ip=127.0.0.1 image=new changed=no
after web-3@127.0.0.1 id=i-002 name=web-3 provider=fake ip=127.0.0.1 image=new changed=yes
`
	if string(got) != want {
		t.Errorf("hook log:\n%s\nwant:\n%s", got, want)
	}
	if cloud.changes["i-001"] != 0 || cloud.inst["i-001"].Image != "old" || cloud.inst["i-001"].State != providers.StateStopped {
		t.Errorf("i-001 after its before hook failed: %+v, %d changes; want untouched", cloud.inst["i-001"], cloud.changes["i-001"])
	}
	for _, ev := range events {
		if ev.Type == EventInstanceFail && !strings.Contains(ev.Err.Error(), "web-2 refuses to drain") {
			t.Errorf("failure %q does not quote the hook's output", ev.Err)
		}
	}
	rc := recapOf(events)
	if len(rc) != 1 || rc[0].ID != "i-001" || !strings.Contains(rc[0].Next, "not touched") {
		t.Errorf("recap %+v, want i-001 failed, not touched", rc)
	}
}

// markingCloud writes a file when an instance's change is submitted, so that a
// hook can tell whether it runs before or after.
type markingCloud struct {
	*fakeCloud
	dir string
}

func (m *markingCloud) Change(ctx context.Context, req providers.ChangeRequest) (providers.Submission, error) {
	sub, err := m.fakeCloud.Change(ctx, req)
	if err == nil {
		os.WriteFile(filepath.Join(m.dir, "changed-"+req.InstanceID), []byte("yes"), 0o644)
	}
	return sub, err
}

// stepClock is a clock that moves forward by step every time a change is submitted.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type clockedCloud struct {
	*fakeCloud
	clock *stepClock
	step  time.Duration
}

func (c *clockedCloud) Change(ctx context.Context, req providers.ChangeRequest) (providers.Submission, error) {
	c.clock.advance(c.step)
	return c.fakeCloud.Change(ctx, req)
}

// TestWindowClosesMidRun: each change takes an hour by the injected clock; a
// window of 01:00-04:00 lets three start, no new instance starts after end, and
// the rest are left not started with the reason.
func TestWindowClosesMidRun(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skip("no tz database:", err)
	}
	clock := &stepClock{now: time.Date(2026, 11, 30, 1, 0, 0, 0, sh)}
	cloud := newFakeCloud(6, false)
	p := testPlan(cloud, []plan.Wave{{Size: plan.Size{Count: 1}}, {Size: plan.Size{Percent: 100, IsPercent: true}}}, plan.Size{}, 1)
	p.Rollout.Window = &plan.Window{Start: plan.ClockTime{Hour: 1}, End: plan.ClockTime{Hour: 4}, Location: sh, TimeZone: "Asia/Shanghai"}
	cc := &clockedCloud{fakeCloud: cloud, clock: clock, step: time.Hour}
	provs := map[string]providers.Provider{"fake": cc}
	var events []Event
	var mu sync.Mutex
	e := New(Options{Plan: p, Providers: provs, PollInterval: time.Millisecond, Now: clock.Now,
		Observer: ObserverFunc(func(ev Event) { mu.Lock(); events = append(events, ev); mu.Unlock() })})
	obs, _ := Lookup(context.Background(), p, provs, nil)
	sum, err := e.Apply(context.Background(), plan.Diff(p, obs, nil))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 3 || sum.Pending != 3 || !sum.WindowClosed || sum.OutsideWindow || sum.Converged() {
		t.Fatalf("summary %+v, want 3 done, 3 left, window closed", sum)
	}
	for _, ev := range events {
		if ev.Type == EventInstanceStart {
			if open, _ := p.Rollout.Window.Open(ev.Time); !open {
				t.Errorf("%s started at %s, outside the window", ev.Change.Instance.ID, ev.Time)
			}
		}
		if ev.Type == EventWindow && !strings.Contains(ev.Err.Error(), "closed at 04:00 CST") {
			t.Errorf("window event: %v", ev.Err)
		}
	}
	rc := recapOf(events)
	if len(rc) != 3 || rc[0].Outcome != OutcomeNotStarted || !strings.Contains(rc[0].Next, "next Tue 2026-12-01 01:00 CST") {
		t.Errorf("recap %+v", rc)
	}
}

// TestWindowBegunOutsideChangesNothing: a run that begins outside its window
// starts nothing and says so; its summary is neither converged nor a failure.
func TestWindowBegunOutsideChangesNothing(t *testing.T) {
	clock := &stepClock{now: time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)} // a Monday
	cloud := newFakeCloud(3, true)
	p := testPlan(cloud, canaryWaves, plan.Size{}, 2)
	p.Rollout.Window = &plan.Window{Days: []time.Weekday{time.Saturday, time.Sunday}, Start: plan.ClockTime{Hour: 1}, End: plan.ClockTime{Hour: 5}, Location: time.UTC, TimeZone: "UTC"}
	sum, events := runGated(t, cloud, p, clock.Now)
	if !sum.OutsideWindow || !sum.OnlyOutsideWindow() || sum.Done != 0 || sum.Pending != 3 || sum.Converged() {
		t.Fatalf("summary %+v, want outside the window, nothing done", sum)
	}
	for id, n := range cloud.changes {
		t.Errorf("%s changed %d times outside the window", id, n)
	}
	for _, in := range cloud.inst {
		if in.State != providers.StateRunning {
			t.Errorf("%s was stopped outside the window", in.ID)
		}
	}
	var said bool
	for _, ev := range events {
		switch ev.Type {
		case EventWindow:
			said = strings.Contains(ev.Err.Error(), "outside the maintenance window (sat,sun 01:00-05:00 UTC)") &&
				strings.Contains(ev.Err.Error(), "next opens Sat 2026-12-05 01:00 UTC")
			if !said {
				t.Errorf("window event: %v", ev.Err)
			}
		case EventWaveStart, EventInstanceStart:
			t.Errorf("%s outside the window", ev.Type)
		}
	}
	if !said {
		t.Error("no window event")
	}
}

// TestGatesHaltBeforeNextWave: a gate is asked before every wave after the
// first; while its query returns samples (an alert firing) the next wave does
// not start, and the halt names the query and what it returned. Quiet, the run
// goes on.
func TestGatesHaltBeforeNextWave(t *testing.T) {
	var mu sync.Mutex
	firing := false
	var queries []string
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		r.ParseForm()
		mu.Lock()
		defer mu.Unlock()
		queries = append(queries, r.Form.Get("query"))
		result := `[]`
		if firing {
			result = `[{"metric":{"__name__":"ALERTS","alertname":"HighErrors","alertstate":"firing"},"value":[1700000000,"1"]}]`
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":%s}}`, result)
	}))
	defer prom.Close()
	const query = `ALERTS{alertstate="firing"}`
	gates := []plan.Gate{{Prometheus: &plan.PrometheusGate{URL: prom.URL, Query: query, Expect: plan.Expectation{Empty: true}}}}
	threeWaves := []plan.Wave{{Size: plan.Size{Count: 1}}, {Size: plan.Size{Count: 1}}, {Size: plan.Size{Count: 2}}}

	cloud := newFakeCloud(4, false)
	p := testPlan(cloud, threeWaves, plan.Size{}, 2)
	p.Rollout.Gates = gates
	sum, _ := runGated(t, cloud, p, nil)
	if !sum.Converged() || sum.Done != 4 {
		t.Fatalf("quiet gate: summary %+v, want converged", sum)
	}
	mu.Lock()
	if len(queries) != 2 || queries[0] != query {
		t.Errorf("queries %q, want the gate asked before waves 2 and 3", queries)
	}
	firing, queries = true, nil
	mu.Unlock()

	cloud = newFakeCloud(4, false)
	p = testPlan(cloud, threeWaves, plan.Size{}, 2)
	p.Rollout.Gates = gates
	sum, events := runGated(t, cloud, p, nil)
	if !sum.Halted || !sum.GateFailed || sum.Done != 1 || sum.Pending != 3 {
		t.Fatalf("firing gate: summary %+v, want halted after wave 1", sum)
	}
	var halt string
	for _, ev := range events {
		if ev.Type == EventHalt {
			halt = ev.Err.Error()
		}
		if ev.Type == EventWaveStart && ev.Wave > 1 {
			t.Errorf("wave %d started with the gate firing", ev.Wave)
		}
	}
	want := `gate "ALERTS{alertstate=\"firing\"}" at ` + prom.URL + ` expects empty, got 1 sample: ALERTS{alertname="HighErrors",alertstate="firing"} 1: wave 2 does not start`
	if halt != want {
		t.Errorf("halt:\n%s\nwant:\n%s", halt, want)
	}
}

// TestGatesAskedBeforeARerunsFirstWave: once an instance runs the target (an
// earlier run's wave), a rerun asks the gates before its first wave too: a
// gate still firing halts it with nothing changed, instead of letting each
// rerun change one more instance.
func TestGatesAskedBeforeARerunsFirstWave(t *testing.T) {
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"ALERTS","alertname":"HighErrors"},"value":[1700000000,"1"]}]}}`)
	}))
	defer prom.Close()
	gates := []plan.Gate{{Prometheus: &plan.PrometheusGate{URL: prom.URL, Query: "ALERTS", Expect: plan.Expectation{Empty: true}}}}
	twoWaves := []plan.Wave{{Size: plan.Size{Count: 1}}, {Size: plan.Size{Percent: 100}}}

	// The first run: wave 1 (the canary) goes, the firing gate halts before wave 2.
	cloud := newFakeCloud(4, false)
	p := testPlan(cloud, twoWaves, plan.Size{}, 2)
	p.Rollout.Gates = gates
	sum, _ := runGated(t, cloud, p, nil)
	if !sum.GateFailed || sum.Done != 1 {
		t.Fatalf("first run: summary %+v, want the canary done, then halted by the gate", sum)
	}
	// The rerun, the gate still firing: nothing more changes.
	sum, events := runGated(t, cloud, p, nil)
	if !sum.GateFailed || !sum.Halted || sum.Done != 0 || sum.Pending != 3 {
		t.Errorf("rerun: summary %+v, want halted before its first wave, 3 left", sum)
	}
	for _, ev := range events {
		if ev.Type == EventWaveStart {
			t.Errorf("rerun: wave %d started with the gate firing", ev.Wave)
		}
		if ev.Type == EventHalt && !strings.Contains(ev.Err.Error(), "wave 1 does not start") {
			t.Errorf("rerun: halt %q", ev.Err)
		}
	}
	changed := 0
	for _, n := range cloud.changes {
		changed += n
	}
	if changed != 1 {
		t.Errorf("%d changes in all, want only the canary's", changed)
	}
}

// TestWindowStartsOnlyWhatFits: inside the window, an instance that would still
// run at its end, by the fastest instance of the run so far, is not started:
// with 01:00-04:30 and an hour per instance, the fourth (due at 04:00) waits
// for the next window.
func TestWindowStartsOnlyWhatFits(t *testing.T) {
	clock := &stepClock{now: time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)}
	cloud := newFakeCloud(6, false)
	p := testPlan(cloud, []plan.Wave{{Size: plan.Size{Count: 1}}, {Size: plan.Size{Percent: 100, IsPercent: true}}}, plan.Size{}, 1)
	p.Rollout.Window = &plan.Window{Start: plan.ClockTime{Hour: 1}, End: plan.ClockTime{Hour: 4, Minute: 30}, Location: time.UTC, TimeZone: "UTC"}
	cc := &clockedCloud{fakeCloud: cloud, clock: clock, step: time.Hour}
	provs := map[string]providers.Provider{"fake": cc}
	var events []Event
	var mu sync.Mutex
	e := New(Options{Plan: p, Providers: provs, PollInterval: time.Millisecond, Now: clock.Now,
		Observer: ObserverFunc(func(ev Event) { mu.Lock(); events = append(events, ev); mu.Unlock() })})
	obs, _ := Lookup(context.Background(), p, provs, nil)
	sum, err := e.Apply(context.Background(), plan.Diff(p, obs, nil))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 3 || sum.Pending != 3 || !sum.WindowClosed {
		t.Fatalf("summary %+v, want 3 done and 3 left for the next window", sum)
	}
	var said bool
	for _, ev := range events {
		if ev.Type == EventWindow {
			said = strings.Contains(ev.Err.Error(), "closes at 04:30 UTC: an instance starting now would not finish before (the fastest so far took 1h0m0s)")
			if !said {
				t.Errorf("window event: %v", ev.Err)
			}
		}
	}
	if !said {
		t.Error("no window event")
	}
	if rc := recapOf(events); len(rc) != 3 || rc[0].Reason != "it would not have finished before the maintenance window closed" {
		t.Errorf("recap %+v", rc)
	}
}

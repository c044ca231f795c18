package forecast

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/plan"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func TestStoreRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Load(path)
	if err != nil || len(s.Regions) != 0 {
		t.Fatalf("missing file: %v, %v; want an empty store and no error", s.Regions, err)
	}
	// Nine runs are kept; the estimate is their median, so one odd run
	// moves it little.
	for _, v := range []time.Duration{100 * s0, 300 * s0, 290 * s0, 310 * s0, 305 * s0, 295 * s0, 900 * s0, 300 * s0, 302 * s0, 298 * s0} {
		s.Add(Key("ksyun", "cn-beijing-6"), Change, v, 10, t0)
	}
	if err := s.Write(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	h := got.Regions["ksyun/cn-beijing-6"][Change]
	if len(h.Runs) != keepRuns || h.Runs[0] != 300 || h.Samples != 100 {
		t.Errorf("history = %+v; want the last 9 runs (the first, 100 s, dropped), 100 samples", h)
	}
	e := got.Estimates("ksyun/cn-beijing-6")[Change]
	if e.D != 300*s0 || e.Runs != keepRuns || !e.Observed() {
		t.Errorf("estimate = %+v, want the median 300s of 9 runs", e)
	}
	if len(got.Estimates("huaweicloud/cn-north-4")) != 0 {
		t.Error("a region never observed has estimates")
	}
	// The write left nothing beside the file.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("state directory holds %d files, want the one", len(entries))
	}
}

const s0 = time.Second

func TestStoreBadFile(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"torn write", `{"version": 1, "regions": {"ksyun/cn-beijing-6": {"change": {"runs_seconds": [30`, "unexpected end of JSON input"},
		{"not JSON", "\x00\x01garbage", "invalid character"},
		{"another version", `{"version": 2, "regions": {}}`, "version 2, want 1"},
		{"a negative duration", `{"version": 1, "regions": {"ksyun/r": {"stop": {"runs_seconds": [-3]}}}}`, "-3 seconds is not a duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("err = %v, want one naming %s and %q", err, path, tc.want)
			}
			if s == nil || len(s.Regions) != 0 {
				t.Errorf("store = %+v, want an empty one to go on with", s)
			}
			// And the next run's figures replace it.
			s.Add("ksyun/r", Stop, 20*s0, 1, t0)
			if err := s.Write(path); err != nil {
				t.Fatal(err)
			}
			if again, err := Load(path); err != nil || again.Estimates("ksyun/r")[Stop].D != 20*s0 {
				t.Errorf("after a rewrite: %v, %v", again, err)
			}
		})
	}
}

// ev builds an instance event at t0+at seconds.
func ev(typ executor.EventType, c *plan.Change, step string, at float64) executor.Event {
	return executor.Event{Type: typ, Change: c, Step: step, Time: t0.Add(time.Duration(at * float64(time.Second)))}
}

func TestRecorder(t *testing.T) {
	r := NewRecorder(map[string]string{"kec": Key("ksyun", "cn-beijing-6"), "ecs": Key("huaweicloud", "cn-north-4")})
	k1 := &plan.Change{Instance: &plan.Instance{Provider: "kec", ID: "k1"}, StopFirst: true}
	k2 := &plan.Change{Instance: &plan.Instance{Provider: "kec", ID: "k2"}, StopFirst: true}
	e1 := &plan.Change{Instance: &plan.Instance{Provider: "ecs", ID: "e1"}, StopFirst: true}
	e2 := &plan.Change{Instance: &plan.Instance{Provider: "ecs", ID: "e2"}}
	bad := &plan.Change{Instance: &plan.Instance{Provider: "kec", ID: "k3"}}
	for _, e := range []executor.Event{
		// k1: a stop step, so its change is of a stopped instance.
		ev(executor.EventInstanceStart, k1, "", 0),
		ev(executor.EventInstanceStep, k1, executor.StepStop, 1),
		ev(executor.EventInstanceStep, k1, executor.StepWaitStop, 1.5),
		ev(executor.EventInstanceStep, k1, executor.StepSubmit, 31.5),
		ev(executor.EventInstanceStep, k1, executor.StepWaitDone, 32),
		ev(executor.EventInstanceDone, k1, "", 332),
		ev(executor.EventInstanceStart, k2, "", 0),
		ev(executor.EventInstanceStep, k2, executor.StepStop, 1),
		ev(executor.EventInstanceStep, k2, executor.StepWaitStop, 1.5),
		ev(executor.EventInstanceStep, k2, executor.StepSubmit, 41.5),
		ev(executor.EventInstanceStep, k2, executor.StepWaitDone, 44.5),
		ev(executor.EventInstanceStep, k2, executor.StepBeforeHook, 50), // not a real order; hooks add up
		ev(executor.EventInstanceStep, k2, executor.StepWarmup, 52),
		ev(executor.EventInstanceStep, k2, executor.StepHealth, 62),
		ev(executor.EventInstanceStep, k2, executor.StepAfterHook, 66),
		ev(executor.EventInstanceDone, k2, "", 67),
		// e1 ran and had no stop step: its change stopped it itself.
		ev(executor.EventInstanceStart, e1, "", 0),
		ev(executor.EventInstanceStep, e1, executor.StepSubmit, 1),
		ev(executor.EventInstanceStep, e1, executor.StepWaitDone, 1.2),
		ev(executor.EventInstanceDone, e1, "", 401.2),
		ev(executor.EventInstanceStart, e2, "", 0),
		ev(executor.EventInstanceStep, e2, executor.StepSubmit, 1),
		ev(executor.EventInstanceStep, e2, executor.StepWaitDone, 1.2),
		ev(executor.EventInstanceDone, e2, "", 201.2),
		// A failed instance's steps say nothing.
		ev(executor.EventInstanceStart, bad, "", 0),
		ev(executor.EventInstanceStep, bad, executor.StepSubmit, 1),
		ev(executor.EventInstanceStep, bad, executor.StepWaitDone, 2),
		ev(executor.EventInstanceFail, bad, "", 1000),
	} {
		r.Observe(e)
	}
	round := func(d Durations) map[Step]time.Duration {
		out := map[Step]time.Duration{}
		for k, v := range d {
			if !v.Current {
				t.Errorf("%s not marked as this run's", k)
			}
			out[k] = v.D.Round(time.Millisecond)
		}
		return out
	}
	kec := round(r.Current("ksyun/cn-beijing-6"))
	// Stop: 30 s and 40 s, median 35; change: 300 and 5.5 s (the wait until the
	// next step), median 152.75; the call: 0.5 and 3 s, 10th percentile 0.75 s.
	want := map[Step]time.Duration{Stop: 35 * s0, Change: 152750 * time.Millisecond, Call: 750 * time.Millisecond, Health: 4 * s0, Hooks: 3 * s0}
	for k, v := range want {
		if kec[k] != v {
			t.Errorf("kec %s = %v, want %v", k, kec[k], v)
		}
	}
	if len(kec) != len(want) {
		t.Errorf("kec steps = %v, want %v", kec, want)
	}
	ecs := round(r.Current("huaweicloud/cn-north-4"))
	if ecs[ChangeRunning] != 400*s0 || ecs[Change] != 200*s0 {
		t.Errorf("ecs = %v, want change_running 400s (e1), change 200s (e2)", ecs)
	}
	s := &Store{}
	r.AddTo(s, t0)
	if got := s.Estimates("huaweicloud/cn-north-4")[ChangeRunning]; got.D != 400*s0 || got.Runs != 1 {
		t.Errorf("stored %+v", got)
	}
	m := Merge(Durations{Stop: {D: time.Minute}, Start: {D: time.Minute}}, s.Estimates("ksyun/cn-beijing-6"), Durations{Stop: {D: 33 * s0, Current: true}})
	if m[Stop].D != 33*s0 || m[Start].D != time.Minute || m[Start].Observed() || m[Change].Runs != 1 {
		t.Errorf("merged = %+v", m)
	}
}

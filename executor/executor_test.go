package executor

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// fakeCloud is an in-memory provider whose operations complete at once, for
// testing the engine's decisions; the simulator tests the real code path.
type fakeCloud struct {
	mu        sync.Mutex
	caps      providers.Capabilities
	inst      map[string]*providers.Instance
	changes   map[string]int
	fail      map[string]bool // Change fails in the cloud (job FAIL)
	lostReply map[string]int  // Change takes effect but the answer is lost this many times
	dropped   map[string]int  // Change is lost before the cloud (in doubt, no effect) this many times
	inFlight  int
	maxFlight int
}

func newFakeCloud(n int, running bool) *fakeCloud {
	f := &fakeCloud{inst: map[string]*providers.Instance{}, changes: map[string]int{},
		fail: map[string]bool{}, lostReply: map[string]int{}, dropped: map[string]int{}}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("i-%03d", i)
		st := providers.StateStopped
		if running {
			st = providers.StateRunning
		}
		f.inst[id] = &providers.Instance{ID: id, Image: "old", State: st}
	}
	return f
}

func (f *fakeCloud) Type() string                         { return "fake" }
func (f *fakeCloud) Capabilities() providers.Capabilities { return f.caps }
func (f *fakeCloud) Lookup(ctx context.Context, ids []string) (map[string]providers.Instance, error) {
	out := map[string]providers.Instance{}
	for _, id := range ids {
		st, _ := f.Status(ctx, id)
		out[id] = st
	}
	return out, nil
}
func (f *fakeCloud) Status(_ context.Context, id string) (providers.Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in := f.inst[id]; in != nil {
		return *in, nil
	}
	return providers.Instance{ID: id, State: providers.StateNotFound}, nil
}
func (f *fakeCloud) set(id string, fn func(*providers.Instance)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.inst[id]
	if in == nil {
		return errors.New("not found")
	}
	fn(in)
	return nil
}
func (f *fakeCloud) Stop(_ context.Context, id string) error {
	return f.set(id, func(in *providers.Instance) { in.State = providers.StateStopped })
}
func (f *fakeCloud) Start(_ context.Context, id string) error {
	return f.set(id, func(in *providers.Instance) { in.State = providers.StateRunning })
}
func (f *fakeCloud) Change(_ context.Context, req providers.ChangeRequest) (providers.Submission, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.inst[req.InstanceID]
	f.inFlight++
	f.maxFlight = max(f.maxFlight, f.inFlight)
	if f.dropped[req.InstanceID] > 0 {
		f.dropped[req.InstanceID]--
		return providers.Submission{}, &providers.InDoubtError{Cause: errors.New("503")}
	}
	if in.State == providers.StateRunning && !f.caps.ChangeStopsRunning {
		return providers.Submission{}, errors.New("instance must be stopped")
	}
	sub := providers.Submission{InstanceID: req.InstanceID, ImageID: req.ImageID, JobID: "job-" + req.InstanceID}
	if f.fail[req.InstanceID] {
		in.State = providers.StateError
	} else {
		in.Image = req.ImageID
		f.changes[req.InstanceID]++
	}
	if f.lostReply[req.InstanceID] > 0 {
		f.lostReply[req.InstanceID]--
		return providers.Submission{}, &providers.InDoubtError{Cause: errors.New("timeout")}
	}
	return sub, nil
}
func (f *fakeCloud) Progress(_ context.Context, sub providers.Submission) (providers.Progress, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inFlight--
	in := *f.inst[sub.InstanceID]
	if in.State == providers.StateError {
		return providers.Progress{Phase: providers.PhaseFailed, Reason: "rebuild failed: disk error", Instance: in}, nil
	}
	return providers.Progress{Phase: providers.PhaseDone, Instance: in}, nil
}

func testPlan(cloud *fakeCloud, waves []plan.Wave, maxFailures plan.Size, conc int) *plan.Plan {
	p := &plan.Plan{Name: "t", Rollout: plan.Rollout{Concurrency: conc, Waves: waves, MaxFailures: maxFailures, InstanceTimeout: time.Minute}}
	for i := 0; i < len(cloud.inst); i++ {
		p.Instances = append(p.Instances, &plan.Instance{ID: fmt.Sprintf("i-%03d", i), Provider: "fake", Image: "new", Running: plan.RunningStop})
	}
	return p
}

func runPlan(t *testing.T, cloud *fakeCloud, p *plan.Plan, j *Journal) (Summary, []Event) {
	t.Helper()
	var mu sync.Mutex
	var events []Event
	e := New(Options{Plan: p, Providers: map[string]providers.Provider{"fake": cloud}, Journal: j, PollInterval: time.Millisecond, Settle: 10 * time.Millisecond,
		Observer: ObserverFunc(func(ev Event) { mu.Lock(); events = append(events, ev); mu.Unlock() })})
	ctx := context.Background()
	if err := e.Resolve(ctx); err != nil {
		t.Fatal(err)
	}
	obs, err := Lookup(ctx, p, map[string]providers.Provider{"fake": cloud}, nil)
	if err != nil {
		t.Fatal(err)
	}
	changes := plan.Diff(p, obs, nil)
	if err := e.ResolveSecrets(changes); err != nil {
		t.Fatal(err)
	}
	sum, err := e.Apply(ctx, changes)
	if err != nil {
		t.Fatal(err)
	}
	return sum, events
}

var canaryWaves = []plan.Wave{{Size: plan.Size{Count: 1}}, {Size: plan.Size{Percent: 50, IsPercent: true}}}

func TestApplyConverges(t *testing.T) {
	cloud := newFakeCloud(20, true)
	sum, events := runPlan(t, cloud, testPlan(cloud, canaryWaves, plan.Size{}, 4), nil)
	if !sum.Converged() || sum.Done != 20 {
		t.Fatalf("summary %+v, want 20 done", sum)
	}
	for id, in := range cloud.inst {
		if in.Image != "new" || in.State != providers.StateRunning || cloud.changes[id] != 1 {
			t.Errorf("%s: %+v changes %d", id, in, cloud.changes[id])
		}
	}
	var waves []int
	for _, ev := range events {
		if ev.Type == EventWaveStart {
			waves = append(waves, ev.WaveSize)
		}
	}
	if fmt.Sprint(waves) != "[1 10 9]" {
		t.Errorf("wave sizes %v, want [1 10 9]", waves)
	}
	// A second run has nothing to do.
	sum, _ = runPlan(t, cloud, testPlan(cloud, canaryWaves, plan.Size{}, 4), nil)
	if sum.Total != 0 || sum.Skipped != 20 {
		t.Errorf("second run %+v, want nothing to do", sum)
	}
}

func TestApplyCanaryFailureHalts(t *testing.T) {
	cloud := newFakeCloud(10, false)
	cloud.fail["i-000"] = true
	sum, events := runPlan(t, cloud, testPlan(cloud, canaryWaves, plan.Size{}, 4), nil)
	if sum.Converged() || !sum.Halted || sum.Failed != 1 || sum.Pending != 9 {
		t.Fatalf("summary %+v, want halted after the canary", sum)
	}
	for id, n := range cloud.changes {
		t.Errorf("%s changed %d times after a failed canary", id, n)
	}
	var reason string
	for _, ev := range events {
		if ev.Type == EventInstanceFail {
			reason = ev.Err.Error()
		}
	}
	if reason == "" || !strings.Contains(reason, "disk error") {
		t.Errorf("failure reason %q does not carry the cloud's", reason)
	}
}

func TestApplyBudget(t *testing.T) {
	cloud := newFakeCloud(10, false)
	cloud.fail["i-003"] = true
	// One failure is within maxFailures: 1, the run goes on.
	sum, _ := runPlan(t, cloud, testPlan(cloud, canaryWaves, plan.Size{Count: 1}, 2), nil)
	if sum.Halted || sum.Failed != 1 || sum.Done != 9 {
		t.Fatalf("summary %+v, want 9 done 1 failed, not halted", sum)
	}
}

func TestApplyConcurrencyBound(t *testing.T) {
	cloud := newFakeCloud(30, false)
	runPlan(t, cloud, testPlan(cloud, []plan.Wave{{Size: plan.Size{Percent: 100, IsPercent: true}}}, plan.Size{}, 3), nil)
	if cloud.maxFlight > 3 {
		t.Errorf("%d changes in flight, concurrency is 3", cloud.maxFlight)
	}
}

func TestApplyInDoubt(t *testing.T) {
	cloud := newFakeCloud(3, false)
	cloud.lostReply["i-000"] = 1 // took effect, answer lost: must not resubmit
	cloud.dropped["i-001"] = 2   // never reached the cloud: resubmitted
	j, err := OpenJournal(filepath.Join(t.TempDir(), "j"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	sum, _ := runPlan(t, cloud, testPlan(cloud, []plan.Wave{{Size: plan.Size{Count: 3}}}, plan.Size{}, 3), j)
	if !sum.Converged() {
		t.Fatalf("summary %+v", sum)
	}
	for id, n := range cloud.changes {
		if n != 1 {
			t.Errorf("%s changed %d times", id, n)
		}
	}
}

// TestResolveAfterCrash: an intent without outcome is resolved by asking the
// cloud, not by submitting again.
func TestResolveAfterCrash(t *testing.T) {
	cloud := newFakeCloud(2, false)
	dir := t.TempDir()
	j, _ := OpenJournal(filepath.Join(dir, "j"), nil)
	// i-000: submitted and done in the cloud, crash before the outcome.
	cloud.inst["i-000"].Image = "new"
	cloud.changes["i-000"] = 1
	j.Append(Record{Event: EventIntent, Provider: "fake", ID: "i-000", Image: "new", Action: "change", WasRunning: true})
	j.Append(Record{Event: EventSubmitted, Provider: "fake", ID: "i-000", JobID: "job-i-000"})
	// i-001: stopped by the earlier run, crash before submission.
	j.Append(Record{Event: EventIntent, Provider: "fake", ID: "i-001", Image: "new", Action: "change", WasRunning: true, Reason: "stop"})
	j.Close()
	j, _ = OpenJournal(filepath.Join(dir, "j"), nil)
	defer j.Close()
	cloud.mu.Lock()
	cloud.inFlight = 1
	cloud.mu.Unlock()
	sum, _ := runPlan(t, cloud, testPlan(cloud, []plan.Wave{{Size: plan.Size{Count: 2}}}, plan.Size{}, 2), j)
	if !sum.Converged() || sum.Resolved != 1 || sum.Done != 1 {
		t.Fatalf("summary %+v, want 1 resolved, 1 done", sum)
	}
	for id, in := range cloud.inst {
		if cloud.changes[id] != 1 || in.State != providers.StateRunning {
			t.Errorf("%s: changes %d state %v, want 1 change and running again", id, cloud.changes[id], in.State)
		}
	}
	if len(j.Pending()) != 0 {
		t.Errorf("still pending: %+v", j.Pending())
	}
}

// startFails is a cloud whose starts fail, until told otherwise.
type startFails struct {
	*fakeCloud
	mu   sync.Mutex
	fail bool
}

func (s *startFails) Start(ctx context.Context, id string) error {
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if fail {
		return errors.New("InstanceStateNotSupported")
	}
	return s.fakeCloud.Start(ctx, id)
}

// TestStartFailureResumes: an instance changed but not started again is
// started by the next run, not left stopped as "ok".
func TestStartFailureResumes(t *testing.T) {
	cloud := &startFails{fakeCloud: newFakeCloud(1, true), fail: true}
	dir := t.TempDir()
	p := testPlan(cloud.fakeCloud, []plan.Wave{{Size: plan.Size{Count: 1}}}, plan.Size{}, 1)
	run := func() Summary {
		j, err := OpenJournal(filepath.Join(dir, "j"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		provs := map[string]providers.Provider{"fake": cloud}
		e := New(Options{Plan: p, Providers: provs, Journal: j, PollInterval: time.Millisecond})
		ctx := context.Background()
		if err := e.Resolve(ctx); err != nil {
			t.Fatal(err)
		}
		obs, err := Lookup(ctx, p, provs, nil)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := e.Apply(ctx, plan.Diff(p, obs, j.DoneToken))
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	if sum := run(); sum.Failed != 1 {
		t.Fatalf("first run %+v, want the start to fail", sum)
	}
	if st, _ := cloud.Status(context.Background(), "i-000"); st.State != providers.StateStopped || st.Image != "new" {
		t.Fatalf("after the first run: %+v", st)
	}
	cloud.mu.Lock()
	cloud.fail = false
	cloud.mu.Unlock()
	if sum := run(); sum.Resolved != 1 || !sum.Converged() {
		t.Fatalf("second run %+v, want the instance resolved", sum)
	}
	if st, _ := cloud.Status(context.Background(), "i-000"); st.State != providers.StateRunning || cloud.changes["i-000"] != 1 {
		t.Fatalf("after the second run: %+v, %d changes; want running, changed once", st, cloud.changes["i-000"])
	}
}

package operation

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// cloud is an in-memory provider that records every call, in order, with the
// steps of the operation (see recorder) in the same log.
type cloud struct {
	log  *recorder
	mu   sync.Mutex
	inst map[string]*providers.Instance
}

func newCloud(log *recorder, n int) *cloud {
	c := &cloud{log: log, inst: map[string]*providers.Instance{}}
	for i := range n {
		id := fmt.Sprintf("i-%d", i)
		c.inst[id] = &providers.Instance{ID: id, Name: fmt.Sprintf("web-%d", i), Image: "old", State: providers.StateRunning, RawState: "running"}
	}
	return c
}

func (c *cloud) Type() string                         { return "fake" }
func (c *cloud) Capabilities() providers.Capabilities { return providers.Capabilities{} }

func (c *cloud) Lookup(_ context.Context, ids []string) (map[string]providers.Instance, error) {
	c.log.add("lookup")
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]providers.Instance{}
	for _, id := range ids {
		if in, ok := c.inst[id]; ok {
			out[id] = *in
		}
	}
	return out, nil
}

func (c *cloud) Status(_ context.Context, id string) (providers.Instance, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return *c.inst[id], nil
}

func (c *cloud) set(id string, state providers.State, raw string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inst[id].State, c.inst[id].RawState = state, raw
}

func (c *cloud) Stop(_ context.Context, id string) error {
	c.log.add("stop " + id)
	c.set(id, providers.StateStopped, "stopped")
	return nil
}

func (c *cloud) Start(_ context.Context, id string) error {
	c.log.add("start " + id)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inst[id].State, c.inst[id].RawState = providers.StateRunning, "running"
	return nil
}

func (c *cloud) Change(_ context.Context, req providers.ChangeRequest) (providers.Submission, error) {
	c.log.add("change " + req.InstanceID)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inst[req.InstanceID].Image = req.ImageID
	return providers.Submission{InstanceID: req.InstanceID, ImageID: req.ImageID}, nil
}

func (c *cloud) Progress(_ context.Context, sub providers.Submission) (providers.Progress, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return providers.Progress{Phase: providers.PhaseDone, Instance: *c.inst[sub.InstanceID]}, nil
}

// image returns the image instance id runs.
func (c *cloud) image(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inst[id].Image
}

// recorder is the ordered log of the cloud's calls and the view's steps.
type recorder struct {
	mu    sync.Mutex
	steps []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, s)
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.steps)
}

// mutating returns the calls that change an instance.
func (r *recorder) mutating() []string {
	var out []string
	for _, s := range r.all() {
		if strings.HasPrefix(s, "stop ") || strings.HasPrefix(s, "start ") || strings.HasPrefix(s, "change ") {
			out = append(out, s)
		}
	}
	return out
}

// index returns where step s first is in the log, or -1.
func (r *recorder) index(s string) int { return slices.Index(r.all(), s) }

// view records its steps in the log.
type view struct {
	log      *recorder
	reviewed plan.ChangeSet
	finished error
	mu       sync.Mutex
	events   []executor.EventType
}

func (v *view) Observe(e executor.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.events = append(v.events, e.Type)
}
func (v *view) Locked() { v.log.add("locked") }
func (v *view) Review(cs plan.ChangeSet) error {
	v.log.add("review")
	v.reviewed = cs
	return nil
}
func (v *view) Running() func() {
	v.log.add("running")
	return func() { v.log.add("stopped display") }
}
func (v *view) Finished(err error) {
	v.log.add("finished")
	v.finished = err
}

// testFleet is a plan of the cloud's instances, all to be put on image "new".
func testFleet(c *cloud) *Fleet {
	p := &plan.Plan{Name: "t", File: "t.yaml",
		Providers: map[string]*plan.Provider{"fake": {Name: "fake", Type: "fake"}},
		Rollout:   plan.Rollout{Concurrency: 2, Waves: []plan.Wave{{Size: plan.Size{Count: 1}}, {Size: plan.Size{Percent: 100, IsPercent: true}}}, InstanceTimeout: time.Minute}}
	for i := range len(c.inst) {
		p.Instances = append(p.Instances, &plan.Instance{ID: fmt.Sprintf("i-%d", i), Name: fmt.Sprintf("web-%d", i), Provider: "fake", Image: "new", Running: plan.RunningStop})
	}
	f := NewFleet(p, nil, plan.Shard{}, Narrowing{})
	f.Providers = map[string]providers.Provider{"fake": c}
	return f
}

// testOptions are apply's options in dir, confirming with confirm.
func testOptions(dir string, log *recorder, confirm error) ApplyOptions {
	return ApplyOptions{
		LockPath: filepath.Join(dir, "t.lock"), JournalPath: filepath.Join(dir, "t.journal"),
		Holder: executor.Holder{PID: 1, Host: "test", Plan: "t"}, RunID: "run-1",
		PollInterval: time.Millisecond, Settle: 10 * time.Millisecond, Drain: make(chan struct{}),
		Confirm: func(_ context.Context, cs plan.ChangeSet) error {
			log.add(fmt.Sprintf("confirm %d", len(cs.Mutating())))
			return confirm
		},
	}
}

func TestApplyStepsInOrder(t *testing.T) {
	log := &recorder{}
	c := newCloud(log, 3)
	v := &view{log: log}
	opts := testOptions(t.TempDir(), log, nil)
	opts.Quiesce = func() { log.add("quiesce") }
	res, err := Apply(context.Background(), testFleet(c), opts, v)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Summary.Converged() || res.Summary.Done != 3 {
		t.Errorf("summary %+v, want 3 done", res.Summary)
	}
	for i := range 3 {
		if got := c.image(fmt.Sprintf("i-%d", i)); got != "new" {
			t.Errorf("i-%d runs %q, want new", i, got)
		}
	}
	// Each step comes after the one before it; the cloud is only read
	// until the change set is confirmed.
	order := []string{"locked", "lookup", "review", "confirm 3", "running", "stop i-0", "stopped display", "finished", "quiesce"}
	last := -1
	for _, s := range order {
		i := log.index(s)
		if i <= last {
			t.Fatalf("step %q at %d, not after the step before (%d):\n%s", s, i, last, strings.Join(log.all(), "\n"))
		}
		last = i
	}
	if first := log.index(log.mutating()[0]); first < log.index("running") {
		t.Errorf("a call that changes came before the run began:\n%s", strings.Join(log.all(), "\n"))
	}
	if len(v.reviewed.Changes) != 3 || len(v.reviewed.Mutating()) != 3 || v.reviewed.Plan == nil {
		t.Errorf("reviewed %+v, want 3 changes", v.reviewed)
	}
	if v.finished != nil {
		t.Errorf("Finished(%v), want nil", v.finished)
	}
	if !slices.Contains(v.events, executor.EventRunEnd) {
		t.Errorf("events %v: no run_end", v.events)
	}
}

func TestApplyConfirmRefusedChangesNothing(t *testing.T) {
	log := &recorder{}
	c := newCloud(log, 3)
	v := &view{log: log}
	refused := errors.New("apply cancelled: nothing was changed")
	_, err := Apply(context.Background(), testFleet(c), testOptions(t.TempDir(), log, refused), v)
	if !errors.Is(err, refused) {
		t.Fatalf("err %v, want the refusal", err)
	}
	var nc *NotConvergedError
	if errors.As(err, &nc) {
		t.Errorf("a refusal is not a run that did not converge: %v", err)
	}
	if m := log.mutating(); len(m) > 0 {
		t.Errorf("calls that change after the refusal: %v", m)
	}
	if log.index("running") >= 0 {
		t.Errorf("the run began after the refusal:\n%s", strings.Join(log.all(), "\n"))
	}
	if !errors.Is(v.finished, refused) {
		t.Errorf("Finished(%v), want the refusal", v.finished)
	}
	for i := range 3 {
		if got := c.image(fmt.Sprintf("i-%d", i)); got != "old" {
			t.Errorf("i-%d runs %q, want old", i, got)
		}
	}
}

func TestApplyLockHeldFailsBeforeLookingUp(t *testing.T) {
	log := &recorder{}
	c := newCloud(log, 2)
	v := &view{log: log}
	opts := testOptions(t.TempDir(), log, nil)
	held, err := executor.AcquireLock(opts.LockPath, executor.Holder{PID: 42, Host: "other", Plan: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	_, err = Apply(context.Background(), testFleet(c), opts, v)
	var le *executor.LockedError
	if !errors.As(err, &le) || le.Holder.PID != 42 {
		t.Fatalf("err %v, want a *executor.LockedError naming pid 42", err)
	}
	if steps := log.all(); len(steps) > 0 {
		t.Errorf("steps with the lock held elsewhere: %v", steps)
	}
}

func TestApplySavedPlanStaleRefusedBeforeAnyChange(t *testing.T) {
	log := &recorder{}
	c := newCloud(log, 3)
	dir := t.TempDir()
	opts := testOptions(dir, log, nil)
	// The reviewed change set, saved as plan -out saves it.
	f := testFleet(c)
	cs, err := Review(context.Background(), f, opts.JournalPath)
	if err != nil {
		t.Fatal(err)
	}
	saved := f.Save(cs, time.Now())
	// Someone stops an instance behind the reviewer's back.
	c.set("i-1", providers.StateStopped, "stopped")
	before := len(log.mutating())

	sf := NewFleet(f.Full, saved, plan.Shard{}, Narrowing{})
	sf.Providers = f.Providers
	v := &view{log: log}
	_, err = Apply(context.Background(), sf, opts, v)
	if !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "i-1") {
		t.Fatalf("err %v, want ErrStale naming i-1", err)
	}
	if m := log.mutating()[before:]; len(m) > 0 {
		t.Errorf("calls that change on a stale saved plan: %v", m)
	}
	if i := log.index("review"); i >= 0 {
		t.Errorf("a stale saved plan was shown for review:\n%s", strings.Join(log.all(), "\n"))
	}
}

func TestApplySavedPlanAppliesOnlyTheReviewedChanges(t *testing.T) {
	log := &recorder{}
	c := newCloud(log, 3)
	opts := testOptions(t.TempDir(), log, nil)
	f := testFleet(c)
	// Reviewed while i-2 already ran the new image: it was not a change.
	c.inst["i-2"].Image = "new"
	cs, err := Review(context.Background(), f, opts.JournalPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cs.Mutating()); n != 2 {
		t.Fatalf("%d changes reviewed, want 2", n)
	}
	// Saved as plan -out saves it, and read back as apply reads it.
	file := filepath.Join(t.TempDir(), "t.plan")
	if err := f.Save(cs, time.Now()).Write(file); err != nil {
		t.Fatal(err)
	}
	saved, err := plan.ReadSaved(file)
	if err != nil {
		t.Fatal(err)
	}
	sf := NewFleet(f.Full, saved, plan.Shard{}, Narrowing{})
	sf.Providers = f.Providers
	res, err := Apply(context.Background(), sf, opts, &view{log: log})
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary.Done != 2 {
		t.Errorf("summary %+v, want the 2 reviewed changes done", res.Summary)
	}
	if slices.Contains(log.mutating(), "change i-2") {
		t.Errorf("i-2 changed, though the saved plan did not change it: %v", log.mutating())
	}
}

func TestApplyInterruptedBeforeAnyChange(t *testing.T) {
	log := &recorder{}
	c := newCloud(log, 2)
	opts := testOptions(t.TempDir(), log, nil)
	drain := make(chan struct{})
	opts.Drain = drain
	// The signal comes while the operator reads the prompt.
	opts.Confirm = func(context.Context, plan.ChangeSet) error {
		close(drain)
		return nil
	}
	_, err := Apply(context.Background(), testFleet(c), opts, &view{log: log})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err %v, want ErrInterrupted", err)
	}
	if m := log.mutating(); len(m) > 0 {
		t.Errorf("calls that change after the signal: %v", m)
	}
}

func TestApplyNothingToDoAsksNothing(t *testing.T) {
	log := &recorder{}
	c := newCloud(log, 2)
	for _, in := range c.inst {
		in.Image = "new"
	}
	opts := testOptions(t.TempDir(), log, errors.New("must not be asked"))
	res, err := Apply(context.Background(), testFleet(c), opts, &view{log: log})
	if err != nil {
		t.Fatal(err)
	}
	if !res.ChangeSet.Empty() || res.Summary.Skipped != 2 {
		t.Errorf("result %+v, want nothing to do", res)
	}
}

func TestApplyWithoutConfirmationOrAutoApproveRefuses(t *testing.T) {
	log := &recorder{}
	c := newCloud(log, 1)
	opts := testOptions(t.TempDir(), log, nil)
	opts.Confirm = nil
	if _, err := Apply(context.Background(), testFleet(c), opts, &view{log: log}); err == nil {
		t.Fatal("applied with no confirmation and no auto-approve")
	}
	if m := log.mutating(); len(m) > 0 {
		t.Errorf("calls that change: %v", m)
	}
}

func TestApplyFailedChangeDoesNotConverge(t *testing.T) {
	log := &recorder{}
	c := newCloud(log, 2)
	f := testFleet(c)
	f.Providers["fake"] = failingCloud{c}
	opts := testOptions(t.TempDir(), log, nil)
	opts.AutoApprove = true
	v := &view{log: log}
	_, err := Apply(context.Background(), f, opts, v)
	var nc *NotConvergedError
	if !errors.As(err, &nc) {
		t.Fatalf("err %v, want a *NotConvergedError", err)
	}
	if nc.Err != nil {
		t.Errorf("NotConvergedError.Err = %v; the run's events report the failure", nc.Err)
	}
	if v.finished == nil {
		t.Error("Finished(nil) for a run that did not converge")
	}
}

// failingCloud's changes are refused.
type failingCloud struct{ *cloud }

func (failingCloud) Change(context.Context, providers.ChangeRequest) (providers.Submission, error) {
	return providers.Submission{}, errors.New("InvalidImage: refused")
}

// A change an earlier run left in doubt (a crash after the call) is shown for
// review, confirmed, resolved by asking the cloud once the run begins, and
// the fleet looked up again: the change that took is not made twice.
func TestApplyResolvesAnEarlierRunsChangeInDoubtBeforeTheRun(t *testing.T) {
	log := &recorder{}
	c := newCloud(log, 2)
	dir := t.TempDir()
	opts := testOptions(dir, log, nil)
	// The earlier run stopped i-0 and changed it, and crashed before it
	// recorded the outcome.
	j, err := executor.OpenJournal(opts.JournalPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(executor.Record{Run: "run-0", Event: executor.EventIntent, Provider: "fake", ID: "i-0", Action: "change", Image: "new", WasRunning: true}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	c.inst["i-0"].Image, c.inst["i-0"].State, c.inst["i-0"].RawState = "new", providers.StateStopped, "stopped"

	var asked plan.ChangeSet
	opts.Confirm = func(_ context.Context, cs plan.ChangeSet) error {
		log.add("confirm")
		asked = cs
		return nil
	}
	res, err := Apply(context.Background(), testFleet(c), opts, &view{log: log})
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(log.all(), "\n"))
	}
	if asked.Pending != 1 {
		t.Errorf("confirmed a change set with %d calls in doubt, want 1", asked.Pending)
	}
	if slices.Contains(log.mutating(), "change i-0") {
		t.Errorf("i-0 changed again: %v", log.mutating())
	}
	if c.inst["i-0"].State != providers.StateRunning {
		t.Errorf("i-0 is %s, want started again (it ran before the earlier run)", c.inst["i-0"].State)
	}
	if !slices.Contains(log.mutating(), "change i-1") || c.image("i-1") != "new" {
		t.Errorf("i-1 not changed: %v", log.mutating())
	}
	if first := log.index(log.mutating()[0]); first < log.index("running") {
		t.Errorf("a call that changes came before the run began:\n%s", strings.Join(log.all(), "\n"))
	}
	if !res.Summary.Converged() {
		t.Errorf("summary %+v, want converged", res.Summary)
	}
	after, err := executor.ReadJournal(opts.JournalPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(after.Pending()); n != 0 {
		t.Errorf("%d calls still in doubt after the run", n)
	}
}

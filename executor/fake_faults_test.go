package executor

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// faultCloud is the in-memory cloud with the faults the engine must survive:
// lost answers to stops, starts and changes, refused changes, changes the
// cloud queues before they show, slow stops and jobs, failing reads, and
// someone else changing an instance behind the engine's back. Timed faults
// follow time.Now, so that tests run them in a synctest bubble.
type faultCloud struct {
	*fakeCloud
	fmu sync.Mutex
	// stopLost, startLost: the call takes effect but its answer is lost.
	stopLost, startLost map[string]int
	// stopDropped: the call is lost before the cloud (in doubt, no effect).
	stopDropped map[string]int
	// refuse: Change is refused with this error, without effect.
	refuse map[string]error
	// queued: Change is accepted after this long, its answer lost meanwhile.
	queued map[string]time.Duration
	// slowStop: a stop takes this long (the instance shows in progress).
	slowStop map[string]time.Duration
	// slowJob: a change takes this long to finish after it is submitted.
	slowJob map[string]time.Duration
	// changeDelay: the Change call itself takes this long to answer.
	changeDelay map[string]time.Duration
	// failStopped: the change fails asynchronously and leaves the instance
	// stopped on its old image (an ECS job FAIL after the server was shut off).
	failStopped map[string]bool
	// errAfterStop: once stopped, every Status read of the instance fails so.
	errAfterStop map[string]error
	// progressErr: every Progress read of the change fails so.
	progressErr map[string]error
	// startErr: Start is refused with this error.
	startErr map[string]error

	stopped     map[string]bool
	later       []delayed
	doneAt      map[string]time.Time
	changeCalls []string
	stopCalls   []string
	startCalls  []string
}

type delayed struct {
	at time.Time
	fn func(*fakeCloud)
}

func newFaultCloud(n int, running bool) *faultCloud {
	return &faultCloud{fakeCloud: newFakeCloud(n, running),
		stopLost: map[string]int{}, startLost: map[string]int{}, stopDropped: map[string]int{},
		refuse: map[string]error{}, queued: map[string]time.Duration{}, slowStop: map[string]time.Duration{},
		slowJob: map[string]time.Duration{}, changeDelay: map[string]time.Duration{}, failStopped: map[string]bool{},
		errAfterStop: map[string]error{}, progressErr: map[string]error{}, startErr: map[string]error{},
		stopped: map[string]bool{}, doneAt: map[string]time.Time{}}
}

// due applies the delayed effects whose time has come.
func (f *faultCloud) due() {
	f.fmu.Lock()
	now := time.Now()
	var keep []delayed
	var run []delayed
	for _, d := range f.later {
		if now.Before(d.at) {
			keep = append(keep, d)
		} else {
			run = append(run, d)
		}
	}
	f.later = keep
	f.fmu.Unlock()
	for _, d := range run {
		f.mu.Lock()
		d.fn(f.fakeCloud)
		f.mu.Unlock()
	}
}

func (f *faultCloud) after(d time.Duration, fn func(*fakeCloud)) {
	f.fmu.Lock()
	f.later = append(f.later, delayed{time.Now().Add(d), fn})
	f.fmu.Unlock()
}

func (f *faultCloud) Lookup(ctx context.Context, ids []string) (map[string]providers.Instance, error) {
	out := map[string]providers.Instance{}
	for _, id := range ids {
		st, err := f.Status(ctx, id)
		if err != nil {
			return nil, err
		}
		out[id] = st
	}
	return out, nil
}

func (f *faultCloud) Status(ctx context.Context, id string) (providers.Instance, error) {
	f.due()
	f.fmu.Lock()
	err := f.errAfterStop[id]
	stopped := f.stopped[id]
	f.fmu.Unlock()
	if err != nil && stopped {
		return providers.Instance{}, err
	}
	return f.fakeCloud.Status(ctx, id)
}

func (f *faultCloud) Stop(ctx context.Context, id string) error {
	f.fmu.Lock()
	f.stopCalls = append(f.stopCalls, id)
	f.stopped[id] = true
	dropped := f.stopDropped[id] > 0
	if dropped {
		f.stopDropped[id]--
	}
	lost := f.stopLost[id] > 0
	if lost {
		f.stopLost[id]--
	}
	slow := f.slowStop[id]
	f.fmu.Unlock()
	if dropped {
		return &providers.InDoubtError{Operation: "StopInstances", Cause: errors.New("connection reset")}
	}
	var err error
	if slow > 0 {
		err = f.set(id, func(in *providers.Instance) { in.State = providers.StateInProgress; in.RawState = "stopping" })
		f.after(slow, func(c *fakeCloud) { c.inst[id].State = providers.StateStopped })
	} else {
		err = f.fakeCloud.Stop(ctx, id)
	}
	if err == nil && lost {
		return &providers.InDoubtError{Operation: "StopInstances", Cause: errors.New("timeout awaiting response")}
	}
	return err
}

func (f *faultCloud) Start(ctx context.Context, id string) error {
	f.fmu.Lock()
	f.startCalls = append(f.startCalls, id)
	lost := f.startLost[id] > 0
	if lost {
		f.startLost[id]--
	}
	refused := f.startErr[id]
	f.fmu.Unlock()
	if refused != nil {
		return refused
	}
	err := f.fakeCloud.Start(ctx, id)
	if err == nil && lost {
		return &providers.InDoubtError{Operation: "StartInstances", Cause: errors.New("timeout awaiting response")}
	}
	return err
}

func (f *faultCloud) Change(ctx context.Context, req providers.ChangeRequest) (providers.Submission, error) {
	id := req.InstanceID
	f.fmu.Lock()
	f.changeCalls = append(f.changeCalls, id)
	refused := f.refuse[id]
	queue := f.queued[id]
	delay := f.changeDelay[id]
	failStopped := f.failStopped[id]
	slow := f.slowJob[id]
	f.fmu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	switch {
	case refused != nil:
		return providers.Submission{}, refused
	case queue > 0:
		f.after(queue, func(c *fakeCloud) { c.inst[id].Image = req.ImageID; c.changes[id]++ })
		return providers.Submission{}, &providers.InDoubtError{Operation: "ModifyInstanceImage", Cause: errors.New("timeout awaiting response")}
	case failStopped:
		err := f.set(id, func(in *providers.Instance) { in.State = providers.StateStopped; in.RawState = "SHUTOFF" })
		return providers.Submission{InstanceID: id, ImageID: req.ImageID, JobID: "job-" + id}, err
	}
	if slow > 0 {
		f.fmu.Lock()
		f.doneAt[id] = time.Now().Add(slow)
		f.fmu.Unlock()
	}
	return f.fakeCloud.Change(ctx, req)
}

func (f *faultCloud) Progress(ctx context.Context, sub providers.Submission) (providers.Progress, error) {
	f.due()
	id := sub.InstanceID
	f.fmu.Lock()
	err := f.progressErr[id]
	failStopped := f.failStopped[id]
	doneAt, slow := f.doneAt[id]
	f.fmu.Unlock()
	if err != nil {
		return providers.Progress{}, err
	}
	st, _ := f.fakeCloud.Status(ctx, id)
	if failStopped {
		return providers.Progress{Phase: providers.PhaseFailed, Reason: "job FAIL: EcsRebuildFailed", Instance: st}, nil
	}
	if slow && time.Now().Before(doneAt) {
		return providers.Progress{Phase: providers.PhaseInProgress, Instance: st}, nil
	}
	return f.fakeCloud.Progress(ctx, sub)
}

func (f *faultCloud) calls(which *[]string, id string) int {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	n := 0
	for _, x := range *which {
		if x == id {
			n++
		}
	}
	return n
}

// faultRun configures one run of the engine against a faultCloud.
type faultRun struct {
	poll, settle time.Duration
	journal      *Journal
	ctx          context.Context
	drain        chan struct{}
	// afterLookup runs between the look-up (the diff) and Apply.
	afterLookup func()
	// wrap may change the executor before it runs.
	wrap func(*Executor)
}

// run looks up, diffs and applies p on cloud, returning the summary, the
// events and Apply's error.
func (r faultRun) run(t *testing.T, cloud providers.Provider, p *plan.Plan) (Summary, []Event, error) {
	t.Helper()
	if r.poll == 0 {
		r.poll = time.Second
	}
	if r.ctx == nil {
		r.ctx = context.Background()
	}
	var mu sync.Mutex
	var events []Event
	provs := map[string]providers.Provider{"fake": cloud}
	opts := Options{Plan: p, Providers: provs, Journal: r.journal, PollInterval: r.poll, Settle: r.settle,
		Observer: ObserverFunc(func(ev Event) { mu.Lock(); events = append(events, ev); mu.Unlock() })}
	if r.drain != nil {
		opts.Drain = r.drain
	}
	e := New(opts)
	if r.wrap != nil {
		r.wrap(e)
	}
	if err := e.Resolve(r.ctx); err != nil {
		t.Fatal(err)
	}
	obs, err := Lookup(r.ctx, p, provs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var done func(string, string) string
	if r.journal != nil {
		done = r.journal.DoneToken
	}
	changes := plan.Diff(p, obs, done)
	if err := e.ResolveSecrets(changes); err != nil {
		t.Fatal(err)
	}
	if r.afterLookup != nil {
		r.afterLookup()
	}
	sum, err := e.Apply(r.ctx, changes)
	mu.Lock()
	defer mu.Unlock()
	return sum, append([]Event(nil), events...), err
}

// failures returns the error of every instance_failed event, by instance id.
func failures(events []Event) map[string]string {
	out := map[string]string{}
	for _, ev := range events {
		if ev.Type == EventInstanceFail {
			out[ev.Change.Instance.ID] = ev.Err.Error()
		}
	}
	return out
}

var oneWave = []plan.Wave{{Size: plan.Size{Percent: 100, IsPercent: true}}}

package executor

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// markerCloud is the in-memory cloud with markers on its instances
// (providers.Marker) and the faults the safety scenarios need.
type markerCloud struct {
	*fakeCloud
	mu sync.Mutex
	// noMarker: behave as a provider without the Marker capability.
	marks map[string]map[string]string
	// refuse: Change is refused outright (never reached the cloud's effect).
	refuse map[string]error
	// slow: a submitted change never finishes (the job stays RUNNING).
	slow map[string]bool
	// lostJob: Progress of these job ids fails (an ECS job older than a day).
	lostJob map[string]bool
	// reinstalls counts reinstalls carried out, by instance.
	reinstalls map[string]int
	// markFaults are faults of the marker writes and reads.
	markFaults markFaults
	// afterMark, when set, is called (m.mu held) after a marker write took effect.
	afterMark func(key, value string)
}

func newMarkerCloud(n int, running bool) *markerCloud {
	return &markerCloud{fakeCloud: newFakeCloud(n, running), marks: map[string]map[string]string{},
		refuse: map[string]error{}, slow: map[string]bool{}, lostJob: map[string]bool{}, reinstalls: map[string]int{}}
}

func (m *markerCloud) SetMark(ctx context.Context, id, key, value string) error {
	return m.faultySetMark(ctx, id, key, value)
}

// setMark is the marker write's effect.
func (m *markerCloud) setMark(id, key, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.marks[id] == nil {
		m.marks[id] = map[string]string{}
	}
	m.marks[id][key] = value
	if m.afterMark != nil {
		m.afterMark(key, value)
	}
	return nil
}

func (m *markerCloud) Marks(_ context.Context, ids []string) (map[string]map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.markFaults.readsDown {
		return nil, errors.New("fake ListTags: 503 Service Unavailable")
	}
	out := map[string]map[string]string{}
	for _, id := range ids {
		out[id] = map[string]string{}
		for k, v := range m.marks[id] {
			out[id][k] = v
		}
	}
	return out, nil
}

func (m *markerCloud) Change(ctx context.Context, req providers.ChangeRequest) (providers.Submission, error) {
	m.mu.Lock()
	refuse := m.refuse[req.InstanceID]
	m.mu.Unlock()
	if refuse != nil {
		return providers.Submission{}, refuse
	}
	f := m.fakeCloud
	f.mu.Lock()
	lost := f.lostReply[req.InstanceID] > 0
	f.mu.Unlock()
	sub, err := f.Change(ctx, req)
	if err == nil || lost {
		m.mu.Lock()
		if req.Reinstall {
			m.reinstalls[req.InstanceID]++
		}
		m.mu.Unlock()
	}
	return sub, err
}

func (m *markerCloud) Progress(ctx context.Context, sub providers.Submission) (providers.Progress, error) {
	m.mu.Lock()
	slow, lost := m.slow[sub.InstanceID], m.lostJob[sub.JobID]
	m.mu.Unlock()
	switch {
	case lost:
		return providers.Progress{}, errors.New("APIGW.0101: the job does not exist")
	case slow:
		st, _ := m.Status(ctx, sub.InstanceID)
		return providers.Progress{Phase: providers.PhaseInProgress, Instance: st}, nil
	}
	return m.fakeCloud.Progress(ctx, sub)
}

// plainCloud hides the Marker capability of a markerCloud.
type plainCloud struct{ providers.Provider }

// flow runs apply's sequence on one cloud: look-up and diff with the journal
// and markers, resolution of what earlier runs left and a second look-up when
// there was any, then the changes. It returns the summary and the diff applied.
func flow(t *testing.T, prov providers.Provider, p *plan.Plan, j *Journal) (Summary, []plan.Change) {
	t.Helper()
	ctx := context.Background()
	provs := map[string]providers.Provider{"fake": prov}
	diff := func() []plan.Change {
		obs, err := Lookup(ctx, p, provs, nil)
		if err != nil {
			t.Fatal(err)
		}
		marks, err := ReadMarks(ctx, p, provs)
		if err != nil {
			t.Fatal(err)
		}
		return plan.DiffHistory(p, obs, HistoryOf(p, j, marks))
	}
	changes := diff()
	e := New(Options{Plan: p, Providers: provs, Journal: j, PollInterval: time.Millisecond, Settle: 20 * time.Millisecond})
	if len(j.Pending()) > 0 {
		if err := e.Resolve(ctx); err != nil {
			t.Fatal(err)
		}
		changes = diff()
	}
	if err := e.ResolveSecrets(changes); err != nil {
		t.Fatal(err)
	}
	sum, err := e.Apply(ctx, changes)
	if err != nil {
		t.Fatal(err)
	}
	return sum, changes
}

// openJournal opens the journal in dir, closed at the end of the test.
func openJournal(t *testing.T, dir string) *Journal {
	t.Helper()
	j, err := OpenJournal(filepath.Join(dir, "fleet.journal"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// reinstallPlan asks for token t1 on every instance, which runs image "new" already.
func reinstallPlan(cloud *markerCloud) *plan.Plan {
	p := testPlan(cloud.fakeCloud, []plan.Wave{{Size: plan.Size{Percent: 100, IsPercent: true}}}, plan.Size{Percent: 100, IsPercent: true}, 4)
	for _, in := range p.Instances {
		in.Reinstall = "t1"
		cloud.inst[in.ID].Image = "new"
	}
	return p
}

func actionOf(changes []plan.Change, id string) plan.Change {
	for _, c := range changes {
		if c.Instance.ID == id {
			return c
		}
	}
	return plan.Change{}
}

package sim

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/plan"
)

// The core's own tests run on fake front-ends: the core names no cloud, and
// its internal tests cannot import the real front-ends (they import it).
// Tests through the real clouds' APIs are in package sim_test and beside each
// front-end.

// fakeFrontend is a cloud with no API: instances, states and images only.
type fakeFrontend struct {
	*Server
	typ string
}

func (f *fakeFrontend) Type() string          { return f.typ }
func (f *fakeFrontend) Name() string          { return "FAKE-" + f.typ }
func (f *fakeFrontend) Where() string         { return "nowhere" }
func (f *fakeFrontend) Routes(*http.ServeMux) {}
func (f *fakeFrontend) StateName(in *Inst) string {
	return [...]string{"running", "stopped", "error", "stopping", "starting", "rebuilding", "overriding"}[in.State]
}
func (f *fakeFrontend) MarkSource(in *Inst) map[string]string   { return in.Tags }
func (f *fakeFrontend) Admit(in *Inst, spec Instance) error     { return nil }
func (f *fakeFrontend) ImageDefaults(img *Image, unusable bool) {}
func (f *fakeFrontend) RefuseImage(*Image) string               { return "" }
func (f *fakeFrontend) NewKeys(hex func(int) string) Credential {
	return Credential{AccessKey: "FAKE" + hex(4), SecretKey: hex(8)}
}
func (f *fakeFrontend) Synthetic() Synthetic                               { return Synthetic{Region: "fake-1"} }
func (f *fakeFrontend) AddKeyPair(KeyPair) error                           { return nil }
func (f *fakeFrontend) FromPlan(*plan.Provider, *plan.Instance, *Instance) {}

// fake returns the constructor of a fake front-end of type typ.
func fake(typ string) NewFrontend {
	return func(s *Server) Frontend { return &fakeFrontend{Server: s, typ: typ} }
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

const (
	kecRunning = "98284100-f6d1-4bbf-886a-1b0765024738"
	kecStopped = "11111111-1111-4111-8111-111111111111"
	kecOther   = "22222222-2222-4222-8222-222222222222"
	ecsRunning = "98284100-f6d1-4bbf-886a-1b0765024738"
	ecsStopped = "1a2b3c4d-0000-4000-8000-000000000002"
	imgOld     = "aaaaaaaa-0000-4000-8000-000000000001"
	// Ksyun and HuaweiCloud are the fake clouds' types: the fleet of the
	// front-end tests, on clouds that have no API.
	Ksyun       = "fake-a"
	HuaweiCloud = "fake-b"
)

// harness is a core with two fake clouds, a fake clock and the small fleet
// the front-end tests use.
type harness struct {
	t     *testing.T
	sim   *Server
	clock *fakeClock
	url   string
}

func newHarness(t *testing.T, edit ...func(*Options)) *harness {
	t.Helper()
	clock := &fakeClock{t: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	opts := Options{Seed: 1, Frontends: []NewFrontend{fake(Ksyun), fake(HuaweiCloud)}, Clock: clock.Now}
	for _, e := range edit {
		e(&opts)
	}
	s := New(opts)
	for _, in := range []Instance{
		{Provider: Ksyun, ID: kecRunning, Name: "web-01", Image: imgOld},
		{Provider: Ksyun, ID: kecStopped, Name: "web-02", Image: imgOld, State: "stopped"},
		{Provider: Ksyun, ID: kecOther, Name: "db-01", Image: imgOld},
		{Provider: HuaweiCloud, ID: ecsRunning, Name: "api-01", Image: imgOld},
		{Provider: HuaweiCloud, ID: ecsStopped, Name: "api-02", Image: imgOld, State: "stopped"},
	} {
		if err := s.AddInstance(in); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return &harness{t: t, sim: s, clock: clock, url: ts.URL}
}

// view returns one instance as /_sim/instances shows it.
func (h *harness) view(provider, id string) InstanceView {
	h.t.Helper()
	for _, v := range h.sim.Instances() {
		if v.Provider == provider && v.ID == id {
			return v
		}
	}
	h.t.Fatalf("no %s instance %s", provider, id)
	return InstanceView{}
}

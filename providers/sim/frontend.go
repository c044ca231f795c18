package sim

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/reimage-dev/reimage/plan"
)

// Frontend speaks one cloud's API over the simulator's core: it routes and
// parses the cloud's requests, verifies its signatures, spells its states
// and answers in its shapes and error codes, while the core keeps the fleet,
// the clock, the faults, the rate limits and the counters. Each cloud's
// driver package provides one (providers.Driver.Simulator); the core names
// no cloud.
//
// Every method but Routes' handlers is called with the core locked (see
// Server.Lock): front-ends keep their own state (jobs, listings) under the
// same lock.
type Frontend interface {
	// Type is the provider type simulated, as in a plan; it keys
	// the stats, the rate limits, the credentials and the instances.
	Type() string
	// Name names the cloud's API for people; Where says where it is served
	// ("at /", "under /v1/").
	Name() string
	Where() string
	// Routes registers the cloud's handlers on mux. Handlers begin with
	// Server.Throttle and end with Server.Count or Server.Deliver.
	Routes(mux *http.ServeMux)
	// StateName is the cloud's own name of the instance's state, as GET
	// /_sim/instances shows it.
	StateName(in *Inst) string
	// MarkSource is where the cloud keeps reimage's markers of the instance
	// (its tags, or its metadata): /_sim/instances shows the keys that start
	// with MarkPrefix as the instance's marks.
	MarkSource(in *Inst) map[string]string
	// Admit checks and completes an instance joining the fleet: it fills
	// what spec leaves to the cloud (region, project) and in.Ext, or refuses
	// it.
	Admit(in *Inst, spec Instance) error
	// ImageDefaults fills what the catalogue does not say about an image
	// (name, platform, minimum disk), and the state an unusable one shows.
	ImageDefaults(img *Image, unusable bool)
	// RefuseImage says why the cloud would not put an instance on img,
	// beyond its state ("" when it would).
	RefuseImage(img *Image) string
	// NewKeys makes credentials of the cloud's shape from hex, a source of
	// 2n random hex digits.
	NewKeys(hex func(n int) string) Credential
	// Synthetic is what SeedSynthetic gives this cloud's instances.
	Synthetic() Synthetic
	// AddKeyPair puts a key pair in the cloud's catalogue.
	AddKeyPair(k KeyPair) error
	// FromPlan completes spec, an instance being seeded from a plan, with
	// what prov and in (nil for a selector's) say in the cloud's own words
	// (its project, a prepaid server), and catalogues the key pairs in's
	// login names, so that pre-flight finds them.
	FromPlan(prov *plan.Provider, in *plan.Instance, spec *Instance)
}

// NewFrontend builds a front-end on core; New calls it once per server.
type NewFrontend func(core *Server) Frontend

// Synthetic is a cloud's part of a synthetic fleet.
type Synthetic struct {
	// Region the instances are in (zones are Region + "a", "b", "c").
	Region string
	// ImageNames name the three images of the fleet, the first the one the
	// instances run.
	ImageNames []string
}

// Credential is a pair of keys a front-end accepts.
type Credential struct {
	AccessKey, SecretKey string
}

var (
	registryMu sync.RWMutex
	registry   []registered
)

type registered struct {
	typ string
	fn  NewFrontend
}

// Register adds the front-end of provider type typ to those New uses when
// Options.Frontends is empty, in registration order (which orders listings).
// The driver registry calls it (providers.Register); it panics on a type
// registered twice.
func Register(typ string, fn NewFrontend) {
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, r := range registry {
		if r.typ == typ {
			panic(fmt.Sprintf("sim: Register: front-end %q registered twice", typ))
		}
	}
	registry = append(registry, registered{typ, fn})
}

// Registered returns the registered front-end constructors, in order.
func Registered() []NewFrontend {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]NewFrontend, len(registry))
	for i, r := range registry {
		out[i] = r.fn
	}
	return out
}

// MarkPrefix starts the keys of reimage's markers on an instance (equal to
// providers.MarkPrefix, which the core does not import).
const MarkPrefix = "reimage-"

// Marks returns the entries of m whose key starts with MarkPrefix; nil for
// none.
func Marks(m map[string]string) map[string]string {
	var out map[string]string
	for k, v := range m {
		if strings.HasPrefix(k, MarkPrefix) {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

package sim

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// MaxSkew is how far a request's signing time may be from the server's clock,
// as the clouds allow.
const MaxSkew = 15 * time.Minute

// maxBody bounds a request body; the largest legitimate one (1000 servers in an
// batch action) is far below it.
const maxBody = 1 << 20

// Options configures a Server. The zero value is a fault-free simulator with
// instant transitions and generated credentials.
type Options struct {
	// Seed makes the fleet, the generated credentials, request ids and fault
	// decisions reproducible: the same seed and request sequence give the same
	// answers. 0 is a seed like any other.
	Seed int64
	// Frontends are the clouds served, in the order listings show them;
	// empty: every registered one (Register).
	Frontends []NewFrontend
	// Keys are the accepted credentials per provider type; a type without
	// a complete pair gets one derived from Seed, in the cloud's shape.
	Keys map[string]Credential
	// ProjectIDs are the accepted project ids of clouds scoped to projects;
	// empty: one derived from Seed. AddInstance and SeedPlan add the
	// projects of their instances.
	ProjectIDs []string
	// RateLimit is requests per second per provider type; 0 or absent =
	// unlimited. Burst is one second's worth
	// (at least 1). Beyond it: HTTP 429.
	RateLimit map[string]float64
	// Latency is added to every API answer.
	Latency time.Duration
	// ServerErrorRate is the fraction of API requests answered 5xx before any effect.
	ServerErrorRate float64
	// RebuildFailRate is the fraction of rebuilds that fail.
	RebuildFailRate float64
	// FailIDs are instances whose rebuilds always fail.
	FailIDs []string
	// JobFailRate is the fraction of changes and reinstalls whose job fails
	// without harming the instance, in clouds whose API has jobs: the job
	// ends failed and the instance is left stopped on its old image (the
	// rebuild failures above leave it in the error state). JobFailIDs always
	// fail so. A rebuild failure takes precedence.
	JobFailRate float64
	JobFailIDs  []string
	// StopDuration, RebuildDuration and StartDuration are how long each step
	// takes; 0 = instant.
	StopDuration, RebuildDuration, StartDuration time.Duration
	// Jitter varies each duration by up to ±Jitter of it, seeded (0.2 = ±20 %).
	Jitter float64
	// Clock is the simulator's time; nil = time.Now. Tests inject a fake
	// clock to step through transitions without sleeping.
	Clock func() time.Time
	// MissingImages are image ids the clouds no longer know (pre-flight finds
	// them absent; a change to one is refused); UnusableImages are known but
	// not active (in the state the front-end names). See catalog.go.
	MissingImages, UnusableImages []string
	// HealthPort > 0: every running instance answers HTTP and TCP health checks
	// on its private address at this port; UnhealthyIDs and an UnhealthyRate
	// fraction of the instances stop answering after their change (health.go).
	HealthPort    int
	UnhealthyIDs  []string
	UnhealthyRate float64

	// Faults after the effect: the cloud carries out a write (stop, start,
	// change, reinstall), then its answer never arrives. Each is decided per
	// request: always when the request names one of the chosen ids, else by
	// the rate, drawn from a stream seeded by Seed.

	// LostAnswerRate and LostAnswerIDs: the connection is closed without an
	// answer after the cloud acted.
	LostAnswerRate float64
	LostAnswerIDs  []string
	// Gateway502Rate and Gateway502IDs: a gateway answers HTTP 502 (an HTML
	// page) after the cloud acted.
	Gateway502Rate float64
	Gateway502IDs  []string
	// FaultOps limits the two faults above to these operations (OpStop,
	// OpStart, OpChange, OpReinstall, OpMark); empty: the first four.
	FaultOps []string
	// QueueDelay > 0 queues a change or reinstall of QueueIDs, and of a
	// QueueRate fraction of the others: it is accepted at once but the
	// instance shows no sign of it (state, image, task) for QueueDelay, then
	// it runs as usual.
	QueueDelay time.Duration
	QueueRate  float64
	QueueIDs   []string

	// PrepaidIDs are instances that are prepaid (yearly/monthly), added
	// later or already there, for clouds that bill so: a change that does
	// not pay its order waits for payment and does nothing (Instance.Prepaid
	// does the same).
	PrepaidIDs []string

	// LockedIDs are instances the cloud reports locked: it refuses every
	// operation on them. UnknownIDs are
	// instances whose state the cloud reports unknown; it refuses every
	// operation on them. Both apply to instances added later or already
	// there, and may change at run time (SetOptions), so a test can lock an
	// instance between a look-up and a change. Clouds whose API has neither
	// ignore them.
	LockedIDs, UnknownIDs []string
}

// Server is the simulator's core: a fleet, an image catalogue, the clock,
// faults, rate limits and counters, and the HTTP handlers of its front-ends
// (one per cloud). Its methods are safe for concurrent use; the ones for
// front-ends say when the core must be locked (Lock).
type Server struct {
	// mu guards everything below it but the stats: the fleet, the jobs, the
	// options, the limiters and the random streams. One lock is enough: every
	// critical section is a few map lookups, and JSON encoding happens outside.
	mu      sync.Mutex
	opts    Options
	failIDs map[string]bool
	// Chosen ids of the faults after the effect and of queued changes.
	loseIDs, gatewayIDs, queueIDs map[string]bool
	prepaidIDs                    map[string]bool
	lockedIDs, unknownIDs         map[string]bool
	projects                      map[string]bool
	limiters                      map[string]*rate.Limiter
	images                        map[string]map[string]bool // provider type -> image id -> known
	fleet                         map[string]map[string]*Inst
	// health answers health checks when Options.HealthPort is set (health.go).
	health *health
	order  map[string][]*Inst // insertion order per provider type, for listings
	// frontends in the order of Options.Frontends, and by provider type.
	frontends []Frontend
	byType    map[string]Frontend
	// synthImage is the image SeedSynthetic puts instances on, per provider type.
	synthImage map[string]string
	// cat holds image details, key pairs and the private address sequence (catalog.go).
	cat catalog
	// Separate random streams so that, e.g., turning jitter on does not shift
	// which requests get a 5xx.
	faultRNG, rebuildRNG, jitterRNG, idRNG *rand.Rand
	// chaosRNG decides the faults after the effect, queueRNG queued changes.
	chaosRNG, queueRNG *rand.Rand
	// jobFailRNG decides the jobs that fail without harm (JobFailRate).
	jobFailRNG *rand.Rand
	jobFailIDs map[string]bool
	// errorToggle alternates the two 5xx forms, so both are seen and the
	// sequence stays reproducible.
	errorToggle bool

	reqSeq atomic.Uint64
	reqTag uint64

	statsMu   sync.Mutex
	requests  map[string]int64
	throttled int64
	reads     map[string]int64
	faults    map[string]int64

	srv *http.Server
	ln  net.Listener
}

// New returns a simulator with an empty fleet; see AddInstance, SeedPlan and
// SeedSynthetic.
func New(opts Options) *Server {
	s := &Server{
		projects:   map[string]bool{},
		images:     map[string]map[string]bool{},
		fleet:      map[string]map[string]*Inst{},
		order:      map[string][]*Inst{},
		byType:     map[string]Frontend{},
		synthImage: map[string]string{},
		requests:   map[string]int64{},
		faults:     map[string]int64{},
	}
	news := opts.Frontends
	if len(news) == 0 {
		news = Registered()
	}
	for _, nf := range news {
		f := nf(s)
		if s.byType[f.Type()] != nil {
			panic(fmt.Sprintf("sim: New: two front-ends for provider type %q", f.Type()))
		}
		s.frontends = append(s.frontends, f)
		s.byType[f.Type()] = f
		s.images[f.Type()] = map[string]bool{}
		s.fleet[f.Type()] = map[string]*Inst{}
	}
	seed := uint64(opts.Seed)
	s.faultRNG = rand.New(rand.NewPCG(seed, 1))
	s.rebuildRNG = rand.New(rand.NewPCG(seed, 2))
	s.jitterRNG = rand.New(rand.NewPCG(seed, 3))
	s.idRNG = rand.New(rand.NewPCG(seed, 4))
	s.chaosRNG = rand.New(rand.NewPCG(seed, 7))
	s.queueRNG = rand.New(rand.NewPCG(seed, 8))
	s.jobFailRNG = rand.New(rand.NewPCG(seed, 9))
	creds := rand.New(rand.NewPCG(seed, 5))
	s.reqTag = creds.Uint64()
	keys := maps.Clone(opts.Keys)
	if keys == nil {
		keys = map[string]Credential{}
	}
	for _, f := range s.frontends {
		if k := keys[f.Type()]; k.AccessKey == "" || k.SecretKey == "" {
			keys[f.Type()] = f.NewKeys(func(n int) string { return randHex(creds, n) })
		}
	}
	opts.Keys = keys
	if len(opts.ProjectIDs) == 0 {
		opts.ProjectIDs = []string{randHex(creds, 16)}
	}
	s.applyOptions(opts)
	return s
}

// randHex returns 2n hex digits from r.
func randHex(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return hex.EncodeToString(b)
}

// newUUID returns a version-4-shaped UUID drawn from r.
func newUUID(r *rand.Rand) string { return uuidOf(draw16(r)) }

// draw16 draws 16 bytes from r.
func draw16(r *rand.Rand) [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], r.Uint64())
	binary.BigEndian.PutUint64(b[8:], r.Uint64())
	return b
}

// uuidOf formats b as a version-4-shaped UUID.
func uuidOf(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// InstanceIDs is implemented by a front-end whose cloud's instance ids are
// not UUIDs: the core mints the ids of the instances it seeds for the cloud
// (SeedSynthetic, SeedSelection) through it, so that they have the form the
// cloud's driver declares and plans written from them load.
type InstanceIDs interface {
	// InstanceID formats 16 random bytes as an instance id of the cloud.
	InstanceID(b [16]byte) string
}

// mintInstanceID is an instance id of the cloud of providerType made of b:
// its front-end's form, or a UUID.
func (s *Server) mintInstanceID(providerType string, b [16]byte) string {
	if f, ok := s.byType[providerType].(InstanceIDs); ok {
		return f.InstanceID(b)
	}
	return uuidOf(b)
}

// applyOptions installs opts; s.mu must be held (or s not yet shared).
func (s *Server) applyOptions(opts Options) {
	opts.ProjectIDs = append([]string(nil), opts.ProjectIDs...)
	opts.FailIDs = append([]string(nil), opts.FailIDs...)
	opts.MissingImages = append([]string(nil), opts.MissingImages...)
	opts.UnusableImages = append([]string(nil), opts.UnusableImages...)
	opts.LostAnswerIDs = append([]string(nil), opts.LostAnswerIDs...)
	opts.Gateway502IDs = append([]string(nil), opts.Gateway502IDs...)
	opts.QueueIDs = append([]string(nil), opts.QueueIDs...)
	opts.FaultOps = append([]string(nil), opts.FaultOps...)
	opts.Frontends = append([]NewFrontend(nil), opts.Frontends...)
	opts.Keys = maps.Clone(opts.Keys)
	rl := map[string]float64{}
	for k, v := range opts.RateLimit {
		rl[k] = v
	}
	opts.RateLimit = rl
	s.opts = opts
	s.loseIDs, s.gatewayIDs, s.queueIDs = idSet(opts.LostAnswerIDs), idSet(opts.Gateway502IDs), idSet(opts.QueueIDs)
	opts.PrepaidIDs = append([]string(nil), opts.PrepaidIDs...)
	s.opts.PrepaidIDs = opts.PrepaidIDs
	s.prepaidIDs = idSet(opts.PrepaidIDs)
	for id := range s.prepaidIDs {
		for _, m := range s.fleet {
			if in := m[id]; in != nil {
				in.Prepaid = true
			}
		}
	}
	opts.LockedIDs = append([]string(nil), opts.LockedIDs...)
	opts.UnknownIDs = append([]string(nil), opts.UnknownIDs...)
	s.opts.LockedIDs, s.opts.UnknownIDs = opts.LockedIDs, opts.UnknownIDs
	s.lockedIDs, s.unknownIDs = idSet(opts.LockedIDs), idSet(opts.UnknownIDs)
	for _, m := range s.fleet {
		for id, in := range m {
			in.Locked, in.Unknown = s.lockedIDs[id], s.unknownIDs[id]
		}
	}
	for _, p := range opts.ProjectIDs {
		s.projects[p] = true
	}
	s.failIDs = map[string]bool{}
	for _, id := range opts.FailIDs {
		s.failIDs[id] = true
	}
	s.jobFailIDs = idSet(opts.JobFailIDs)
	// Buckets start full whenever the limits change: a test that sets a limit
	// gets exactly one second's burst before the first 429.
	s.limiters = map[string]*rate.Limiter{}
	for p, r := range opts.RateLimit {
		if r > 0 {
			s.limiters[p] = rate.NewLimiter(rate.Limit(r), max(1, int(math.Ceil(r))))
		}
	}
}

// idSet is ids as a set.
func idSet(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// Options returns the options in effect, with the generated credentials and
// project ids filled in.
func (s *Server) Options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.opts
	o.ProjectIDs = append([]string(nil), o.ProjectIDs...)
	o.FailIDs = append([]string(nil), o.FailIDs...)
	o.LostAnswerIDs = append([]string(nil), o.LostAnswerIDs...)
	o.Gateway502IDs = append([]string(nil), o.Gateway502IDs...)
	o.QueueIDs = append([]string(nil), o.QueueIDs...)
	o.FaultOps = append([]string(nil), o.FaultOps...)
	o.PrepaidIDs = append([]string(nil), o.PrepaidIDs...)
	o.Frontends = append([]NewFrontend(nil), o.Frontends...)
	o.Keys = maps.Clone(o.Keys)
	o.LockedIDs = append([]string(nil), o.LockedIDs...)
	o.UnknownIDs = append([]string(nil), o.UnknownIDs...)
	o.RateLimit = map[string]float64{}
	for k, v := range s.opts.RateLimit {
		o.RateLimit[k] = v
	}
	return o
}

// SetOptions changes options at run time (faults, timings, credentials); fn
// edits a copy of the options in effect. Transitions already under way keep
// the durations they started with.
func (s *Server) SetOptions(fn func(*Options)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.opts
	o.ProjectIDs = append([]string(nil), o.ProjectIDs...)
	o.FailIDs = append([]string(nil), o.FailIDs...)
	o.LostAnswerIDs = append([]string(nil), o.LostAnswerIDs...)
	o.Gateway502IDs = append([]string(nil), o.Gateway502IDs...)
	o.QueueIDs = append([]string(nil), o.QueueIDs...)
	o.FaultOps = append([]string(nil), o.FaultOps...)
	o.PrepaidIDs = append([]string(nil), o.PrepaidIDs...)
	o.LockedIDs = append([]string(nil), o.LockedIDs...)
	o.UnknownIDs = append([]string(nil), o.UnknownIDs...)
	o.Keys = maps.Clone(o.Keys)
	rl := map[string]float64{}
	for k, v := range s.opts.RateLimit {
		rl[k] = v
	}
	o.RateLimit = rl
	fn(&o)
	s.applyOptions(o)
}

// Now reads the clock; s.mu must be held.
func (s *Server) Now() time.Time {
	if s.opts.Clock != nil {
		return s.opts.Clock()
	}
	return time.Now()
}

// Handler returns the simulator's HTTP handler: inspection under "/_sim/",
// each front-end's API where it registered it.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/instances", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, s.Instances())
	})
	mux.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("/_sim/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "simulator inspection: GET /_sim/instances or GET /_sim/stats", http.StatusNotFound)
	})
	for _, f := range s.frontends {
		f.Routes(mux)
	}
	return mux
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in a goroutine. It
// returns the base URL, "http://HOST:PORT".
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.ln = ln
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	srv := s.srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	s.startHealth()
	return "http://" + ln.Addr().String(), nil
}

// Shutdown stops a server begun with Start gracefully: it stops listening and
// waits for answers under way, until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

// Close stops a server begun with Start at once.
func (s *Server) Close() error {
	s.stopHealth()
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Stats is what GET /_sim/stats returns.
type Stats struct {
	// Requests counts API requests by "<provider>/<operation>/<status>", the
	// operation as the front-end names it.
	Requests map[string]int64 `json:"requests"`
	// Throttled counts requests answered 429 by the rate limit.
	Throttled int64 `json:"throttled"`
	// Faults counts injected faults after the effect and queued changes by
	// "<kind>/<provider>/<operation>", kind one of FaultLostAnswer,
	// FaultGateway502, FaultQueued, FaultSuperseded, e.g.
	// "lost_answer/TYPE/OPERATION".
	Faults map[string]int64 `json:"faults"`
	// Reads counts, by provider type, the instances asked for by id in
	// listings (status polls and re-checks): a batch call of 40 ids counts
	// 40, the cloud's work beside Requests' one call.
	Reads map[string]int64 `json:"reads,omitempty"`
}

// Stats returns a copy of the request counters.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	st := Stats{Requests: make(map[string]int64, len(s.requests)), Throttled: s.throttled, Faults: make(map[string]int64, len(s.faults)),
		Reads: make(map[string]int64, len(s.reads))}
	for k, v := range s.reads {
		st.Reads[k] = v
	}
	for k, v := range s.requests {
		st.Requests[k] = v
	}
	for k, v := range s.faults {
		st.Faults[k] = v
	}
	return st
}

func (s *Server) Count(provider, op string, status int, throttled bool) {
	key := provider + "/" + op + "/" + strconv.Itoa(status)
	s.statsMu.Lock()
	s.requests[key]++
	if throttled {
		s.throttled++
	}
	s.statsMu.Unlock()
}

// CountReads counts n instances asked for by id in one listing of provider
// (a front-end's status read).
func (s *Server) CountReads(provider string, n int) {
	s.statsMu.Lock()
	if s.reads == nil {
		s.reads = map[string]int64{}
	}
	s.reads[provider] += int64(n)
	s.statsMu.Unlock()
}

// RequestID returns a fresh, seed-determined request id shaped like a UUID.
func (s *Server) RequestID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], s.reqTag)
	binary.BigEndian.PutUint64(b[8:], s.reqSeq.Add(1))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// Throttle is the first thing every API request meets: the provider's rate
// limit (ok false: answer 429, Retry-After retryAfter seconds), then the added
// latency. Injected server errors come later, after authentication.
func (s *Server) Throttle(r *http.Request, provider string) (retryAfter int, ok bool) {
	s.mu.Lock()
	lat := s.opts.Latency
	lim := s.limiters[provider]
	ok = true
	if lim != nil {
		ok = lim.AllowN(s.Now(), 1)
		if !ok {
			// Seconds until a token is back, rounded up: what Retry-After carries.
			d := time.Duration(float64(time.Second) / float64(lim.Limit()))
			retryAfter = max(1, int(math.Ceil(d.Seconds())))
		}
	}
	s.mu.Unlock()
	if lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	return retryAfter, ok
}

// ServerError decides, from the seeded fault stream, whether this request is
// answered 5xx; second says which of the two 5xx forms to use.
func (s *Server) ServerError() (fail bool, second bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.ServerErrorRate <= 0 {
		return false, false
	}
	if s.faultRNG.Float64() >= s.opts.ServerErrorRate {
		return false, false
	}
	s.errorToggle = !s.errorToggle
	return true, s.errorToggle
}

// RebuildFails decides whether a rebuild of id fails; s.mu must be held.
func (s *Server) RebuildFails(id string) bool {
	if s.failIDs[id] {
		return true
	}
	if s.opts.RebuildFailRate <= 0 {
		return false
	}
	return s.rebuildRNG.Float64() < s.opts.RebuildFailRate
}

// JobFails decides whether the job of a change or reinstall of id fails
// without harm (JobFailRate, JobFailIDs); s.mu must be held. Front-ends ask it
// only after RebuildFails said no.
func (s *Server) JobFails(id string) bool {
	if s.jobFailIDs[id] {
		return true
	}
	if s.opts.JobFailRate <= 0 {
		return false
	}
	return s.jobFailRNG.Float64() < s.opts.JobFailRate
}

// Jittered returns d with seeded jitter; s.mu must be held.
func (s *Server) Jittered(d time.Duration) time.Duration {
	if d <= 0 || s.opts.Jitter <= 0 {
		return max(d, 0)
	}
	f := 1 + s.opts.Jitter*(2*s.jitterRNG.Float64()-1)
	return time.Duration(float64(d) * f)
}

// ReadBody reads at most maxBody bytes of the request body.
func ReadBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > maxBody {
		return nil, fmt.Errorf("request body larger than %d bytes", maxBody)
	}
	var b []byte
	var err error
	if r.ContentLength > 0 {
		// Sized read: io.ReadAll's doubling showed up under load.
		b = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, b)
	} else {
		b, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	}
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("request body larger than %d bytes", maxBody)
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// randomSecret returns n random bytes as hex, for callers that want credentials
// no seed can reproduce.
func randomSecret(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

// RandomCredentials fills empty credentials in o with random ones (not derived
// from the seed), for a simulator reachable by others than its user: for each
// front-end of o (every registered one when o names none), in its shape.
func RandomCredentials(o *Options) {
	news := o.Frontends
	if len(news) == 0 {
		news = Registered()
	}
	probe := &Server{}
	o.Keys = maps.Clone(o.Keys)
	if o.Keys == nil {
		o.Keys = map[string]Credential{}
	}
	for _, nf := range news {
		f := nf(probe)
		if k := o.Keys[f.Type()]; k.AccessKey == "" || k.SecretKey == "" {
			o.Keys[f.Type()] = f.NewKeys(randomSecret)
		}
	}
}

// Lock locks the core: front-ends hold it while they read or change the
// fleet, the catalogue or their own state, and call the methods documented
// "core locked" meanwhile. Never held across I/O.
func (s *Server) Lock() { s.mu.Lock() }

// Unlock unlocks the core.
func (s *Server) Unlock() { s.mu.Unlock() }

// Config returns the options in effect, for front-ends to read (durations,
// keys, project ids); core locked. Change them with SetOptions.
func (s *Server) Config() *Options { return &s.opts }

// RandomHex returns 2n hex digits from the seeded id stream (job ids);
// core locked.
func (s *Server) RandomHex(n int) string { return randHex(s.idRNG, n) }

// KnownProject reports whether project is an accepted project id; core locked.
func (s *Server) KnownProject(project string) bool { return s.projects[project] }

// AcceptProject makes project an accepted project id from now on; core locked.
func (s *Server) AcceptProject(project string) {
	if project != "" && !s.projects[project] {
		s.projects[project] = true
		s.opts.ProjectIDs = append(s.opts.ProjectIDs, project)
	}
}

// Fleet returns the instances of a provider type by id; core locked.
func (s *Server) Fleet(providerType string) map[string]*Inst { return s.fleet[providerType] }

// Order returns the instances of a provider type in the order they were
// added; core locked.
func (s *Server) Order(providerType string) []*Inst { return s.order[providerType] }

// Types returns the provider types served, in the order of the front-ends.
func (s *Server) Types() []string {
	out := make([]string, len(s.frontends))
	for i, f := range s.frontends {
		out[i] = f.Type()
	}
	return out
}

// Frontend returns the front-end of a provider type, if served.
func (s *Server) Frontend(providerType string) (Frontend, bool) {
	f, ok := s.byType[providerType]
	return f, ok
}

// typeList names the served types for messages: "a, b or c".
func (s *Server) typeList() string {
	types := s.Types()
	if len(types) < 2 {
		return strings.Join(types, "")
	}
	return strings.Join(types[:len(types)-1], ", ") + " or " + types[len(types)-1]
}

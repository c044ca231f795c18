package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"time"
)

// State is an instance's state, common to every cloud; each front-end
// spells it as its cloud does (Frontend.StateName).
type State uint8

const (
	StateRunning State = iota
	StateStopped
	StateError
	StateStopping
	StateStarting
	StateRebuilding
	// StateOverriding is a reinstall under way, for clouds that show it
	// apart from a change of image (others show it as a rebuild).
	StateOverriding
)

// Transitional reports whether an operation is under way; the clouds refuse
// every other operation on the instance meanwhile.
func (st State) Transitional() bool { return st >= StateStopping }

// Step is one timed stage of an operation: the instance shows State and
// Image until End. Count marks the step whose completion is an OS install
// performed.
type Step struct {
	State State
	Image string
	Lasts time.Duration // how long the step lasts; Run turns it into End
	End   time.Time
	Count bool
	// Queued marks the wait of a Queued change (Options.QueueDelay): the
	// instance looks as before, and the change is already committed.
	Queued bool
}

// Outcome is where an operation leaves the instance once its last step ends.
type Outcome struct {
	State State
	Image string
	Fault string
	// ChangeFailed: a change or reinstall failed (some clouds allow a change
	// from there).
	ChangeFailed bool
	// Then, when set, is applied to the instance as the operation ends: what
	// the cloud's operation changed besides state and image (key pairs, the
	// system disk).
	Then func(*Inst)
}

// Inst is one simulated instance. Its state is evaluated lazily: an operation
// records its steps with end times, and settle moves the instance along when
// it is looked at. No timer or goroutine per instance.
type Inst struct {
	Provider string
	ID, Name string
	Image    string
	Project  string // the cloud's project id, as its front-end admitted it
	Region   string
	Index    int
	State    State
	Fault    string
	// ChangeFailed: the last operation was a change that failed.
	ChangeFailed bool
	// Prepaid: a yearly/monthly instance (Instance.Prepaid).
	Prepaid bool
	// Locked: the cloud refuses every operation on the instance until it is
	// unlocked (Options.LockedIDs); Unknown: the cloud reports that it does
	// not know the instance's state (Options.UnknownIDs) and refuses every
	// operation. Neither changes the state underneath.
	Locked, Unknown bool
	Changes         int
	Created         time.Time
	Updated         time.Time
	// Fixed attributes, formatted once: listings of 100 instances are the
	// hot path of every lookup.
	CreatedStr, IP, Zone string
	// Tags are the user's tags and Meta the cloud's user metadata, for
	// clouds that have them; neither changes with a rebuild (catalog.go).
	Tags, Meta map[string]string
	// Ext holds what only the instance's front-end knows of it (set by
	// Frontend.Admit).
	Ext any

	steps []Step
	final Outcome
	// Listed is the number of the last listing that showed the instance.
	Listed uint64
}

// Settle applies every step that has ended by now; s.mu must be held.
func (in *Inst) Settle(now time.Time) {
	for len(in.steps) > 0 && !now.Before(in.steps[0].End) {
		s := in.steps[0]
		if s.Count {
			in.Changes++
		}
		in.Updated = s.End
		in.steps = in.steps[1:]
		if len(in.steps) > 0 {
			in.State, in.Image = in.steps[0].State, in.steps[0].Image
			continue
		}
		f := in.final
		in.State, in.Image, in.Fault, in.ChangeFailed = f.State, f.Image, f.Fault, f.ChangeFailed
		if f.Then != nil {
			f.Then(in)
		}
		in.steps, in.final = nil, Outcome{}
	}
}

// Run starts an operation on in at now, as in.Run does; s.mu must be held. An
// operation that arrives while a queued change has not shown yet replaces it
// in the simulation, but the cloud had accepted that change: it counts as an
// install performed, so a change submitted twice shows as two.
func (s *Server) Run(in *Inst, now time.Time, steps []Step, final Outcome) time.Time {
	if len(in.steps) > 0 && in.steps[0].Queued && slices.ContainsFunc(in.steps, func(st Step) bool { return st.Count }) {
		in.Changes++
		s.CountFault(FaultSuperseded, in.Provider, OpChange)
	}
	return in.run(now, steps, final)
}

// Queue puts the wait of a queued change before steps when one is due for
// in (see Options.QueueDelay); s.mu must be held.
func (s *Server) Queue(in *Inst, apiOp string, steps []Step) []Step {
	d := s.queueDelay(in.ID)
	if d <= 0 {
		return steps
	}
	s.CountFault(FaultQueued, in.Provider, apiOp)
	return append([]Step{{State: in.State, Image: in.Image, Lasts: d, Queued: true}}, steps...)
}

// run starts an operation at now: the instance goes through steps, each
// lasting its d, and ends in final. It returns when the last step ends.
func (in *Inst) run(now time.Time, steps []Step, final Outcome) time.Time {
	end := now
	for i := range steps {
		end = end.Add(steps[i].Lasts)
		steps[i].End = end
	}
	in.steps, in.final = steps, final
	in.Updated = now
	in.Fault = ""
	if len(steps) > 0 {
		in.State, in.Image = steps[0].State, steps[0].Image
	}
	in.Settle(now)
	return end
}

// Instance is an instance to put in the simulated fleet.
type Instance struct {
	// Provider is the provider type, one the simulator has a front-end for.
	Provider string
	ID       string
	Name     string
	// Image is the image the instance runs; it is added to the catalogue.
	Image string
	// State is "running" or "stopped" ("" = running).
	State string
	// ProjectID is the instance's project, as its cloud has projects ("":
	// the front-end's default; a project-scoped cloud accepts a new one from
	// then on).
	ProjectID string
	// Region names the region ("": the front-end's default).
	Region string
	// Zone is the availability zone; "" = REGION+"a".
	Zone string
	// Tags are the instance's tags.
	Tags map[string]string
	// Prepaid marks a yearly/monthly instance, for clouds that bill so: a
	// change that does not pay its order waits for payment, doing nothing.
	Prepaid bool
}

// InstanceView is one entry of GET /_sim/instances.
type InstanceView struct {
	Provider string `json:"provider"`
	ID       string `json:"id"`
	Image    string `json:"image"`
	// State is the cloud's own state string (Frontend.StateName).
	State string `json:"state"`
	// Changes counts OS installs actually performed on the instance.
	Changes int `json:"changes"`
	// Name, Zone, PrivateIP, Tags and Marks (the instance's reimage- markers,
	// wherever its cloud keeps them) were added for selection and markers.
	Name      string            `json:"name"`
	Zone      string            `json:"zone"`
	PrivateIP string            `json:"privateIp"`
	Tags      map[string]string `json:"tags,omitempty"`
	Marks     map[string]string `json:"marks,omitempty"`
}

// AddImage puts an image in a provider type's catalogue.
func (s *Server) AddImage(providerType, imageID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.images[providerType]; m != nil {
		m[imageID] = true
	}
}

// AddInstance puts an instance in the fleet, on its image (added to the
// catalogue).
func (s *Server) AddInstance(in Instance) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addInstance(in)
}

func (s *Server) addInstance(in Instance) error {
	m := s.fleet[in.Provider]
	if m == nil {
		return fmt.Errorf("sim: instance %s: provider type %q is not simulated (want %s)", in.ID, in.Provider, s.typeList())
	}
	if in.ID == "" || in.Image == "" {
		return fmt.Errorf("sim: %s instance needs an id and an image", in.Provider)
	}
	if m[in.ID] != nil {
		return fmt.Errorf("sim: %s instance %s already exists", in.Provider, in.ID)
	}
	var st State
	switch in.State {
	case "", "running":
		st = StateRunning
	case "stopped":
		st = StateStopped
	default:
		return fmt.Errorf("sim: instance %s: state %q is neither running nor stopped", in.ID, in.State)
	}
	idx := len(s.order[in.Provider])
	// A fixed creation time keeps answers reproducible across runs.
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(idx) * time.Second)
	name := in.Name
	if name == "" {
		name = in.ID
	}
	i := &Inst{
		Provider: in.Provider, ID: in.ID, Name: name, Image: in.Image, Project: in.ProjectID, Region: in.Region,
		Prepaid: in.Prepaid || s.prepaidIDs[in.ID],
		Locked:  s.lockedIDs[in.ID], Unknown: s.unknownIDs[in.ID],
		Index: idx, State: st, Created: created, Updated: created,
		CreatedStr: created.Format(time.RFC3339),
		Tags:       CopyTags(in.Tags),
	}
	if err := s.byType[in.Provider].Admit(i, in); err != nil {
		return err
	}
	i.Zone, i.IP = zoneOf(i.Region, in.Zone), s.nextPrivateIP()
	m[in.ID] = i
	s.order[in.Provider] = append(s.order[in.Provider], i)
	s.images[in.Provider][in.Image] = true
	return nil
}

// SeedSynthetic adds n instances, shared evenly among the front-ends (the
// first ones get one more where n does not divide), with ids, names, images
// and stopped ones all determined by Options.Seed. Each provider gets three
// catalogued images: instances run the first, the other two are there to
// change to.
func (s *Server) SeedSynthetic(n int, stoppedFraction float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := rand.New(rand.NewPCG(uint64(s.opts.Seed), 6))
	types := s.Types()
	if len(types) == 0 {
		return
	}
	for _, p := range types {
		for j := range 3 {
			img := newUUID(r)
			s.images[p][img] = true
			s.nameSynthImage(p, img, j)
			if s.synthImage[p] == "" {
				s.synthImage[p] = img
			}
		}
	}
	// The first n%len(types) types get one instance more, in a block each.
	per, extra := n/len(types), n%len(types)
	t, k := 0, 0
	for range n {
		for k >= per+boolInt(t < extra) {
			t, k = t+1, 0
		}
		p := types[t]
		st := "running"
		if r.Float64() < stoppedFraction {
			st = "stopped"
		}
		id := s.mintInstanceID(p, draw16(r))
		in := synthInstance(s.byType[p], k)
		in.ID, in.Image, in.State = id, s.synthImage[p], st
		_ = s.addInstance(in)
		k++
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Images returns the catalogue of a provider type.
func (s *Server) Images(providerType string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id := range s.images[providerType] {
		out = append(out, id)
	}
	return out
}

// Instances returns every instance as GET /_sim/instances shows it: by
// front-end in the order of Options.Frontends, each in the order they were
// added.
func (s *Server) Instances() []InstanceView {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	n := 0
	for _, f := range s.frontends {
		n += len(s.order[f.Type()])
	}
	out := make([]InstanceView, 0, n)
	for _, f := range s.frontends {
		p := f.Type()
		for _, in := range s.order[p] {
			in.Settle(now)
			out = append(out, InstanceView{Provider: p, ID: in.ID, Image: in.Image, State: f.StateName(in), Changes: in.Changes,
				Name: in.Name, Zone: in.Zone, PrivateIP: in.IP, Tags: CopyTags(in.Tags), Marks: Marks(f.MarkSource(in))})
		}
	}
	return out
}

// OlderImage returns the image SeedPlan puts an instance on when the plan
// wants target: a stable UUID derived from target, so the same plan always
// seeds the same fleet.
func OlderImage(target string) string {
	sum := sha256.Sum256([]byte("reimage-sim older image of " + target))
	sum[6] = sum[6]&0x0f | 0x40
	sum[8] = sum[8]&0x3f | 0x80
	h := hex.EncodeToString(sum[:16])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// IsUUID reports whether v has the lowercase UUID form the clouds document.
func IsUUID(v string) bool { return len(v) == 36 && uuidRE.MatchString(v) }

package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// State is an instance's State, common to both clouds; kecState and ecsState
// spell it as each cloud does.
type State uint8

const (
	StateRunning State = iota
	StateStopped
	StateError
	StateStopping
	StateStarting
	StateRebuilding
	// StateOverriding is a KEC reinstall under way (ECS shows it as a rebuild).
	StateOverriding
)

// Transitional reports whether an operation is under way; the clouds refuse
// every other operation on the instance meanwhile.
func (st State) Transitional() bool { return st >= StateStopping }

// kecState is KEC's InstanceState.Name and TaskState (empty when idle).
func (st State) kecState() (name, task string) {
	switch st {
	case StateRunning:
		return "active", ""
	case StateStopped:
		return "stopped", ""
	case StateError:
		return "error", ""
	case StateStopping:
		return "stopping", "stopping"
	case StateStarting:
		return "starting", "starting"
	case StateOverriding:
		return "overriding", "overriding"
	default:
		return "rebuilding", "rebuilding"
	}
}

// ecsState is ECS's status, OS-EXT-STS:task_state ("" for null) and OS-EXT-STS:vm_state.
func (st State) ecsState() (status, task, vm string) {
	switch st {
	case StateRunning:
		return "ACTIVE", "", "active"
	case StateStopped:
		return "SHUTOFF", "", "stopped"
	case StateError:
		return "ERROR", "", "error"
	case StateStopping:
		return "ACTIVE", "powering-off", "active"
	case StateStarting:
		return "SHUTOFF", "powering-on", "stopped"
	default:
		return "REBUILD", "rebuilding", "stopped"
	}
}

// Step is one timed stage of an operation: the instance shows st and image
// until end. count marks the Step whose completion is an OS install performed.
type Step struct {
	State State
	Image string
	Lasts time.Duration // how long the step lasts; run turns it into end
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
	// ChangeFailed: a change or reinstall failed; ECS allows changeos on the
	// server from there.
	ChangeFailed bool
	// KEC extras applied on success.
	keys             []string
	diskType         string
	diskSize         int
	setKeys, setDisk bool
}

// Inst is one simulated instance. Its state is evaluated lazily: an operation
// records its steps with end times, and settle moves the instance along when
// it is looked at. No timer or goroutine per instance.
type Inst struct {
	Provider string
	ID, Name string
	Image    string
	Project  string // ECS project id; KEC project id ("0" by default)
	// kecProject is a KEC project id as the number DescribeInstances shows.
	kecProject int64
	Region     string
	Index      int
	State      State
	Fault      string
	// ChangeFailed: the last operation was a change that failed.
	ChangeFailed bool
	// Prepaid: a yearly/monthly ECS server (Instance.Prepaid).
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
	// kecHead and kecTail cache the JSON of the fixed DescribeInstances
	// fields, made on the first listing.
	kecHead, kecTail string
	// KEC attributes.
	keys     []string
	diskType string
	diskSize int
	// Tags are the user's Tags (KEC: its tag service; ECS: server Tags) and
	// Meta ECS's user metadata; neither changes with a rebuild (catalog.go).
	Tags, Meta map[string]string

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
		if f.setKeys {
			in.keys = f.keys
		}
		if f.setDisk {
			if f.diskType != "" {
				in.diskType = f.diskType
			}
			if f.diskSize > 0 {
				in.diskSize = f.diskSize
			}
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
	// Provider is "ksyun" or "huaweicloud".
	Provider string
	ID       string
	Name     string
	// Image is the image the instance runs; it is added to the catalogue.
	Image string
	// State is "running" or "stopped" ("" = running).
	State string
	// ProjectID is the ECS project (default: the first of Options.ProjectIDs;
	// a new one is accepted from then on), or the KEC project id (default "0").
	ProjectID string
	// Region names the KEC region (availability zone REGION+"a"); optional.
	Region string
	// Zone is the availability zone; "" = REGION+"a".
	Zone string
	// Tags are the instance's tags (KEC tag service, ECS server tags).
	Tags map[string]string
	// Prepaid marks a yearly/monthly ECS server: a change without
	// isAutoPay "true" opens an order and waits in PENDING_PAYMENT, doing
	// nothing.
	Prepaid bool
}

// InstanceView is one entry of GET /_sim/instances.
type InstanceView struct {
	Provider string `json:"provider"`
	ID       string `json:"id"`
	Image    string `json:"image"`
	// State is the cloud's own state string: KEC "active", "stopped",
	// "rebuilding", "error"…; ECS "ACTIVE", "SHUTOFF", "REBUILD", "ERROR"….
	State string `json:"state"`
	// Changes counts OS installs actually performed on the instance.
	Changes int `json:"changes"`
	// Name, Zone, PrivateIP, Tags and Marks (the instance's reimage- markers:
	// KEC tags, ECS metadata) were added for selection and markers.
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
		return fmt.Errorf("sim: instance %s: provider type %q is neither %q nor %q", in.ID, in.Provider, Ksyun, HuaweiCloud)
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
	project := in.ProjectID
	if in.Provider == HuaweiCloud {
		if project == "" {
			project = s.opts.ProjectIDs[0]
		}
		if !s.projects[project] {
			s.projects[project] = true
			s.opts.ProjectIDs = append(s.opts.ProjectIDs, project)
		}
	} else if project == "" {
		project = "0"
	}
	var kecProject int64
	if in.Provider == Ksyun {
		n, err := strconv.ParseInt(project, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("sim: KEC instance %s: project id %q is not a number (KEC project ids are)", in.ID, project)
		}
		kecProject = n
	}
	region := in.Region
	if region == "" {
		region = "cn-beijing-6"
		if in.Provider == HuaweiCloud {
			region = "cn-north-4"
		}
	}
	idx := len(s.order[in.Provider])
	// A fixed creation time keeps answers reproducible across runs.
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(idx) * time.Second)
	name := in.Name
	if name == "" {
		name = in.ID
	}
	i := &Inst{
		Provider: in.Provider, ID: in.ID, Name: name, Image: in.Image, Project: project, kecProject: kecProject,
		Prepaid: (in.Prepaid || s.prepaidIDs[in.ID]) && in.Provider == HuaweiCloud,
		Locked:  s.lockedIDs[in.ID], Unknown: s.unknownIDs[in.ID],
		Region: region, Index: idx, State: st, Created: created, Updated: created,
		keys: []string{}, diskType: "SSD3.0", diskSize: 20,
		CreatedStr: created.Format(time.RFC3339), Zone: zoneOf(region, in.Zone),
		Tags: CopyTags(in.Tags), IP: s.nextPrivateIP(),
	}
	m[in.ID] = i
	s.order[in.Provider] = append(s.order[in.Provider], i)
	s.images[in.Provider][in.Image] = true
	return nil
}

// SeedSynthetic adds n instances, half KEC (the odd one too) and half ECS,
// with ids, names, images and stopped ones all determined by Options.Seed.
// Each provider gets three catalogued images: instances run the first, the
// other two are there to change to.
func (s *Server) SeedSynthetic(n int, stoppedFraction float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := rand.New(rand.NewPCG(uint64(s.opts.Seed), 6))
	for _, p := range []string{Ksyun, HuaweiCloud} {
		for j := range 3 {
			img := newUUID(r)
			s.images[p][img] = true
			s.nameSynthImage(p, img, j)
			if s.synthImage[p] == "" {
				s.synthImage[p] = img
			}
		}
	}
	nk := (n + 1) / 2
	for i := range n {
		p, k := Ksyun, i
		if i >= nk {
			p, k = HuaweiCloud, i-nk
		}
		st := "running"
		if r.Float64() < stoppedFraction {
			st = "stopped"
		}
		id := newUUID(r)
		in := synthInstance(p, k)
		in.ID, in.Image, in.State = id, s.synthImage[p], st
		_ = s.addInstance(in)
	}
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

// Instances returns every instance as GET /_sim/instances shows it: KEC first,
// then ECS, each in the order they were added.
func (s *Server) Instances() []InstanceView {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	out := make([]InstanceView, 0, len(s.order[Ksyun])+len(s.order[HuaweiCloud]))
	for _, p := range []string{Ksyun, HuaweiCloud} {
		for _, in := range s.order[p] {
			in.Settle(now)
			var st string
			if p == Ksyun {
				st, _ = in.State.kecState()
			} else {
				st, _, _ = in.ecsState()
			}
			out = append(out, InstanceView{Provider: p, ID: in.ID, Image: in.Image, State: st, Changes: in.Changes,
				Name: in.Name, Zone: in.Zone, PrivateIP: in.IP, Tags: CopyTags(in.Tags), Marks: in.Marks()})
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

// IsUUID reports whether v has the lowercase UUID form both clouds document.
func IsUUID(v string) bool { return len(v) == 36 && uuidRE.MatchString(v) }

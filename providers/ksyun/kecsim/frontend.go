package kecsim

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers/ksyun"
	"github.com/reimage-dev/reimage/providers/sim"
)

// frontend serves KEC over the core it embeds. Its own state is guarded by
// the core's lock.
type frontend struct {
	*sim.Server
	// listing numbers DescribeInstances calls, to drop duplicate ids.
	listing uint64
	// keys maps key pair ids to names (SKS DescribeKeys, ModifyInstanceImage).
	keys map[string]string
}

// New is KEC's front-end constructor (sim.NewFrontend), registered by the
// driver list.
func New(core *sim.Server) sim.Frontend {
	return &frontend{Server: core, keys: map[string]string{}}
}

// attrs is what KEC alone knows of an instance (sim.Inst.Ext).
type attrs struct {
	// project is the KEC project id as the number DescribeInstances shows.
	project int64
	// head and tail cache the JSON of the fixed DescribeInstances fields,
	// made on the first listing.
	head, tail string
	keys       []string
	diskType   string
	diskSize   int
}

// ext returns in's KEC attributes.
func ext(in *sim.Inst) *attrs { return in.Ext.(*attrs) }

// Type implements sim.Frontend.
func (s *frontend) Type() string { return ksyun.Type }

// Name implements sim.Frontend.
func (s *frontend) Name() string { return "KEC" }

// Where implements sim.Frontend.
func (s *frontend) Where() string { return "at /" }

// Routes implements sim.Frontend: KEC and its family share "/".
func (s *frontend) Routes(mux *http.ServeMux) { mux.HandleFunc("/", s.serveKEC) }

// StateName implements sim.Frontend: InstanceState.Name.
func (s *frontend) StateName(in *sim.Inst) string {
	name, _ := kecState(in.State)
	return name
}

// MarkSource implements sim.Frontend: KEC keeps reimage's markers as tags of
// its tag service.
func (s *frontend) MarkSource(in *sim.Inst) map[string]string { return in.Tags }

// Admit implements sim.Frontend: region cn-beijing-6 by default, project "0"
// (the default project), which must be a number as KEC's project ids are.
// KEC bills no instance as prepaid here.
func (s *frontend) Admit(in *sim.Inst, spec sim.Instance) error {
	if in.Project == "" {
		in.Project = "0"
	}
	n, err := strconv.ParseInt(in.Project, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("sim: KEC instance %s: project id %q is not a number (KEC project ids are)", in.ID, in.Project)
	}
	if in.Region == "" {
		in.Region = "cn-beijing-6"
	}
	in.Prepaid = false
	in.Ext = &attrs{project: n, keys: []string{}, diskType: "SSD3.0", diskSize: 20}
	return nil
}

// ImageDefaults implements sim.Frontend: CentOS 7.9, a 20 GB system disk;
// an unusable image is "deactivated".
func (s *frontend) ImageDefaults(img *sim.Image, unusable bool) {
	if unusable {
		img.State = "deactivated"
	}
	if img.Platform == "" {
		img.Platform = "centos-7.9"
	}
	if img.MinDiskGB == 0 {
		img.MinDiskGB = 20
	}
}

// RefuseImage implements sim.Frontend: KEC takes any active image.
func (s *frontend) RefuseImage(*sim.Image) string { return "" }

// NewKeys implements sim.Frontend: access keys start with AKLT, as KEC's do.
func (s *frontend) NewKeys(hex func(n int) string) sim.Credential {
	return sim.Credential{AccessKey: "AKLTsim" + hex(8), SecretKey: hex(20)}
}

// Synthetic implements sim.Frontend.
func (s *frontend) Synthetic() sim.Synthetic {
	return sim.Synthetic{Region: "cn-beijing-6",
		ImageNames: []string{"centos-7.9-64bit-2026-09", "centos-7.9-64bit-2026-11", "ubuntu-22.04-64bit-2026-11"}}
}

// AddKeyPair implements sim.Frontend: KEC knows a key pair by its id, a UUID.
func (s *frontend) AddKeyPair(k sim.KeyPair) error {
	if !sim.IsUUID(k.ID) {
		return fmt.Errorf("sim: KEC key pair %q: the id must be a UUID", k.ID)
	}
	s.keys[k.ID] = k.Name
	return nil
}

// FromPlan implements sim.Frontend: KEC plans name no project (instances
// are in the default one); the key ids a login names become key pairs.
func (s *frontend) FromPlan(prov *plan.Provider, in *plan.Instance, spec *sim.Instance) {
	if in == nil {
		return
	}
	for _, k := range ksyun.OptionsOf(in.Options).Keys() {
		if _, ok := s.keys[k]; !ok {
			s.keys[k] = "key-" + k[:min(8, len(k))]
		}
	}
}

// kecState is KEC's InstanceState.Name and TaskState (empty when idle).
func kecState(st sim.State) (name, task string) {
	switch st {
	case sim.StateRunning:
		return "active", ""
	case sim.StateStopped:
		return "stopped", ""
	case sim.StateError:
		return "error", ""
	case sim.StateStopping:
		return "stopping", "stopping"
	case sim.StateStarting:
		return "starting", "starting"
	case sim.StateOverriding:
		return "overriding", "overriding"
	default:
		return "rebuilding", "rebuilding"
	}
}

// tagID is a stable number for a tag (KEC's TagId): the same key and value
// always get the same id.
func tagID(key, value string) int64 {
	h := fnv.New64a()
	h.Write([]byte(key + "\x00" + value))
	return int64(h.Sum64() & 0x7fffffff)
}

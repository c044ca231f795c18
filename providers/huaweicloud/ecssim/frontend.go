package ecssim

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/sim"
)

// frontend serves ECS, IMS and KPS over the core it embeds. Its own state
// is guarded by the core's lock.
type frontend struct {
	*sim.Server
	// jobs are ECS's asynchronous jobs by id.
	jobs map[string]*job
	// keyNames holds the key pair names KPS knows.
	keyNames map[string]bool
}

// New is ECS's front-end constructor (sim.NewFrontend), registered by the
// driver list.
func New(core *sim.Server) sim.Frontend {
	return &frontend{Server: core, jobs: map[string]*job{}, keyNames: map[string]bool{}}
}

// apiError is an error answer in the making: status and ECS code.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// Type implements sim.Frontend.
func (s *frontend) Type() string { return huaweicloud.Type }

// Name implements sim.Frontend.
func (s *frontend) Name() string { return "ECS" }

// Where implements sim.Frontend.
func (s *frontend) Where() string { return "under /v1/{project_id}/" }

// Routes implements sim.Frontend: ECS under /v1/, IMS and KPS beside it,
// told apart by path.
func (s *frontend) Routes(mux *http.ServeMux) {
	mux.HandleFunc("/v1/", s.serveECS)
	mux.HandleFunc("/v2/", s.serveECS)
	mux.HandleFunc("/v3/", s.serveECS)
}

// StateName implements sim.Frontend: the server's status.
func (s *frontend) StateName(in *sim.Inst) string {
	status, _, _ := ecsState(in)
	return status
}

// MarkSource implements sim.Frontend: ECS keeps reimage's markers as server
// metadata.
func (s *frontend) MarkSource(in *sim.Inst) map[string]string { return in.Meta }

// Admit implements sim.Frontend: region cn-north-4 by default; the project
// is the first accepted one by default, and a new one is accepted from then on.
func (s *frontend) Admit(in *sim.Inst, spec sim.Instance) error {
	if in.Project == "" {
		in.Project = s.Config().ProjectIDs[0]
	}
	s.AcceptProject(in.Project)
	if in.Region == "" {
		in.Region = "cn-north-4"
	}
	return nil
}

// ImageDefaults implements sim.Frontend: CentOS, a 40 GB minimum disk, a
// FusionCompute (system disk) image; an unusable image is "killed".
func (s *frontend) ImageDefaults(img *sim.Image, unusable bool) {
	if unusable {
		img.State = "killed"
	}
	if img.Platform == "" {
		img.Platform = "CentOS"
	}
	if img.MinDiskGB == 0 {
		img.MinDiskGB = 40
	}
	if img.EnvType == "" {
		img.EnvType = "FusionCompute"
	}
}

// RefuseImage implements sim.Frontend: only a FusionCompute image goes on
// an ECS system disk ("DataImage" and "Ironic" do not).
func (s *frontend) RefuseImage(img *sim.Image) string {
	if img.EnvType != "FusionCompute" {
		return "is a " + img.EnvType + " image, not an ECS system disk image"
	}
	return ""
}

// NewKeys implements sim.Frontend: upper-case access keys, as Huawei's are.
func (s *frontend) NewKeys(hex func(n int) string) sim.Credential {
	return sim.Credential{AccessKey: strings.ToUpper("HWSIM" + hex(8)), SecretKey: hex(20)}
}

// Synthetic implements sim.Frontend.
func (s *frontend) Synthetic() sim.Synthetic {
	return sim.Synthetic{Region: "cn-north-4",
		ImageNames: []string{"CentOS 7.9 64bit 2026-09", "CentOS 7.9 64bit 2026-11", "Ubuntu 22.04 server 64bit 2026-11"}}
}

// AddKeyPair implements sim.Frontend: KPS knows a key pair by name.
func (s *frontend) AddKeyPair(k sim.KeyPair) error {
	if k.Name == "" {
		return fmt.Errorf("sim: Huawei key pair needs a name")
	}
	s.keyNames[k.Name] = true
	return nil
}

// FromPlan implements sim.Frontend: the provider's project (accepted from
// then on, Admit), a server whose plan pays its orders (isAutoPay) is
// prepaid, and the key pair its login names is known to KPS.
func (s *frontend) FromPlan(prov *plan.Provider, in *plan.Instance, spec *sim.Instance) {
	spec.ProjectID = prov.Settings[providers.ProjectSetting]
	if in == nil {
		return
	}
	o := huaweicloud.OptionsOf(in.Options)
	spec.Prepaid = o.AutoPay
	for _, k := range o.Keys() {
		s.keyNames[k] = true
	}
}

// ecsStatus is ECS's status, OS-EXT-STS:task_state ("" for null) and
// OS-EXT-STS:vm_state of a state.
func ecsStatus(st sim.State) (status, task, vm string) {
	switch st {
	case sim.StateRunning:
		return "ACTIVE", "", "active"
	case sim.StateStopped:
		return "SHUTOFF", "", "stopped"
	case sim.StateError:
		return "ERROR", "", "error"
	case sim.StateStopping:
		return "ACTIVE", "powering-off", "active"
	case sim.StateStarting:
		return "SHUTOFF", "powering-on", "stopped"
	default:
		return "REBUILD", "rebuilding", "stopped"
	}
}

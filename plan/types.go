package plan

import "time"

// Plan is a validated plan, version 1, with defaults merged into every instance.
type Plan struct {
	// File is the path the plan was loaded from, as given by the caller.
	File string
	// SHA256 sums the bytes that were parsed (hex): what a saved plan binds,
	// never a second read of the file.
	SHA256  string
	Version int
	// Name names the run: metric labels, journal and lock file names.
	Name string
	// Providers by name as written in the plan.
	Providers map[string]*Provider
	Rollout   Rollout
	// Instances in plan order, defaults merged. Changes are applied in this order.
	// Resolve appends the instances the selectors match.
	Instances []*Instance
	// Selectors are the entries of select, in plan order.
	Selectors []*Selector
	// ImageIDs are the image names Resolve looked up, in the order met.
	ImageIDs []ResolvedImage
	// Narrowing says how the command line narrowed this run of the plan; nil
	// when it did not.
	Narrowing *Narrowing
}

// Provider is one cloud account in one region.
type Provider struct {
	Name string
	// Type is a registered cloud's type (Cloud.Type).
	Type   string
	Region string
	// Endpoint overrides the cloud's default endpoint; empty for the default.
	Endpoint string
	// Settings are the provider fields only its cloud takes
	// (Cloud.ProviderFields), by name; nil when it has none.
	Settings    map[string]string
	Credentials Credentials
	Limits      Limits
}

// Credentials holds references to secrets, never the secrets themselves.
// A nil reference means "use the ecosystem's environment variable".
type Credentials struct {
	AccessKey *SecretRef
	SecretKey *SecretRef
}

// SecretRef points at a secret: exactly one of Env or File is set.
type SecretRef struct {
	Env  string
	File string
	// At is where the plan gives the reference, FILE:LINE:COL, so that one
	// that does not resolve is reported there; empty for one built in code.
	At string
}

// Limits bound the API calls one provider makes.
type Limits struct {
	RequestsPerSecond float64
	Burst             int
}

// Default values applied when the plan does not set them.
const (
	DefaultConcurrency       = 10
	DefaultInstanceTimeout   = 30 * time.Minute
	DefaultRequestsPerSecond = 10
)

// Rollout says how changes are cut into waves and how failures are judged.
type Rollout struct {
	Concurrency     int
	Waves           []Wave
	MaxFailures     Size
	InstanceTimeout time.Duration
	// Canary is CanaryPerImage (the default when "") or CanaryFirst.
	Canary string
	// Health, Gates, Window and Hooks: rollout gates (gates.go); nil or empty when not set.
	Health *Health
	Gates  []Gate
	Window *Window
	Hooks  Hooks
}

// Wave is one entry of rollout.waves.
type Wave struct {
	Size  Size
	Pause time.Duration
}

// Size is a count or a percentage: exactly one of Count or Percent is meaningful,
// selected by IsPercent.
type Size struct {
	Count     int
	Percent   int
	IsPercent bool
}

// Running policies for instances that run when they are to be changed.
const (
	RunningStop = "stop"
	RunningSkip = "skip"
)

// Instance is one server the plan manages, with defaults merged.
type Instance struct {
	ID       string
	Name     string
	Provider string // key into Plan.Providers
	// Image is the target image id; empty for an image given by name until Resolve.
	Image string
	// ImageByName is set when the plan gives the image by name.
	ImageByName *ImageByName
	// SelectedBy is the selector that chose the instance ("select[0]"); empty for an
	// entry of instances.
	SelectedBy string
	Login      Login
	Running    string // RunningStop or RunningSkip
	// Reinstall is an optional token: reinstall once per token even when the image matches.
	Reinstall string
	Protect   bool
	// Options are the instance's cloud-only fields and login forms, decoded
	// by its cloud's driver (Cloud.Decode); nil when the plan could not tell
	// the cloud, or for an instance built by hand.
	Options Options

	// Line and Col locate the instance's entry in the plan file (1-based).
	Line, Col int
}

// Login is the login's password, when that is the form. The other forms are
// the cloud's (Cloud.LoginForms), in Instance.Options.
type Login struct {
	Password *SecretRef
}

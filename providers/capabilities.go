package providers

import "context"

// The interfaces below are optional capabilities: a Provider implements those its
// cloud supports, and callers find them with a type assertion, as io.WriterTo is found.

// Filter selects instances by what the cloud knows. Every field that is set must
// match; the zero Filter matches every instance of the account in the region.
type Filter struct {
	// Tags: every key must be present with exactly that value.
	Tags map[string]string
	// Name is a glob (path.Match syntax) on the instance name.
	Name string
	// Zone is the availability zone, exactly.
	Zone string
}

// Lister lists the instances of the account in the provider's region that match a
// filter, with Tags, Zone and PrivateIP filled. It pages with the fewest calls and
// filters on the client whatever the cloud cannot filter on.
type Lister interface {
	List(ctx context.Context, f Filter) ([]Instance, error)
}

// Image is what a cloud reports about one image.
type Image struct {
	ID   string
	Name string
	// State is the cloud's own image state ("active", "queued"…).
	State string
	// Usable: the image can be the target of a change in this region. Reason says
	// why not, for people.
	Usable bool
	Reason string
	// MinDiskGB is the smallest system disk the image needs (0 when unknown).
	MinDiskGB int
	// Platform is the cloud's OS name, for people ("centos-7.9", "Ubuntu 22.04"…).
	Platform string
}

// Preflighter checks, before anything is touched, that what a change needs exists.
type Preflighter interface {
	// Images returns what the cloud knows of each image id; an id it does not
	// know (or that this account cannot see) is absent from the map.
	Images(ctx context.Context, ids []string) (map[string]Image, error)
	// ImagesByName returns every image visible to the account whose name is
	// exactly name.
	ImagesByName(ctx context.Context, name string) ([]Image, error)
	// KeyPairs returns which of the given key pairs exist, named as the
	// cloud's login options name them (plan.Options.Keys): ids or names.
	KeyPairs(ctx context.Context, keys []string) (map[string]bool, error)
}

// PasswordChecker checks a login password against the cloud's own policy, so that a
// password the cloud would refuse is found when the secret is resolved, not after the
// instance was stopped. The error names the rule, never the password.
type PasswordChecker interface {
	CheckPassword(password string) error
}

// Marker keeps reimage's markers (small key/value pairs) on the instance itself, where
// the cloud can hold them (server metadata, or tags of the cloud's tag service), so
// that what reimage did to an instance is known from any host, state directory or plan.
type Marker interface {
	// SetMark sets key=value on the instance, keeping its other markers and tags;
	// repeating it is harmless.
	SetMark(ctx context.Context, id, key, value string) error
	// Marks returns reimage's markers (keys with the marker prefix) of each id, in
	// batch calls; an id with none maps to an empty map.
	Marks(ctx context.Context, ids []string) (map[string]map[string]string, error)
}

// MarkPrefix starts the key of every marker reimage sets: the characters both clouds
// accept in metadata and tag keys.
const MarkPrefix = "reimage-"

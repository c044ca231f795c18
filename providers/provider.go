// Package providers defines what the rollout engine needs from a cloud, and the
// HTTP plumbing shared by every cloud client: one rate limiter per provider,
// retries that never repeat a write the cloud may have accepted, coalescing of
// concurrent single-instance calls into batch calls, and API metrics.
//
// Each cloud's client, with its plan options, lives in its own package under
// providers/, registered by the one list in providers/drivers.
package providers

import (
	"context"
	"fmt"

	"github.com/reimage-dev/reimage/plan"
)

// State is an instance's state, normalised across clouds.
type State int

// Normalised instance states.
const (
	StateUnknown State = iota
	// StateRunning is a running instance with no task under way.
	StateRunning
	// StateStopped is a stopped instance with no task under way.
	StateStopped
	// StateInProgress is any transitional state: stopping, starting, rebuilding…
	StateInProgress
	// StateError is the cloud's error state.
	StateError
	// StateNotFound means the cloud does not know the id.
	StateNotFound
)

var stateNames = [...]string{"unknown", "running", "stopped", "in_progress", "error", "not_found"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Instance is what a cloud reports about one instance.
type Instance struct {
	ID    string
	Name  string
	Image string
	State State
	// RawState is the cloud's own state (and task state), for people: "active", "SHUTOFF/powering-on".
	RawState string
	// Fault is the cloud's explanation of an error state, if any.
	Fault string
	// PrivateIP is the primary private IPv4 address ("" when the cloud did not say).
	PrivateIP string
	// Zone is the availability zone ("" when the cloud did not say).
	Zone string
	// Tags are the user's tags (key -> value), filled by Lister.List; nil elsewhere.
	Tags map[string]string
}

// ChangeRequest asks a cloud to put a new OS on one instance.
type ChangeRequest struct {
	InstanceID string
	// ImageID is the target image. With Reinstall the image stays the same.
	ImageID string
	// Reinstall reinstalls the current image (each cloud has its own way to say it).
	Reinstall bool
	// Running says the instance runs now; a provider with Capabilities.ChangeStopsRunning
	// stops it as part of the change.
	Running bool

	// Password is the resolved login password, when that is the login form;
	// never logged.
	Password string
	// Options are the instance's cloud-only fields and other login forms, as
	// the cloud's driver decoded them from the plan; only that cloud's client
	// reads them. Nil for none.
	Options plan.Options
}

// String leaves out the password so that a request can be logged.
func (r ChangeRequest) String() string {
	kind := "change"
	if r.Reinstall {
		kind = "reinstall"
	}
	return fmt.Sprintf("%s %s to image %s", kind, r.InstanceID, r.ImageID)
}

// Submission identifies an accepted change so that it can be followed, also by a
// later run that finds it in the journal.
type Submission struct {
	InstanceID string
	ImageID    string
	Reinstall  bool
	// JobID is the cloud's asynchronous job id; empty where the cloud has none.
	JobID string
	// RequestID is the cloud's request id of the accepted call, for people.
	RequestID string
}

// Phase is where a submitted change stands.
type Phase int

// Phases of a submitted change.
const (
	PhaseInProgress Phase = iota
	PhaseDone
	PhaseFailed
)

func (p Phase) String() string {
	switch p {
	case PhaseInProgress:
		return "in_progress"
	case PhaseDone:
		return "done"
	case PhaseFailed:
		return "failed"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// Progress is the answer to "where does this change stand".
type Progress struct {
	Phase Phase
	// Reason is the cloud's failure reason with PhaseFailed.
	Reason   string
	Instance Instance
}

// Capabilities tells the engine how a cloud's change call behaves.
type Capabilities struct {
	// ChangeStopsRunning: the change call itself stops a running instance
	// (a mode of the change call), so the engine need not stop it first.
	ChangeStopsRunning bool
}

// Provider is one cloud account in one region, as the rollout engine sees it.
// Every method is safe for concurrent use; concurrent single-instance calls
// (Stop, Start, Status, Progress) are coalesced into batch API calls, so the
// engine calls them per instance without multiplying API calls.
type Provider interface {
	// Type is the plan's provider type: its driver's Type.
	Type() string
	Capabilities() Capabilities
	// Lookup returns every id's current state, in batch calls. Unknown ids come
	// back with StateNotFound.
	Lookup(ctx context.Context, ids []string) (map[string]Instance, error)
	// Status returns one instance's current state (coalesced into batch lookups).
	Status(ctx context.Context, id string) (Instance, error)
	// Stop asks the cloud to stop a running instance and returns once the cloud
	// accepted it; it does not wait for the instance to be stopped.
	Stop(ctx context.Context, id string) error
	// Start asks the cloud to start a stopped instance; it does not wait.
	Start(ctx context.Context, id string) error
	// Change submits a change. It is not idempotent: an error for which
	// IsInDoubt is true means the cloud may have accepted it.
	Change(ctx context.Context, req ChangeRequest) (Submission, error)
	// Progress tells where a submitted change stands. It is also how a later run
	// resolves a change found in doubt in the journal.
	Progress(ctx context.Context, sub Submission) (Progress, error)
}

package plan

import "fmt"

// Action is what apply would do to one instance.
type Action int

// Actions, in the order a plan lists them.
const (
	// ActionChange puts a different image on the instance.
	ActionChange Action = iota
	// ActionReinstall reinstalls the same image for a new reinstall token.
	ActionReinstall
	// ActionOK: the instance already runs the target image.
	ActionOK
	// ActionProtected: the plan says never to touch it.
	ActionProtected
	// ActionBlocked: it cannot be changed now; Change.Reason says why.
	ActionBlocked
)

var actionNames = [...]string{"change", "reinstall", "ok", "protected", "blocked"}

func (a Action) String() string {
	if a >= 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Mutates reports whether the action changes the instance.
func (a Action) Mutates() bool { return a == ActionChange || a == ActionReinstall }

// Power is an instance's observed power state, as far as a diff cares.
type Power int

// Observed power states.
const (
	PowerUnknown Power = iota
	PowerRunning
	PowerStopped
	// PowerBusy: a transitional state (stopping, rebuilding…); nothing can be submitted.
	PowerBusy
	PowerError
)

// Observed is what a cloud reported about one instance at look-up time.
type Observed struct {
	Found bool
	Image string
	Power Power
	// Raw is the cloud's own state string, for people and for fingerprints.
	Raw string
	// Fault is the cloud's explanation of an error state.
	Fault string
}

// Change is the diff for one instance: what apply would do and why.
type Change struct {
	Instance *Instance
	Action   Action
	// Reason explains blocked (and ok/protected) in words for people.
	Reason string
	// FromImage is the image the instance runs now ("" when unknown).
	FromImage string
	// StopFirst: it runs and has to be stopped for the change.
	StopFirst bool
	Observed  Observed
	// InDoubt: blocked because an earlier change may or may not have happened.
	InDoubt bool
	// Broken says why an earlier run left the instance broken ("" when it
	// did not): whatever its action, apply does not converge over it until it
	// is healthy again or acknowledged, so plan shows it too.
	Broken string
}

// History is what reimage itself recorded about an instance, in its journal
// and in the markers on the instance, beyond what the cloud shows now.
type History struct {
	// DoneToken is the last reinstall token carried out ("" when none).
	DoneToken string
	// InDoubt says why a change (a reinstall, in practice) may or may not have
	// happened: the instance is blocked until a person runs reimage ack.
	InDoubt string
	// Broken says why an earlier run left the instance broken (a failed
	// health check or after hook, an error state, stopped and not started
	// again); "" when it did not.
	Broken string
}

// Diff computes every instance's action from what was observed. observed is
// keyed by Key(provider, id); doneToken returns the last reinstall token that
// completed for an instance ("" when none).
func Diff(p *Plan, observed map[string]Observed, doneToken func(provider, id string) string) []Change {
	var hist func(provider, id string) History
	if doneToken != nil {
		hist = func(provider, id string) History { return History{DoneToken: doneToken(provider, id)} }
	}
	return DiffHistory(p, observed, hist)
}

// DiffHistory is Diff with all that reimage recorded of each instance (nil:
// nothing): a reinstall in doubt blocks the instance, in every run, until it
// is acknowledged.
func DiffHistory(p *Plan, observed map[string]Observed, hist func(provider, id string) History) []Change {
	out := make([]Change, 0, len(p.Instances))
	for _, in := range p.Instances {
		var h History
		if hist != nil {
			h = hist(in.Provider, in.ID)
		}
		c := diffOne(in, observed[Key(in.Provider, in.ID)], h)
		c.Broken = h.Broken
		out = append(out, c)
	}
	return out
}

// Key identifies an instance across providers.
func Key(provider, id string) string { return provider + "/" + id }

func diffOne(in *Instance, o Observed, h History) Change {
	c := Change{Instance: in, Observed: o, FromImage: o.Image}
	switch {
	case in.Protect:
		c.Action, c.Reason = ActionProtected, "protect: true"
		return c
	case !o.Found:
		c.Action, c.Reason = ActionBlocked, "instance not found"
		return c
	case h.InDoubt != "":
		c.Action, c.Reason = ActionBlocked, h.InDoubt+": check it by hand, then run reimage ack"
		c.InDoubt = true
		return c
	}
	wantsReinstall := in.Reinstall != "" && h.DoneToken != in.Reinstall
	if o.Image == in.Image && !wantsReinstall {
		c.Action = ActionOK
		if in.Reinstall != "" {
			c.Reason = fmt.Sprintf("reinstall token %q already done", in.Reinstall)
		}
		return c
	}
	switch o.Power {
	case PowerError:
		c.Action, c.Reason = ActionBlocked, "instance is in an error state ("+o.Raw+")"
		if o.Fault != "" {
			c.Reason += ": " + o.Fault
		}
		return c
	case PowerBusy:
		c.Action, c.Reason = ActionBlocked, "instance is busy ("+o.Raw+"); try again when it has settled"
		return c
	case PowerUnknown:
		// Settled, but not running or stopped (suspended, locked, a state the
		// cloud itself does not know): waiting would not help.
		c.Action, c.Reason = ActionBlocked, "instance is in a state reimage does not change ("+o.Raw+")"
		if o.Fault != "" {
			c.Reason += ": " + o.Fault
		}
		return c
	case PowerRunning:
		if in.Running == RunningSkip {
			c.Action, c.Reason = ActionBlocked, "instance is running and the plan says running: skip"
			return c
		}
		c.StopFirst = true
	}
	if o.Image == in.Image {
		c.Action, c.Reason = ActionReinstall, fmt.Sprintf("reinstall token %q", in.Reinstall)
	} else {
		c.Action = ActionChange
	}
	return c
}

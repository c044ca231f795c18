package plan

import "time"

// ChangeSet is the reviewed value: what apply would change in one scope of a
// plan at one moment, per instance, with the state each instance was observed
// in. The Plan is the desired state; a ChangeSet is the difference between it
// and the fleet as looked up, and what `plan` shows, `plan -out` saves and
// `apply` asks to confirm.
type ChangeSet struct {
	// Plan is the scope the changes were computed for: the plan resolved,
	// narrowed to the targeted instances and the shard, with the rollout
	// overrides applied.
	Plan  *Plan
	Shard Shard
	// Changes has one entry per instance of Plan, in Plan's order.
	Changes []Change
	// Pending counts the calls an earlier run left in doubt, which apply
	// resolves (asking the cloud) before it changes anything.
	Pending int
}

// Mutating returns the changes that change their instance (change, reinstall).
func (cs ChangeSet) Mutating() []*Change {
	var out []*Change
	for i := range cs.Changes {
		if cs.Changes[i].Action.Mutates() {
			out = append(out, &cs.Changes[i])
		}
	}
	return out
}

// Broken returns the changes whose instance an earlier run left broken:
// apply does not converge until each is healthy again or acknowledged.
func (cs ChangeSet) Broken() []*Change {
	var out []*Change
	for i := range cs.Changes {
		if cs.Changes[i].Broken != "" {
			out = append(out, &cs.Changes[i])
		}
	}
	return out
}

// Empty reports whether applying cs would do nothing: no instance to change
// and nothing in doubt to resolve.
func (cs ChangeSet) Empty() bool {
	return cs.Pending == 0 && len(cs.Mutating()) == 0
}

// Save returns the saved plan of cs: the reviewed value that apply applies,
// bound to the plan file (its SHA-256 fileSum) and to the state each instance
// was observed in, so that apply refuses it once either has changed.
func (cs ChangeSet) Save(fileSum string, now time.Time) *Saved {
	return NewSaved(cs.Plan, fileSum, cs.Shard, cs.Changes, now)
}

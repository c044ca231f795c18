package operation

import "github.com/reimage-dev/reimage/plan"

// Narrowing narrows a run or changes its pace without changing its plan: the
// journal, lock and reinstall tokens stay the plan's. It is what the -target,
// -exclude, -concurrency and -max-failures flags give, and what a saved plan
// freezes.
type Narrowing struct {
	Target, Exclude []string
	// Concurrency replaces rollout.concurrency when above 0.
	Concurrency int
	// MaxFailures replaces rollout.maxFailures when set (N or N%).
	MaxFailures string
}

// Targeting is the instance filter of n.
func (n Narrowing) Targeting() plan.Targeting {
	return plan.Targeting{Include: n.Target, Exclude: n.Exclude}
}

// Frozen is what a saved plan records of n.
func (n Narrowing) Frozen() plan.Frozen {
	return plan.Frozen{Target: n.Target, Exclude: n.Exclude, Concurrency: n.Concurrency, MaxFailures: n.MaxFailures}
}

// IsZero reports whether n narrows nothing.
func (n Narrowing) IsZero() bool {
	return n.Targeting().IsZero() && n.Concurrency == 0 && n.MaxFailures == ""
}

// override applies the concurrency and failure budget of n to p's rollout.
// MaxFailures is checked by the command line before (plan.ParseSize).
func (n Narrowing) override(p *plan.Plan) {
	if n.Concurrency == 0 && n.MaxFailures == "" {
		return
	}
	nw := plan.Narrowing{Of: len(p.Instances)}
	if p.Narrowing != nil {
		nw = *p.Narrowing
	}
	if n.Concurrency > 0 {
		p.Rollout.Concurrency, nw.Concurrency = n.Concurrency, true
	}
	if n.MaxFailures != "" {
		p.Rollout.MaxFailures, _ = plan.ParseSize(n.MaxFailures)
		nw.MaxFailures = true
	}
	p.Narrowing = &nw
}

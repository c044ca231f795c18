package plan

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// matchName reports whether name matches the glob pattern (path.Match syntax:
// * ? [a-z] and \ to escape); a malformed pattern is an error whatever the name.
func matchName(pattern, name string) (bool, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return false, fmt.Errorf("%w (globs take * ? [a-z] and \\ to escape)", err)
	}
	ok, _ := path.Match(pattern, name)
	return ok, nil
}

// MatchName is the glob match of a selector's where.name: path.Match syntax on
// the whole name. A malformed pattern matches nothing.
func MatchName(pattern, name string) bool {
	ok, _ := path.Match(pattern, name)
	return ok
}

// Narrowing is how the command line narrowed a run of a plan, for its header.
type Narrowing struct {
	Targeting
	// Of is the number of instances before -target and -exclude.
	Of int
	// Concurrency and MaxFailures: -concurrency and -max-failures replaced the plan's.
	Concurrency, MaxFailures bool
}

// Targeting narrows a run to some of the plan's instances, as -target and
// -exclude do: an instance is in when its id or name matches one of Include
// (or Include is empty) and neither matches any of Exclude.
type Targeting struct {
	Include, Exclude []string
}

// IsZero reports whether the targeting keeps every instance.
func (t Targeting) IsZero() bool { return len(t.Include) == 0 && len(t.Exclude) == 0 }

// Check reports the first malformed pattern, naming its flag.
func (t Targeting) Check() error {
	for _, list := range []struct {
		flag     string
		patterns []string
	}{{"-target", t.Include}, {"-exclude", t.Exclude}} {
		for _, p := range list.patterns {
			if _, err := matchName(p, ""); err != nil {
				return fmt.Errorf("%s %q: %w", list.flag, p, err)
			}
		}
	}
	return nil
}

// Keeps reports whether the targeting keeps the instance.
func (t Targeting) Keeps(in *Instance) bool {
	if len(t.Include) > 0 && !matchesAny(t.Include, in) {
		return false
	}
	return !matchesAny(t.Exclude, in)
}

func matchesAny(patterns []string, in *Instance) bool {
	for _, p := range patterns {
		if MatchName(p, in.ID) || (in.Name != "" && MatchName(p, in.Name)) {
			return true
		}
	}
	return false
}

// Target returns a copy of the plan with only the instances t keeps; rollout
// settings then apply to those alone, while the plan's name (and so its journal,
// lock and tokens) stays. A -target pattern that matches no instance is an
// error: it is a typo far more often than an intent.
func (p *Plan) Target(t Targeting) (*Plan, error) {
	if t.IsZero() {
		return p, nil
	}
	if err := t.Check(); err != nil {
		return nil, err
	}
	used := make([]bool, len(t.Include))
	q := *p
	q.Instances = nil
	q.Narrowing = &Narrowing{Targeting: t, Of: len(p.Instances)}
	if p.Narrowing != nil {
		q.Narrowing.Concurrency, q.Narrowing.MaxFailures = p.Narrowing.Concurrency, p.Narrowing.MaxFailures
	}
	for _, in := range p.Instances {
		for i, pat := range t.Include {
			if MatchName(pat, in.ID) || (in.Name != "" && MatchName(pat, in.Name)) {
				used[i] = true
			}
		}
		if t.Keeps(in) {
			q.Instances = append(q.Instances, in)
		}
	}
	for i, ok := range used {
		if !ok {
			return nil, fmt.Errorf("-target %q matches no instance of the plan (by id or name)", t.Include[i])
		}
	}
	return &q, nil
}

// ParseSize reads a count or "N%" as a command-line flag gives it (-max-failures).
func ParseSize(s string) (Size, error) {
	if strings.HasSuffix(s, "%") {
		p, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
		if err != nil || p < 0 || p > 100 || strings.HasPrefix(s, "+") {
			return Size{}, fmt.Errorf("%q: want a count or a percentage from 0%% to 100%%, like 5 or 10%%", s)
		}
		return Size{Percent: p, IsPercent: true}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || strings.HasPrefix(s, "+") {
		return Size{}, fmt.Errorf("%q: want a count or a percentage from 0%% to 100%%, like 5 or 10%%", s)
	}
	return Size{Count: n}, nil
}

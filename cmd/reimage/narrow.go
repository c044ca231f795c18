package main

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/reimage-dev/reimage/executor/operation"
	"github.com/reimage-dev/reimage/plan"
)

// patternList is a repeatable flag of glob patterns (-target, -exclude).
type patternList []string

func (l *patternList) String() string { return strings.Join(*l, ",") }

func (l *patternList) Set(s string) error {
	if s == "" {
		return fmt.Errorf("empty pattern")
	}
	*l = append(*l, s)
	return nil
}

// concurrencyFlag is -concurrency: 0 is the plan's value when the flag is not
// given, so a 0 given must be refused here rather than silently mean "unset".
type concurrencyFlag int

func (c *concurrencyFlag) String() string {
	if c == nil || *c == 0 {
		return ""
	}
	return strconv.Itoa(int(*c))
}

func (c *concurrencyFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("want a whole number")
	}
	if n < 1 {
		return fmt.Errorf("want at least 1")
	}
	*c = concurrencyFlag(n)
	return nil
}

// narrowFlags are the flags that narrow a run or change its pace without
// changing its plan: the journal, lock and reinstall tokens stay the plan's.
type narrowFlags struct {
	operation.Narrowing
}

func (n *narrowFlags) register(fs *flag.FlagSet) {
	fs.Var((*patternList)(&n.Target), "target", "act only on instances whose id or name matches the glob `PATTERN` (repeatable; * ? [a-z])")
	fs.Var((*patternList)(&n.Exclude), "exclude", "leave out instances whose id or name matches the glob `PATTERN` (repeatable)")
	fs.Var((*concurrencyFlag)(&n.Concurrency), "concurrency", "`N` instances in flight at once (at least 1), instead of the plan's rollout.concurrency")
	fs.StringVar(&n.MaxFailures, "max-failures", "", "failures tolerated (`N or N%`), instead of the plan's rollout.maxFailures")
}

// check refuses malformed flags before anything else happens.
func (n *narrowFlags) check() error {
	if err := n.Targeting().Check(); err != nil {
		return usagef("", "%v", err)
	}
	if n.MaxFailures != "" {
		if _, err := plan.ParseSize(n.MaxFailures); err != nil {
			return usagef("", "-max-failures %v", err)
		}
	}
	return nil
}

// adoptSaved takes a saved plan's narrowing: a saved plan is exactly what was
// reviewed, so flags that would narrow it differently are refused rather than
// silently applied or ignored.
func (n *narrowFlags) adoptSaved(path string, s *plan.Saved) error {
	if !n.IsZero() && (!slices.Equal(n.Target, s.Target) || !slices.Equal(n.Exclude, s.Exclude) ||
		n.Concurrency != s.Concurrency || n.MaxFailures != s.MaxFailures) {
		return usagef("", "saved plan %s was made with %s; it is applied as it was reviewed: drop the flags, or make a new plan with them", path, describeNarrowing(s.Frozen))
	}
	n.Target, n.Exclude, n.Concurrency, n.MaxFailures = s.Target, s.Exclude, s.Concurrency, s.MaxFailures
	return nil
}

func describeNarrowing(f plan.Frozen) string {
	var parts []string
	for _, t := range f.Target {
		parts = append(parts, "-target "+strconv.Quote(t))
	}
	for _, t := range f.Exclude {
		parts = append(parts, "-exclude "+strconv.Quote(t))
	}
	if f.Concurrency != 0 {
		parts = append(parts, fmt.Sprintf("-concurrency %d", f.Concurrency))
	}
	if f.MaxFailures != "" {
		parts = append(parts, "-max-failures "+f.MaxFailures)
	}
	if len(parts) == 0 {
		return "no -target, -exclude, -concurrency or -max-failures"
	}
	return strings.Join(parts, " ")
}

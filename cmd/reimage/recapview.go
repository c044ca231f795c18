package main

import (
	"fmt"
	"io"

	"github.com/reimage-dev/reimage/executor"
)

// recapHeadings name the recap's groups in the order they are shown.
var recapHeadings = []struct{ outcome, heading string }{
	{executor.OutcomeFailed, "Failed"},
	{executor.OutcomeInDoubt, "In doubt"},
	{executor.OutcomeBlocked, "Blocked"},
	{executor.OutcomeNotStarted, "Not started"},
}

// writeRecap prints the end-of-run recap: every instance left failed, in doubt,
// blocked or not started, with its reason and the next step. Instances left
// for the same reason share one line of reason and next step.
func writeRecap(w io.Writer, recap []executor.RecapEntry) {
	if len(recap) == 0 {
		return
	}
	fmt.Fprintf(w, "\nRecap: %s not at the plan's image:\n", plural(len(recap), "instance"))
	for _, h := range recapHeadings {
		var group []executor.RecapEntry
		for _, r := range recap {
			if r.Outcome == h.outcome {
				group = append(group, r)
			}
		}
		if len(group) == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s (%d):\n", h.heading, len(group))
		for i, r := range group {
			label := r.Provider + " " + r.ID
			if r.Name != "" {
				label = r.Provider + " " + r.Name + " (" + r.ID + ")"
			}
			shared := i > 0 && group[i-1].Reason == r.Reason && group[i-1].Next == r.Next
			last := i == len(group)-1 || group[i+1].Reason != r.Reason || group[i+1].Next != r.Next
			switch {
			case !shared && last:
				fmt.Fprintf(w, "    %s: %s\n      next: %s\n", label, r.Reason, r.Next)
			case !shared:
				fmt.Fprintf(w, "    %s\n", label)
			case last:
				fmt.Fprintf(w, "    %s\n      all: %s\n      next: %s\n", label, r.Reason, r.Next)
			default:
				fmt.Fprintf(w, "    %s\n", label)
			}
		}
	}
}

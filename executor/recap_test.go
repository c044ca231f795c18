package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// TestRecapClassifiesFailuresByTypeNotText: the recap's outcome and next step
// come from a failure's type and step; words in a hook's output or a cloud's
// message ("in doubt", "error state") do not change them.
func TestRecapClassifiesFailuresByTypeNotText(t *testing.T) {
	cloudInDoubt := &providers.InDoubtError{Type: "ksyun", Operation: "ModifyInstanceImage", Cause: errors.New("connection reset")}
	tests := []struct {
		name    string
		err     error
		outcome string
		next    string
	}{
		{"a before hook whose output says in doubt", &stepError{StepBeforeHook, errors.New("drain: exit status 1: pool state in doubt; the instance was not touched")},
			OutcomeFailed, "not touched"},
		{"a health check answering a page about an error state", &stepError{StepHealth, errors.New("GET http://10.0.0.1/ answered 500 (service in error state), want 200")},
			OutcomeFailed, "not healthy"},
		{"a refusal whose message mentions an error state", &stepError{StepSubmit, &notTakenError{errors.New("InvalidInstanceState: the instance is not in error state")}},
			OutcomeFailed, "retry it"},
		{"a change the settle window left in doubt, whatever its words", &stepError{StepSubmit, markAs(ErrInDoubt, errors.New("the cloud lost the answer; the instance is busy elsewhere"))},
			OutcomeInDoubt, "asks the cloud"},
		{"a reinstall the journal records in doubt", markAs(ErrInDoubt, &stepError{StepWaitDone, errors.New("timed out")}),
			OutcomeInDoubt, "reimage ack"},
		{"a write whose answer was lost", &stepError{StepStart, cloudInDoubt},
			OutcomeInDoubt, "asks the cloud"},
		{"a write in doubt the cloud then showed not taken", &stepError{StepSubmit, &notTakenError{fmt.Errorf("gave up after 3 submissions the cloud did not take: %w", cloudInDoubt)}},
			OutcomeFailed, "retry it"},
		{"an instance the cloud shows in an error state", &stepError{StepWaitDone, markAs(ErrErrorState, errors.New("rebuild failed: disk error"))},
			OutcomeFailed, "repair it in the console"},
		{"a start that failed", &stepError{StepStart, errors.New("quota exceeded")},
			OutcomeFailed, "the next apply starts it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outcome, next := failedNext(tt.err)
			if outcome != tt.outcome || !strings.Contains(next, tt.next) {
				t.Errorf("failedNext(%q) = %s, %q; want %s, next with %q", tt.err, outcome, next, tt.outcome, tt.next)
			}
		})
	}
}

// TestRecapOfARunClassifiesByType: on the in-memory cloud, a rebuild that
// leaves its instance in an error state (the cloud's reason says nothing of
// states) is shown as one to repair, and a before hook whose output says "in
// doubt" is a failure that left its instance untouched, not a change in doubt.
func TestRecapOfARunClassifiesByType(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "drain.sh")
	if err := os.WriteFile(script, []byte(`#!/bin/sh
if [ "$REIMAGE_INSTANCE_ID" = i-001 ]; then echo "the pool's state is in doubt" >&2; exit 1; fi
`), 0o755); err != nil {
		t.Fatal(err)
	}
	cloud := newFakeCloud(3, false)
	cloud.fail["i-002"] = true
	p := testPlan(cloud, []plan.Wave{{Size: plan.Size{Count: 3}}}, plan.Size{Count: 2}, 1)
	p.Rollout.Hooks.Before = &plan.Hook{Command: mustTemplates(t, script), Timeout: 5 * time.Second}
	sum, events := runGated(t, cloud, p, nil)
	if sum.Done != 1 || sum.Failed != 2 {
		t.Fatalf("summary %+v, want 1 done and 2 failed", sum)
	}
	got := map[string]RecapEntry{}
	for _, r := range recapOf(events) {
		got[r.ID] = r
	}
	if r := got["i-001"]; r.Outcome != OutcomeFailed || !strings.Contains(r.Next, "not touched") {
		t.Errorf("i-001 (before hook failed) in the recap: %+v; want failed, not touched", r)
	}
	if r := got["i-002"]; r.Outcome != OutcomeFailed || !strings.Contains(r.Next, "error state") {
		t.Errorf("i-002 (rebuild left it in an error state) in the recap: %+v; want failed, repair the error state", r)
	}
	if len(got) != 2 {
		t.Errorf("recap %+v, want i-001 and i-002", got)
	}
}

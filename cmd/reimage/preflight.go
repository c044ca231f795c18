package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/plan"
)

// preflight runs the checks before any change (executor.Preflight) on the
// changes just looked up: it blocks the instances whose image or key pair
// fails, and fails on a password that does not resolve or breaks its cloud's
// policy (one error per secret).
func (f *fleet) preflight(ctx context.Context, changes []plan.Change, logger *slog.Logger) (executor.PreflightResult, error) {
	return executor.Preflight(ctx, f.providers, changes, f.secretResolver(logger))
}

// refuseBadImages is apply's rule: while any target image fails pre-flight,
// nothing starts, not even the instances whose images are fine — an image id
// wrong in one place is often wrong elsewhere too.
func refuseBadImages(res executor.PreflightResult) error {
	if len(res.BadImages) == 0 {
		return nil
	}
	what := "1 target image fails"
	if n := len(res.BadImages); n > 1 {
		what = fmt.Sprintf("%d target images fail", n)
	}
	return fmt.Errorf("apply refuses to start: %s pre-flight; no instance was touched:\n  %s\nFix the plan (reimage plan shows the blocked instances), then run apply again",
		what, strings.Join(res.BadImages, "\n  "))
}

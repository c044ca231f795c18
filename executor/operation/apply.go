package operation

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/plan"
)

// ApplyView is what apply shows, in the order it happens. Observe receives the
// engine's events (from many goroutines, see executor.Observer); the other
// methods are called from the goroutine running Apply.
type ApplyView interface {
	executor.Observer
	// Locked: the lock is held. Outputs that must not run for a run refused
	// on the lock (it would report over the run that holds it) start here.
	Locked()
	// Review shows the change set before the confirmation; an error ends the
	// operation before any change.
	Review(cs plan.ChangeSet) error
	// Running: the change set is confirmed and the first call that changes
	// something comes next. It returns what to call when the run ends (before
	// Finished).
	Running() (stop func())
	// Finished: the operation's error (nil when it converged), after the run
	// and before the lock is released.
	Finished(err error)
}

// ApplyOptions configure Apply. The state layout (which lock and journal a
// plan and shard use, and which other journals to adopt) is the caller's.
type ApplyOptions struct {
	// LockPath and JournalPath are the plan's state files; the directory of
	// LockPath is created (0700) when missing.
	LockPath, JournalPath string
	// Holder names this run in the lock, for the error a second run prints.
	Holder executor.Holder
	// Adopt, when set, takes over into the journal just opened what other
	// journals of the plan hold for this run's instances.
	Adopt func(*executor.Journal) error
	// RunID names the run in the journal.
	RunID string
	// PollInterval and Settle are the engine's (executor.Options).
	PollInterval, Settle time.Duration
	// WaitEstimate is the engine's (executor.Options): it is called only
	// once the run has begun, after the view's Review.
	WaitEstimate func(provider string, w executor.Wait) time.Duration
	// Drain, when closed, stops new instances from starting; before the first
	// change it ends the operation with ErrInterrupted.
	Drain <-chan struct{}
	// AutoApprove skips the confirmation.
	AutoApprove bool
	// Confirm asks whether to apply cs; an error refuses, and nothing changes.
	// It is called only when cs changes something or resolves calls in doubt.
	Confirm func(ctx context.Context, cs plan.ChangeSet) error
	// Quiesce, when set, is called after the run with the lock still held:
	// it waits for the clients' calls in flight (closing them), so that the
	// next run cannot start while a call of this one is on its way.
	Quiesce func()
}

// Result is what Apply did.
type Result struct {
	// ChangeSet is what was reviewed (and confirmed, when the run began).
	ChangeSet plan.ChangeSet
	// Summary is the engine's count of the run (zero when it did not begin).
	Summary executor.Summary
}

// NotConvergedError: the run began, so something may have changed, and it did
// not converge. Err is why, or nil when the run's events reported it.
type NotConvergedError struct{ Err error }

func (e *NotConvergedError) Error() string {
	if e.Err == nil {
		return "the run did not converge"
	}
	return e.Err.Error()
}

// Unwrap returns why.
func (e *NotConvergedError) Unwrap() error { return e.Err }

// ErrInterrupted: a signal (Drain) came after the review and before the first
// change.
var ErrInterrupted = errors.New("interrupted before any change")

// ErrBadImages is wrapped by the refusal to start while a target image fails
// pre-flight.
var ErrBadImages = errors.New("apply refuses to start")

// Apply converges f: it takes the lock, opens the journal, looks the fleet up
// and checks it before any change (a saved plan whose fleet changed since is
// refused with ErrStale), shows the change set, asks for confirmation,
// resolves what earlier runs left in doubt, looks again, and runs the engine.
// Every error before the first change is returned as is (nothing changed);
// after it, as a *NotConvergedError.
func Apply(ctx context.Context, f *Fleet, opts ApplyOptions, view ApplyView) (res Result, err error) {
	if err := os.MkdirAll(filepath.Dir(opts.LockPath), 0o700); err != nil {
		return res, fmt.Errorf("state directory: %w", err)
	}
	lock, err := executor.AcquireLock(opts.LockPath, opts.Holder)
	if err != nil {
		return res, err
	}
	defer func() {
		if opts.Quiesce != nil {
			opts.Quiesce()
		}
		lock.Release()
	}()
	view.Locked()
	defer func() { view.Finished(err) }()
	return applyLocked(ctx, f, opts, view)
}

// applyLocked is Apply once the lock is held.
func applyLocked(ctx context.Context, f *Fleet, opts ApplyOptions, view ApplyView) (Result, error) {
	var res Result
	journal, err := executor.OpenJournal(opts.JournalPath, nil)
	if err != nil {
		return res, err
	}
	defer journal.Close()
	if opts.Adopt != nil {
		if err := opts.Adopt(journal); err != nil {
			return res, err
		}
	}
	cs, pre, err := f.changeSet(ctx, journal)
	if err != nil {
		return res, err
	}
	res.ChangeSet = cs
	if err := view.Review(cs); err != nil {
		return res, err
	}
	ex := executor.New(executor.Options{
		Plan: f.Plan, Providers: f.Providers, Journal: journal, Observer: view, RunID: opts.RunID,
		PollInterval: opts.PollInterval, Drain: opts.Drain, Secret: f.Secret, Settle: opts.Settle,
		WaitEstimate: opts.WaitEstimate,
	})
	if err := refuseBadImages(pre); err != nil {
		return res, resolveRefused(ctx, ex, cs, view, err)
	}
	if err := ex.ResolveSecrets(cs.Changes); err != nil {
		return res, err
	}
	if !cs.Empty() && !opts.AutoApprove {
		if opts.Confirm == nil {
			return res, errors.New("apply: no confirmation and no auto-approve")
		}
		if err := opts.Confirm(ctx, cs); err != nil {
			return res, err
		}
	}
	select {
	case <-opts.Drain:
		return res, ErrInterrupted
	default:
	}
	defer view.Running()()

	changes := cs.Changes
	if cs.Pending > 0 {
		if err := ex.Resolve(ctx); err != nil {
			return res, &NotConvergedError{Err: err}
		}
		// What was resolved may have changed the fleet: look again.
		if changes, err = f.relook(ctx, journal); err != nil {
			return res, &NotConvergedError{Err: err}
		}
		if _, err := f.preflight(ctx, changes); err != nil {
			return res, &NotConvergedError{Err: err}
		}
	}
	sum, err := ex.Apply(ctx, changes)
	res.Summary = sum
	if err != nil {
		return res, &NotConvergedError{Err: err}
	}
	if !sum.Converged() && !sum.OnlyOutsideWindow() {
		return res, &NotConvergedError{}
	}
	return res, nil
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
	return fmt.Errorf("%w: %s pre-flight; no change was started:\n  %s\nFix the plan (reimage plan shows the blocked instances), then run apply again",
		ErrBadImages, what, strings.Join(res.BadImages, "\n  "))
}

// resolveRefused is a refused run's last duty: what earlier runs left in
// doubt (an instance a killed run stopped, a change it submitted) is
// resolved, as every run does before its own changes, so that a bad image
// found now does not keep instances stopped until the plan is fixed.
// Resolving submits nothing; like a run with nothing to do, it needs no
// confirmation. refused is returned, with what resolving could not do.
func resolveRefused(ctx context.Context, ex *executor.Executor, cs plan.ChangeSet, view ApplyView, refused error) error {
	if cs.Pending == 0 {
		return refused
	}
	stop := view.Running()
	defer stop()
	err := ex.Resolve(ctx)
	if err == nil {
		err = ex.RestoreEarlier(ctx)
	}
	if err != nil {
		return errors.Join(refused, fmt.Errorf("resolving what earlier runs left: %w", err))
	}
	return refused
}

// Review is the look-up and diff of `plan`: it reads the journal at
// journalPath for what earlier runs recorded, with what the other journals of
// the state directory hold for the plan's instances that apply would adopt
// (executor.ReadWithOthers; without locking or writing any: nothing changes),
// looks the fleet up and checks it before any change. The plan is resolved
// first: the instances selectors choose are the run's too.
func Review(ctx context.Context, f *Fleet, journalPath string) (plan.ChangeSet, error) {
	if err := f.Resolve(ctx); err != nil {
		return plan.ChangeSet{}, err
	}
	j, err := executor.ReadWithOthers(journalPath, f.AdoptScope())
	if err != nil {
		return plan.ChangeSet{}, err
	}
	cs, _, err := f.changeSet(ctx, j)
	return cs, err
}

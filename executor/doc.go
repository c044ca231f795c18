// Package executor is the rollout engine: it looks a plan's instances up, and
// applies the changes in waves, with at most rollout.concurrency instances in
// flight, a failure budget checked as failures happen and after each wave,
// pauses between waves, a per-instance timeout, and a crash-safe journal that
// records the intent of every non-idempotent call before it is made, so that a
// later run resolves what a crash left in doubt by asking the cloud instead of
// submitting again.
//
// It never prints: what happens is reported as Events to an Observer, which the
// command line renders (text, JSON lines, metrics).
package executor

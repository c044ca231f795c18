package providers

import "time"

// StepDurations are how long a cloud's steps typically take: the rollout
// forecast's defaults (executor/forecast) until a run has observed them in
// the region. Each is the cloud's time, from the call until the instance
// shows the result.
type StepDurations struct {
	// Stop: a stop call until the instance is stopped.
	Stop time.Duration
	// Change: the change of a stopped instance until the cloud reports it
	// done (with the boot, on a cloud that boots the rebuilt instance).
	Change time.Duration
	// ChangeRunning: the change of a running instance on a cloud whose change
	// call stops and starts it itself (Capabilities.ChangeStopsRunning).
	ChangeRunning time.Duration
	// Start: a start call until the instance runs.
	Start time.Duration
	// Call: one API call's answer.
	Call time.Duration
}

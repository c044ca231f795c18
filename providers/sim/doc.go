// Package sim is the cloud-neutral core of reimage's simulator: a local,
// faithful stand-in for the clouds reimage drives, served by one HTTP server.
// The core keeps the fleet (instances with states that move over time), the
// image catalogue, the clock, rate limits per provider type, faults and
// counters, and the inspection API; each cloud's API is a front-end
// (Frontend) living beside that cloud's driver and registered through the
// driver registry (providers.Driver.Simulator). The core names no cloud.
//
// It is strict, not lenient: the front-ends verify requests with the same
// signing code the clients use, check parameters as the reference documents
// them, and answer in the clouds' JSON shapes and error codes, so that a
// client that would fail against the real cloud fails here too. Instances
// move through real states with durations (stop, rebuild, start) evaluated
// lazily from timestamps, so a fleet of 100,000 instances costs no goroutine
// or timer. Faults (rate limits, latency, 5xx answers, failed rebuilds, lost
// answers, queued changes, locked and unknown instances) are options.
//
// Decisions where the references are silent, common to every cloud (each
// front-end's package lists its own):
//   - A stop is accepted from the error state (so that a failed instance can be
//     recovered); every other operation on an error instance is refused.
//   - A rebuild ends with the instance running, whether it was running or
//     stopped before. A failed rebuild leaves the image unchanged and the
//     instance in the cloud's error state.
//   - A reinstall counts as a change: changes counts OS installs actually
//     performed.
//   - Faults after the effect (Options.LostAnswer*, Gateway502*) hit writes
//     only, once the cloud has carried them out: a stop or start that changed
//     nothing (every id refused) is answered normally. A lost answer closes
//     the connection (HTTP/1: hijacked; HTTP/2: the stream is reset). A queued
//     change (Options.Queue*) shows nothing for QueueDelay; an operation that
//     arrives meanwhile is accepted as if nothing were queued, and the queued
//     change still counts as an install (changes) and as "superseded".
//   - Throttling and injected 5xx answers happen before any effect; the order
//     is rate limit, signature (and the project, for clouds scoped to one),
//     5xx fault, then the operation's own checks.
//   - Locked and unknown instances (Options.LockedIDs, UnknownIDs): every
//     operation on them is refused, in the cloud's words; the state underneath
//     does not change, and both can come and go at run time.
//   - Tags and metadata survive every rebuild: the references are silent, and
//     neither lives on the system disk.
//   - Images (catalog.go): an image without details is active and named
//     "image-" and its id's first 8 characters; the front-end fills the rest.
//     MissingImages are unknown everywhere; UnusableImages are in the state
//     the front-end names; a change to either, or to any image not active, is
//     refused as for an unknown image.
//   - Private addresses are unique across every cloud, in 127.0.0.0/8 from
//     127.0.1.1 (host parts 0 and 255 skipped), in order of creation; the
//     zone is the instance's, else its region + "a".
//
// Inspection endpoints, not signed, not throttled, not counted:
//   - GET /_sim/instances: [{"provider","id","image","state","changes","name",
//     "zone","privateIp","tags","marks"}] (tags and marks omitted when empty),
//     by front-end in registration order, state as the cloud spells it
//   - GET /_sim/stats: {"requests":{"<provider>/<operation>/<status>":N},"throttled":N,
//     "faults":{"<kind>/<provider>/<operation>":N}}; status 0 is a lost answer
//     and the operation is named as the front-end documents.
package sim

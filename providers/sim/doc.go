// Package sim is a local, faithful stand-in for the two clouds reimage drives:
// Kingsoft Cloud KEC (query API at "/", SigV4 service "kec") and Huawei Cloud
// ECS (REST API under "/v1/{project_id}/", SDK-HMAC-SHA256), served by one HTTP
// server.
//
// It is strict, not lenient: requests are verified with the same signing code
// the clients use (providers/ksyun and providers/huaweicloud), parameters are
// checked as the reference documents them, and answers carry the clouds' JSON
// shapes and error codes, so that a client that would fail against the real
// cloud fails here too. Instances move through real states with durations
// (stop, rebuild, start; ECS jobs with sub-jobs) evaluated lazily from
// timestamps, so a fleet of 100,000 instances costs no goroutine or timer.
// Faults (rate limits, latency, 5xx answers, failed rebuilds) are options.
//
// Decisions where the reference is silent, kept here so that tests and users
// can rely on them:
//   - KEC answers JSON when Accept names application/json, XML otherwise (an
//     element per JSON field, arrays as <item> elements).
//   - KEC StopInstances on a stopped instance and StartInstances on a running
//     one answer Return=false with a message for that id (per-id results; the
//     batch as a whole succeeds). Unknown ids are per-id failures too.
//   - A stop is accepted from the error state (so that a failed instance can be
//     recovered); every other operation on an error instance is refused.
//   - A KEC rebuild boots the instance by itself (rebuilding, then starting,
//     then active). An ECS changeos or reinstallos always ends ACTIVE: a running
//     server (mode withStopServer) goes powering-off, REBUILD, powering-on; a
//     SHUTOFF server goes REBUILD, powering-on. A failed rebuild leaves the image
//     unchanged and the instance in error (KEC "error", ECS "ERROR" with a
//     fault, job FAIL).
//   - A reinstall (KEC without ImageId, ECS reinstallos) counts as a change:
//     changes counts OS installs actually performed.
//   - ECS os-stop / os-start: one sub-job per server; a server already in the
//     wanted state succeeds at once, a busy or unknown server fails its sub-job
//     (Ecs.0100 / Ecs.0114); the job FAILs when any sub-job fails.
//   - Faults after the effect (Options.LostAnswer*, Gateway502*) hit writes
//     only, once the cloud has carried them out: a stop or start that changed
//     nothing (every id refused) is answered normally. A lost answer closes
//     the connection (HTTP/1: hijacked; HTTP/2: the stream is reset). A queued
//     change (Options.Queue*) shows nothing for QueueDelay; an operation that
//     arrives meanwhile is accepted as if nothing were queued, and the queued
//     change still counts as an install (changes) and as "superseded".
//   - Throttling and injected 5xx answers happen before any effect; the order
//     is rate limit, signature (and for ECS the project), 5xx fault, then the
//     operation's own checks.
//   - Error codes the seed does not name, chosen to follow its patterns: KEC
//     InstancePasswordInvalidParameterValue (password policy), MissingParameter
//     (no Action, Version, InstanceId, or none of KeepImageLogin /
//     InstancePassword / KeyId.N), InvalidParameterValue (MaxResults, Marker,
//     filters, Version, UserData not base64 or over 16 KiB, ResizeType),
//     InstanceIdLimitExceeded (over 100 InstanceId.N, all three actions),
//     InvalidAction, RequestTimeTooSkewed (403), UnsupportedMediaType (415, a
//     POST body that is not a form), RootDiskGbInvalidParameterValue
//     (SystemDisk.DiskSize outside 20..500). ECS: a request whose X-Project-Id
//     differs from the path's project, or for a project the account lacks, is
//     401 APIGW.0301; an unknown or expired job is 404 Ecs.0005; changeos and
//     reinstallos bodies with unknown fields, a mode other than withStopServer
//     or BYOL other than "true" are Ecs.0005; POST bodies must be
//     application/json. A path no API matches is 404 APIGW.0101.
//   - The KEC family shares "/": Version names the service (2016-03-04 KEC,
//     2020-09-01 tagv2, 2015-11-01 sks), the Action must be that service's
//     (else InvalidAction) and the SigV4 scope must name it (else
//     SignatureDoesNotMatch). IMS (/v2/cloudimages, project from the signed
//     X-Project-Id) and KPS (/v3/{project}/keypairs/{name}, 404 KPS.0002 when
//     absent) share the ECS server, told apart by path.
//   - Tags (catalog.go, kecfamily.go): CreateTagAndAttachResource sets one
//     key and keeps the others (a key has one value per instance);
//     DetachResourceTags takes ResourceUuids and TagKeys (comma-separated);
//     ListTagsByResourceIds has no id limit; TagId is a hash of key and value.
//     An unknown ResourceUuid to attach to is 400 ResourceNotFound.
//   - ECS metadata (ecsmeta.go): POST …/metadata is refused (409 Ecs.0100)
//     during a transition or in ERROR; user keys never hide system keys
//     (vpc_id, metering.image_id…) in the detail's metadata. The tags filter
//     of the detail listing needs every tags=key=value given; name is fuzzy
//     ("." any character); marker pages after the given id.
//   - Locked and UNKNOWN servers (Options.LockedIDs, UnknownIDs): ECS shows
//     "locked": true (status unchanged) or status UNKNOWN with no task; every
//     operation on either (changeos, reinstallos, os-stop/os-start sub-jobs,
//     metadata) is refused, a locked one with 409 Ecs.0605 (the reference
//     gives the code, Nova's 409 the status), an UNKNOWN one with 400
//     Ecs.0100. KEC has neither and ignores both.
//   - Tags and metadata survive every rebuild (ModifyInstanceImage, changeos,
//     reinstallos): the references are silent, and neither lives on the
//     system disk.
//   - Images (catalog.go): an image without details is active, named
//     "image-" and its id's first 8 characters, KEC SysDisk 20, Huawei min_disk
//     40, FusionCompute. MissingImages are unknown everywhere; UnusableImages
//     are "deactivated" (KEC) or "killed" (Huawei); a change to either, or to
//     any image not active, is refused as for an unknown image.
//   - Private addresses are unique across both clouds, in 127.0.0.0/8 from
//     127.0.1.1 (host parts 0 and 255 skipped), in order of creation; the
//     zone is the instance's, else its region + "a".
//
// Inspection endpoints, not signed, not throttled, not counted:
//   - GET /_sim/instances: [{"provider","id","image","state","changes","name",
//     "zone","privateIp","tags","marks"}] (tags and marks omitted when empty)
//   - GET /_sim/stats: {"requests":{"<provider>/<operation>/<status>":N},"throttled":N,
//     "faults":{"<kind>/<provider>/<operation>":N}}; status 0 is a lost answer
//     where operation is the KEC Action (an unsupported one counts as
//     "InvalidAction") or the official ECS SDK's operation name
//     (ListServersDetails, ShowServer, ChangeServerOsWithoutCloudInit,
//     ReinstallServerWithoutCloudInit, BatchStopServers, BatchStartServers,
//     ShowJob, UpdateServerMetadata, ListImages, ListKeypairDetail;
//     "BatchServerAction" for an action body naming neither os-stop
//     nor os-start, "Unknown" for a path no API matches).
package sim

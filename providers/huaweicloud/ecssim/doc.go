// Package ecssim is the simulator front-end of Huawei Cloud ECS: its REST API
// under "/v1/{project_id}/" (servers, changeos and reinstallos, batch power
// actions, jobs with sub-jobs, metadata), IMS under "/v2/cloudimages" and KPS
// under "/v3/{project_id}/keypairs/", SDK-HMAC-SHA256 verified with the
// client's own code (providers/huaweicloud), ECS's answers, states and error
// codes, over the cloud-neutral core of package sim, which lists the
// decisions common to every cloud.
//
// Decisions where ECS's references are silent:
//   - changeos or reinstallos always ends ACTIVE: a running server (mode
//     withStopServer) goes powering-off, REBUILD, powering-on; a SHUTOFF
//     server goes REBUILD, powering-on. A failed one ends ERROR with a fault
//     and its job FAIL; changeos is allowed from there.
//   - os-stop / os-start: one sub-job per server; a server already in the
//     wanted state succeeds at once, a busy or unknown server fails its sub-job
//     (Ecs.0100 / Ecs.0114); the job FAILs when any sub-job fails.
//   - A request whose X-Project-Id differs from the path's project, or for a
//     project the account lacks, is 401 APIGW.0301; an unknown or expired job
//     is 404 Ecs.0005; changeos and reinstallos bodies with unknown fields, a
//     mode other than withStopServer or BYOL other than "true" are Ecs.0005;
//     POST bodies must be application/json. A path no API matches is 404
//     APIGW.0101. IMS (/v2/cloudimages, project from the signed X-Project-Id)
//     and KPS (/v3/{project}/keypairs/{name}, 404 KPS.0002 when absent) share
//     the server, told apart by path.
//   - Metadata (meta.go): POST …/metadata is refused (409 Ecs.0100) during a
//     transition or in ERROR; user keys never hide system keys (vpc_id,
//     metering.image_id…) in the detail's metadata. The tags filter of the
//     detail listing needs every tags=key=value given; name is fuzzy ("."
//     any character); marker pages after the given id. reimage's markers are
//     metadata.
//   - Locked and UNKNOWN servers (Options.LockedIDs, UnknownIDs): a locked
//     server shows "locked": true (status unchanged), an unknown one status
//     UNKNOWN with no task; every operation on either (changeos,
//     reinstallos, os-stop/os-start sub-jobs, metadata) is refused, a locked
//     one with 409 Ecs.0605 (the reference gives the code, Nova's 409 the
//     status), an UNKNOWN one with 400 Ecs.0100.
//   - Prepaid servers (Options.PrepaidIDs, Instance.Prepaid): metadata
//     charging_mode "1"; a change without isAutoPay "true" leaves its job in
//     PENDING_PAYMENT (an order kept 14 days) and the server untouched.
//   - Images: min_disk 40, __platform CentOS, FusionCompute unless
//     catalogued; an unusable image is "killed"; only a FusionCompute image
//     goes on a system disk.
//
// In /_sim/stats the operation is the official SDK's operation name
// (ListServersDetails, ShowServer, ChangeServerOsWithoutCloudInit,
// ReinstallServerWithoutCloudInit, BatchStopServers, BatchStartServers,
// ShowJob, UpdateServerMetadata, ListImages, ListKeypairDetail;
// "BatchServerAction" for an action body naming neither os-stop nor
// os-start, "Unknown" for a path no API matches).
package ecssim

// Package kecsim is the simulator front-end of Kingsoft Cloud KEC: its query
// API at "/" (KEC 2016-03-04, the tag service 2020-09-01 and SKS 2015-11-01,
// told apart by Version), SigV4 (service "kec") verified with the client's
// own code (providers/ksyun), KEC's answers, states and error codes, over
// the cloud-neutral core of package sim, which lists the decisions common to
// every cloud.
//
// Decisions where KEC's references are silent:
//   - KEC answers JSON when Accept names application/json, XML otherwise (an
//     element per JSON field, arrays as <item> elements).
//   - StopInstances on a stopped instance and StartInstances on a running
//     one answer Return=false with a message for that id (per-id results; the
//     batch as a whole succeeds). Unknown ids are per-id failures too.
//   - A rebuild boots the instance by itself (rebuilding, then starting,
//     then active); a failed one ends in "error". A reinstall (no ImageId)
//     shows as "overriding".
//   - Error codes the seed does not name, chosen to follow its patterns:
//     InstancePasswordInvalidParameterValue (password policy), MissingParameter
//     (no Action, Version, InstanceId, or none of KeepImageLogin /
//     InstancePassword / KeyId.N), InvalidParameterValue (MaxResults, Marker,
//     filters, Version, UserData not base64 or over 16 KiB, ResizeType),
//     InstanceIdLimitExceeded (over 100 InstanceId.N, all three actions),
//     InvalidAction, RequestTimeTooSkewed (403), UnsupportedMediaType (415, a
//     POST body that is not a form), RootDiskGbInvalidParameterValue
//     (SystemDisk.DiskSize outside 20..500).
//   - The KEC family shares "/": Version names the service (2016-03-04 KEC,
//     2020-09-01 tagv2, 2015-11-01 sks), the Action must be that service's
//     (else InvalidAction) and the SigV4 scope must name it (else
//     SignatureDoesNotMatch).
//   - Tags (family.go): CreateTagAndAttachResource sets one key and keeps the
//     others (a key has one value per instance); DetachResourceTags takes
//     ResourceUuids and TagKeys (comma-separated); ListTagsByResourceIds has
//     no id limit; TagId is a hash of key and value. An unknown ResourceUuid
//     to attach to is 400 ResourceNotFound. reimage's markers are tags.
//   - Images: SysDisk 20 and platform centos-7.9 unless catalogued;
//     an unusable image is "deactivated".
//   - KEC has no locked or unknown instances: Options.LockedIDs and
//     UnknownIDs do not apply to it; nor do prepaid ones.
//
// In /_sim/stats the operation is the KEC Action (an unsupported one counts
// as "InvalidAction").
package kecsim

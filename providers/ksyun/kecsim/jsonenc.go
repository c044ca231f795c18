package kecsim

import (
	"encoding/json"
	"strconv"
	"sync"
	"unicode/utf8"
)

// A hand-written encoder for the KEC listing: DescribeInstances of 100 ids is
// what every lookup of the engine costs, and reflection-based encoding was
// half of the simulator's time under load. Field names and order are those of
// the struct tags; TestKECDescribeEncoder checks it matches encoding/json.

// jsonAppender is a response that can append its own JSON.
type jsonAppender interface {
	appendJSON(b []byte) []byte
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// jsonSafe marks the bytes encoding/json writes as they are inside a string.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string, as encoding/json writes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonSafe[s[i]] {
			// Rare in this simulator: let encoding/json handle escapes exactly.
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func (r kecDescribeResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"RequestId":`...)
	b = appendString(b, r.RequestID)
	b = append(b, `,"Marker":`...)
	b = strconv.AppendInt(b, int64(r.Marker), 10)
	b = append(b, `,"InstanceCount":`...)
	b = strconv.AppendInt(b, int64(r.InstanceCount), 10)
	b = append(b, `,"InstancesSet":[`...)
	for i := range r.InstancesSet {
		if i > 0 {
			b = append(b, ',')
		}
		b = r.InstancesSet[i].appendJSON(b)
	}
	return append(b, "]}"...)
}

// MarshalJSON makes encoding/json (the XML path, tests) use the same encoder.
func (r kecDescribeResponse) MarshalJSON() ([]byte, error) { return r.appendJSON(nil), nil }

func (v *kecInstance) appendJSON(b []byte) []byte {
	if v.head != "" {
		b = append(b, v.head...)
	} else {
		b = appendKECHead(b, v)
	}
	b = append(b, `,"ImageId":`...)
	b = appendString(b, v.ImageID)
	b = append(b, `,"InstanceState":{"Name":`...)
	b = appendString(b, v.InstanceState.Name)
	b = append(b, `,"TaskState":`...)
	b = appendString(b, v.InstanceState.TaskState)
	b = append(b, `},"SystemDisk":{"DiskType":`...)
	b = appendString(b, v.SystemDisk.DiskType)
	b = append(b, `,"DiskSize":`...)
	b = strconv.AppendInt(b, int64(v.SystemDisk.DiskSize), 10)
	b = append(b, `},"KeySet":`...)
	if v.KeySet == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, k := range v.KeySet {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
		}
		b = append(b, ']')
	}
	if v.tail != "" {
		return append(b, v.tail...)
	}
	return appendKECTail(b, v)
}

// appendKECHead writes the fields before ImageId, which never change for an
// instance: addInstance caches them as inst.kecHead.
func appendKECHead(b []byte, v *kecInstance) []byte {
	b = append(b, `{"InstanceId":`...)
	b = appendString(b, v.InstanceID)
	b = append(b, `,"InstanceName":`...)
	b = appendString(b, v.InstanceName)
	b = append(b, `,"InstanceType":`...)
	return appendString(b, v.InstanceType)
}

// appendKECTail writes the fields after KeySet, fixed too (inst.kecTail).
func appendKECTail(b []byte, v *kecInstance) []byte {
	b = append(b, `,"PrivateIpAddress":`...)
	b = appendString(b, v.PrivateIPAddress)
	b = append(b, `,"ChargeType":`...)
	b = appendString(b, v.ChargeType)
	b = append(b, `,"CreationDate":`...)
	b = appendString(b, v.CreationDate)
	b = append(b, `,"AvailabilityZone":`...)
	b = appendString(b, v.AvailabilityZone)
	b = append(b, `,"ProjectId":`...)
	b = strconv.AppendInt(b, v.ProjectID, 10)
	b = append(b, `,"NetworkInterfaceSet":`...)
	b = appendKECInterfaces(b, v.NetworkInterfaceSet)
	return append(b, '}')
}

package ecssim

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/reimage-dev/reimage/providers/sim"
)

// ECS server metadata (reimage's markers) and tags (selection).

// opUpdateMetadata is the official SDK's name of POST …/cloudservers/{id}/metadata.
const opUpdateMetadata = "UpdateServerMetadata"

// MarshalJSON writes the system keys and the user's metadata in one object;
// a user key never hides a system one.
func (m ecsMetadata) MarshalJSON() ([]byte, error) {
	type plain ecsMetadata
	b, err := json.Marshal(plain(m))
	if err != nil || len(m.user) == 0 {
		return b, err
	}
	all := map[string]string{}
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	for k, v := range m.user {
		if _, system := all[k]; !system {
			all[k] = v
		}
	}
	return json.Marshal(all)
}

// ecsTags are the server's tags as ECS lists them: "key=value", sorted.
func ecsTags(in *sim.Inst) []string {
	out := make([]string, 0, len(in.Tags))
	for _, k := range slices.Sorted(maps.Keys(in.Tags)) {
		out = append(out, k+"="+in.Tags[k])
	}
	return out
}

type metadataBody struct {
	Metadata map[string]string `json:"metadata"`
}

var ecsMetaKey = regexp.MustCompile(`^[A-Za-z0-9_:.-]{1,255}$`)

// ecsUpdateMetadata is POST /v1/{project}/cloudservers/{id}/metadata: new
// keys are added, existing ones overwritten, the others kept. ECS takes it
// only while the server is active, stopped, paused or suspended; the
// simulator refuses it during any transition and in error. The answer is the
// server's user metadata. It survives changeos and reinstallos (an
// assumption: the reference is silent; the rebuild replaces the system disk).
func (s *frontend) ecsUpdateMetadata(rt ecsRoute, body []byte) (any, *apiError) {
	var b metadataBody
	if err := decodeStrict(body, &b); err != nil || b.Metadata == nil {
		return nil, ecsBad(`the body must be {"metadata": {"key": "value", …}}`)
	}
	for k, v := range b.Metadata {
		if !ecsMetaKey.MatchString(k) {
			return nil, ecsBad("metadata key %q must be 1 to 255 characters of A-Z a-z 0-9 - _ : .", k)
		}
		if len(v) > 255 {
			return nil, ecsBad("metadata %s: value longer than 255 characters", k)
		}
	}
	s.Lock()
	defer s.Unlock()
	in, e := s.ecsServerByID(rt)
	if e != nil {
		return nil, e
	}
	if e := ecsRefusal(in); e != nil {
		return nil, e
	}
	if in.State.Transitional() || in.State == sim.StateError {
		status, task, _ := ecsState(in)
		return nil, ecsErr(http.StatusConflict, "Ecs.0100", "The ECS status does not allow this operation: status %s, task_state %s.", status, task)
	}
	if in.Meta == nil {
		in.Meta = map[string]string{}
	}
	maps.Copy(in.Meta, b.Metadata)
	return metadataBody{Metadata: maps.Clone(in.Meta)}, nil
}

// ecsListFilter is what the detail listing filters on besides server_id.
type ecsListFilter struct {
	name   *regexp.Regexp // fuzzy: "." is any character
	status string
	ip     string
	tags   map[string]string
}

func newECSListFilter(q url.Values) ecsListFilter {
	f := ecsListFilter{status: q.Get("status"), ip: q.Get("ip")}
	if n := q.Get("name"); n != "" {
		parts := strings.Split(n, ".")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		f.name = regexp.MustCompile(strings.Join(parts, "."))
	}
	if t := q["tags"]; len(t) > 0 {
		// Each tags= is "key=value"; a server must have every one (how ECS
		// combines several is not documented: the simulator takes all).
		var pairs []string
		for _, v := range t {
			pairs = append(pairs, strings.Split(v, ",")...)
		}
		f.tags = sim.ParseTagPairs(pairs)
	}
	return f
}

// matches applies the filter to a settled server.
func (f ecsListFilter) matches(in *sim.Inst) bool {
	st, _, _ := ecsState(in)
	return (f.name == nil || f.name.MatchString(in.Name)) &&
		(f.status == "" || st == f.status) &&
		(f.ip == "" || strings.Contains(in.IP, f.ip)) &&
		sim.HasTags(in.Tags, f.tags)
}

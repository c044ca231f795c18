package plan

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard is one share of a plan's instances: index I of N, 0-based so that a
// Kubernetes Indexed Job's JOB_COMPLETION_INDEX can be passed as it is.
type Shard struct {
	Index, Count int
}

// ParseShard parses "I/N" with 0 <= I < N.
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: want I/N, e.g. 0/4", s)
	}
	if n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: want 0 <= I < N", s)
	}
	return Shard{Index: i, Count: n}, nil
}

// String renders the shard as I/N ("" for the whole plan).
func (s Shard) String() string {
	if s.Count <= 1 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Contains reports whether an instance belongs to the shard. The share is a
// hash of provider and id, so it does not depend on the order of the plan or on
// the other instances: N runners of one plan split it without overlap and
// without talking to each other, and an instance stays in its shard as long as
// N does not change.
func (s Shard) Contains(provider, id string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(provider))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}

// Select returns a copy of the plan with only the shard's instances; rollout
// settings (waves, concurrency, failure budget) then apply to the shard alone.
func (p *Plan) Select(s Shard) *Plan {
	if s.Count <= 1 {
		return p
	}
	q := *p
	q.Instances = nil
	for _, in := range p.Instances {
		if s.Contains(in.Provider, in.ID) {
			q.Instances = append(q.Instances, in)
		}
	}
	return &q
}

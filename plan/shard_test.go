package plan

import (
	"fmt"
	"testing"
)

func TestParseShard(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Shard
		err  bool
	}{
		{in: "0/4", want: Shard{0, 4}},
		{in: "3/4", want: Shard{3, 4}},
		{in: "0/1", want: Shard{0, 1}},
		{in: "4/4", err: true},
		{in: "-1/4", err: true},
		{in: "1/0", err: true},
		{in: "1", err: true},
		{in: "a/b", err: true},
	} {
		got, err := ParseShard(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseShard(%q) = %v, %v", tt.in, got, err)
		}
	}
}

// TestShardPartition: the shards of N cover every instance exactly once, and
// share them out roughly evenly.
func TestShardPartition(t *testing.T) {
	p := &Plan{}
	for i := 0; i < 4000; i++ {
		p.Instances = append(p.Instances, &Instance{Provider: []string{"kec", "ecs"}[i%2], ID: fmt.Sprintf("98284100-f6d1-4bbf-886a-%012x", i)})
	}
	seen := map[*Instance]int{}
	for i := 0; i < 4; i++ {
		q := p.Select(Shard{i, 4})
		if n := len(q.Instances); n < 800 || n > 1200 {
			t.Errorf("shard %d/4 has %d of 4000 instances", i, n)
		}
		for _, in := range q.Instances {
			seen[in]++
		}
	}
	for _, in := range p.Instances {
		if seen[in] != 1 {
			t.Fatalf("%s/%s is in %d shards", in.Provider, in.ID, seen[in])
		}
	}
	if p.Select(Shard{}) != p {
		t.Error("no shard must select the whole plan")
	}
}

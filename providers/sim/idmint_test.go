package sim

import (
	"encoding/hex"
	"regexp"
	"testing"
)

// ec2Frontend is a made-up cloud whose instance ids are i- and 17 hex digits.
type ec2Frontend struct{ fakeFrontend }

func (f *ec2Frontend) InstanceID(b [16]byte) string { return "i-" + hex.EncodeToString(b[:9])[:17] }

// TestSeededInstancesTakeTheirCloudsIDForm: the instances the core seeds
// for a front-end that mints its cloud's ids have ids of that form; the
// others keep UUIDs.
func TestSeededInstancesTakeTheirCloudsIDForm(t *testing.T) {
	ec2 := func(s *Server) Frontend { return &ec2Frontend{fakeFrontend{Server: s, typ: "ec2"}} }
	s := New(Options{Seed: 1, Frontends: []NewFrontend{fake("fake-a"), ec2}})
	s.SeedSynthetic(10, 0)
	ec2ID := regexp.MustCompile(`^i-[0-9a-f]{17}$`)
	per := map[string]int{}
	for _, v := range s.Instances() {
		per[v.Provider]++
		if ok := ec2ID.MatchString(v.ID); ok != (v.Provider == "ec2") || v.Provider != "ec2" && !IsUUID(v.ID) {
			t.Errorf("%s instance %q", v.Provider, v.ID)
		}
	}
	if per["ec2"] != 5 || per["fake-a"] != 5 {
		t.Errorf("instances per cloud %v", per)
	}
}

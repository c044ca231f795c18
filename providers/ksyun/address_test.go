package ksyun

import (
	"encoding/json"
	"testing"
)

// TestPrivateIPRules: the primary network interface's address wins; the
// top-level PrivateIpAddress serves when the set has no primary interface;
// the zone is AvailabilityZone.
func TestPrivateIPRules(t *testing.T) {
	for _, tt := range []struct {
		name, answer, ip string
	}{
		{"primary interface", `{"PrivateIpAddress":"10.0.0.9","AvailabilityZone":"cn-beijing-6b","NetworkInterfaceSet":[
			{"NetworkInterfaceType":"extension","PrivateIpAddress":"10.1.0.1"},{"NetworkInterfaceType":"primary","PrivateIpAddress":"10.0.0.10"}]}`, "10.0.0.10"},
		{"no interface set", `{"PrivateIpAddress":"10.0.0.9","AvailabilityZone":"cn-beijing-6b"}`, "10.0.0.9"},
		{"only an extension interface", `{"PrivateIpAddress":"10.0.0.9","AvailabilityZone":"cn-beijing-6b","NetworkInterfaceSet":[
			{"NetworkInterfaceType":"extension","PrivateIpAddress":"10.1.0.1"}]}`, "10.0.0.9"},
	} {
		var in instanceJSON
		if err := json.Unmarshal([]byte(tt.answer), &in); err != nil {
			t.Fatal(err)
		}
		if got := normalise(in); got.PrivateIP != tt.ip || got.Zone != "cn-beijing-6b" {
			t.Errorf("%s: %q %q, want %q", tt.name, got.PrivateIP, got.Zone, tt.ip)
		}
	}
}

package huaweicloud

import (
	"testing"

	"github.com/reimage-dev/reimage/providers"
)

// TestServiceHosts: without an endpoint ECS, IMS and KPS each have their
// regional host (the SDK's per-service environment override wins); with one,
// every service goes to it.
func TestServiceHosts(t *testing.T) {
	t.Setenv("HUAWEICLOUD_SDK_REGION_KPS_CN_NORTH_4", "https://kps.example.com")
	cfg := providers.Config{Name: "h", Region: "cn-north-4", Settings: map[string]string{providers.ProjectSetting: "p"}, AccessKey: "a", SecretKey: "s"}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.bases[0].String() != "https://ecs.cn-north-4.myhuaweicloud.com" || c.imsBase.String() != "https://ims.cn-north-4.myhuaweicloud.com" ||
		c.kpsBase.String() != "https://kps.example.com" {
		t.Errorf("default hosts: %s %s %s", c.bases[0], c.imsBase, c.kpsBase)
	}
	cfg.Endpoint = "http://127.0.0.1:8686"
	if c, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	if c.imsBase.String() != cfg.Endpoint || c.kpsBase.String() != cfg.Endpoint {
		t.Errorf("with an endpoint: %s %s", c.imsBase, c.kpsBase)
	}
}

// TestPrivateIPRules: the primary fixed v4 address of the vpc_id network,
// else the first fixed v4 one; floating and v6 addresses never.
func TestPrivateIPRules(t *testing.T) {
	yes := true
	for _, tt := range []struct {
		name string
		s    serverJSON
		want string
	}{
		{"primary in vpc", serverJSON{Metadata: map[string]string{"vpc_id": "v"}, Addresses: map[string][]addressJSON{
			"v": {{Addr: "192.168.0.9", Version: []byte(`"4"`), Type: "fixed"}, {Addr: "192.168.0.10", Version: []byte(`"4"`), Type: "fixed", Primary: &yes}},
			"w": {{Addr: "10.0.0.1", Version: []byte(`"4"`), Type: "fixed", Primary: &yes}}}}, "192.168.0.10"},
		{"no primary: first fixed v4", serverJSON{Addresses: map[string][]addressJSON{
			"v": {{Addr: "1.2.3.4", Version: []byte(`"4"`), Type: "floating"}, {Addr: "fe80::1", Version: []byte(`"6"`), Type: "fixed"}, {Addr: "192.168.0.9", Version: []byte(`4`), Type: "fixed"}}}}, "192.168.0.9"},
		{"none", serverJSON{}, ""},
	} {
		if got := tt.s.privateIP(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

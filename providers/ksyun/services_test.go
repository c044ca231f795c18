package ksyun

import (
	"testing"

	"github.com/reimage-dev/reimage/providers"
)

// TestServiceHosts: without an endpoint each service has its own host; with
// one, every service goes to it.
func TestServiceHosts(t *testing.T) {
	cfg := providers.Config{Name: "k", Region: "cn-beijing-6", AccessKey: "a", SecretKey: "s"}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.base.String() != DefaultEndpoint || c.tagBase.String() != DefaultTagEndpoint || c.sksBase.String() != DefaultSKSEndpoint {
		t.Errorf("default hosts: %s %s %s", c.base, c.tagBase, c.sksBase)
	}
	cfg.Endpoint = "http://127.0.0.1:8686/api"
	if c, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{c.base.String(), c.tagBase.String(), c.sksBase.String()} {
		if u != cfg.Endpoint {
			t.Errorf("with an endpoint: %s, want %s", u, cfg.Endpoint)
		}
	}
	for v, want := range map[string]string{Version: Service, TagVersion: TagService, SKSVersion: SKSService, "": Service} {
		if got := serviceOfVersion(v); got != want {
			t.Errorf("serviceOfVersion(%q) = %s, want %s", v, got, want)
		}
	}
}

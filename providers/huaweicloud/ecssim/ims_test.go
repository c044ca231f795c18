package ecssim

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/sim"
)

// imsGet sends a signed request to a path outside /v1 (IMS, KPS).
func (h *harness) imsGet(path string, q url.Values, project string) response {
	h.t.Helper()
	u := h.url + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("User-Agent", "huaweicloud-usdk-go/3.0")
	req.Header.Set("X-Project-Id", project)
	huaweicloud.Sign(req, nil, testHAK, testHSK, h.clock.Now())
	return h.do(req)
}

// TestIMSAndKPS: IMS filters by id, exact name and status and pages by
// marker; it needs a project the account has in X-Project-Id. KPS answers a
// known key pair and 404 for another.
func TestIMSAndKPS(t *testing.T) {
	h := newHarness(t, func(o *sim.Options) { o.UnusableImages = []string{imgOld} })
	for i := range 5 {
		if err := h.sim.AddImageInfo(sim.Image{Provider: huaweicloud.Type, ID: fmt.Sprintf("cccccccc-0000-4000-8000-%012d", i), Name: "same"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.sim.AddKeyPair(sim.KeyPair{Provider: huaweicloud.Type, Name: "ops"}); err != nil {
		t.Fatal(err)
	}
	count := func(r response) int { return len(r.body["images"].([]any)) }
	first := func(r response, field string) any { return r.body["images"].([]any)[0].(map[string]any)[field] }
	if r := h.imsGet("/v2/cloudimages", vals("name", "same", "limit", "2"), testProject); r.status != 200 || count(r) != 2 {
		t.Fatalf("first page: %s", r.raw)
	}
	r := h.imsGet("/v2/cloudimages", vals("name", "same", "limit", "2", "marker", "cccccccc-0000-4000-8000-000000000001"), testProject)
	if count(r) != 2 || first(r, "id") != "cccccccc-0000-4000-8000-000000000002" {
		t.Errorf("page after the marker: %s", r.raw)
	}
	if r := h.imsGet("/v2/cloudimages", vals("name", "sam"), testProject); count(r) != 0 {
		t.Errorf("name is exact: %s", r.raw)
	}
	r = h.imsGet("/v2/cloudimages", vals("id", imgOld), testProject)
	if count(r) != 1 || first(r, "status") != "killed" || first(r, "virtual_env_type") != "FusionCompute" {
		t.Errorf("unusable image: %s", r.raw)
	}
	if r := h.imsGet("/v2/cloudimages", vals("id", imgOld, "status", "active"), testProject); count(r) != 0 {
		t.Errorf("status filter: %s", r.raw)
	}
	if r := h.imsGet("/v2/cloudimages", nil, "ffffffffffffffffffffffffffffffff"); r.status != 401 {
		t.Errorf("unknown project: %d %s", r.status, r.raw)
	}
	if r := h.imsGet("/v3/"+testProject+"/keypairs/ops", nil, testProject); r.status != 200 || r.str("keypair", "name") != "ops" {
		t.Errorf("known key pair: %s", r.raw)
	}
	if r := h.imsGet("/v3/"+testProject+"/keypairs/nope", nil, testProject); r.status != 404 {
		t.Errorf("unknown key pair: %d %s", r.status, r.raw)
	}
}

// TestECSListMarkerAndTags: the detail listing pages after a marker, and its
// tags filter needs every pair given.
func TestECSListMarkerAndTags(t *testing.T) {
	h := newHarness(t)
	for i := range 5 {
		tags := map[string]string{"role": "web"}
		if i%2 == 0 {
			tags["env"] = "prod"
		}
		if err := h.sim.AddInstance(sim.Instance{Provider: huaweicloud.Type, ID: fmt.Sprintf("dddddddd-0000-4000-8000-%012d", i), Name: fmt.Sprintf("web-%d", i), Image: imgOld, Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	names := func(r response) (out []string) {
		for _, s := range r.body["servers"].([]any) {
			out = append(out, s.(map[string]any)["name"].(string))
		}
		return out
	}
	r := h.ecs("GET", "/cloudservers/detail", url.Values{"tags": {"role=web", "env=prod"}}, nil)
	if got := fmt.Sprint(names(r)); got != "[web-0 web-2 web-4]" || r.body["count"].(float64) != 3 {
		t.Errorf("tags: %s %s", got, r.raw)
	}
	r = h.ecs("GET", "/cloudservers/detail", vals("name", "web-", "limit", "2", "marker", "dddddddd-0000-4000-8000-000000000001"), nil)
	if got := fmt.Sprint(names(r)); got != "[web-2 web-3]" {
		t.Errorf("after the marker: %s", got)
	}
	r = h.ecs("GET", "/cloudservers/detail", vals("name", "web.1"), nil)
	if got := fmt.Sprint(names(r)); got != "[web-1]" {
		t.Errorf(`"." is any character: %s`, got)
	}
}

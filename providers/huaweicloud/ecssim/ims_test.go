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
func imsGet(h *harness, path string, q url.Values, project string) response {
	h.T.Helper()
	u := h.URL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("User-Agent", "huaweicloud-usdk-go/3.0")
	req.Header.Set("X-Project-Id", project)
	huaweicloud.Sign(req, nil, testHAK, testHSK, h.Clock.Now())
	return h.Do(req)
}

// TestIMSAndKPS: IMS filters by id, exact name and status and pages by
// marker; it needs a project the account has in X-Project-Id. KPS answers a
// known key pair and 404 for another.
func TestIMSAndKPS(t *testing.T) {
	h := newHarness(t, func(o *sim.Options) { o.UnusableImages = []string{imgOld} })
	for i := range 5 {
		if err := h.Sim.AddImageInfo(sim.Image{Provider: huaweicloud.Type, ID: fmt.Sprintf("cccccccc-0000-4000-8000-%012d", i), Name: "same"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Sim.AddKeyPair(sim.KeyPair{Provider: huaweicloud.Type, Name: "ops"}); err != nil {
		t.Fatal(err)
	}
	count := func(r response) int { return len(r.Body["images"].([]any)) }
	first := func(r response, field string) any { return r.Body["images"].([]any)[0].(map[string]any)[field] }
	if r := imsGet(h, "/v2/cloudimages", vals("name", "same", "limit", "2"), testProject); r.Status != 200 || count(r) != 2 {
		t.Fatalf("first page: %s", r.Raw)
	}
	r := imsGet(h, "/v2/cloudimages", vals("name", "same", "limit", "2", "marker", "cccccccc-0000-4000-8000-000000000001"), testProject)
	if count(r) != 2 || first(r, "id") != "cccccccc-0000-4000-8000-000000000002" {
		t.Errorf("page after the marker: %s", r.Raw)
	}
	if r := imsGet(h, "/v2/cloudimages", vals("name", "sam"), testProject); count(r) != 0 {
		t.Errorf("name is exact: %s", r.Raw)
	}
	r = imsGet(h, "/v2/cloudimages", vals("id", imgOld), testProject)
	if count(r) != 1 || first(r, "status") != "killed" || first(r, "virtual_env_type") != "FusionCompute" {
		t.Errorf("unusable image: %s", r.Raw)
	}
	if r := imsGet(h, "/v2/cloudimages", vals("id", imgOld, "status", "active"), testProject); count(r) != 0 {
		t.Errorf("status filter: %s", r.Raw)
	}
	if r := imsGet(h, "/v2/cloudimages", nil, "ffffffffffffffffffffffffffffffff"); r.Status != 401 {
		t.Errorf("unknown project: %d %s", r.Status, r.Raw)
	}
	if r := imsGet(h, "/v3/"+testProject+"/keypairs/ops", nil, testProject); r.Status != 200 || r.Str("keypair", "name") != "ops" {
		t.Errorf("known key pair: %s", r.Raw)
	}
	if r := imsGet(h, "/v3/"+testProject+"/keypairs/nope", nil, testProject); r.Status != 404 {
		t.Errorf("unknown key pair: %d %s", r.Status, r.Raw)
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
		if err := h.Sim.AddInstance(sim.Instance{Provider: huaweicloud.Type, ID: fmt.Sprintf("dddddddd-0000-4000-8000-%012d", i), Name: fmt.Sprintf("web-%d", i), Image: imgOld, Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	names := func(r response) (out []string) {
		for _, s := range r.Body["servers"].([]any) {
			out = append(out, s.(map[string]any)["name"].(string))
		}
		return out
	}
	r := h.ECS("GET", "/cloudservers/detail", url.Values{"tags": {"role=web", "env=prod"}}, nil)
	if got := fmt.Sprint(names(r)); got != "[web-0 web-2 web-4]" || r.Body["count"].(float64) != 3 {
		t.Errorf("tags: %s %s", got, r.Raw)
	}
	r = h.ECS("GET", "/cloudservers/detail", vals("name", "web-", "limit", "2", "marker", "dddddddd-0000-4000-8000-000000000001"), nil)
	if got := fmt.Sprint(names(r)); got != "[web-2 web-3]" {
		t.Errorf("after the marker: %s", got)
	}
	r = h.ECS("GET", "/cloudservers/detail", vals("name", "web.1"), nil)
	if got := fmt.Sprint(names(r)); got != "[web-1]" {
		t.Errorf(`"." is any character: %s`, got)
	}
}

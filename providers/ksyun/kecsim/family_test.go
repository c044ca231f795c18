package kecsim

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/ksyun"
)

// kecService sends a form POST of a KEC-family service, signed with the
// SigV4 service name given.
func familyCall(h *harness, service, version string, p url.Values) response {
	h.T.Helper()
	p.Set("Version", version)
	q := url.Values{"Action": {p.Get("Action")}, "Version": {version}}
	body := []byte(p.Encode())
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/?"+q.Encode(), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	if err := ksyun.SignService(req, body, testKAK, testKSK, service, "cn-beijing-6", h.Clock.Now()); err != nil {
		h.T.Fatal(err)
	}
	return h.Do(req)
}

// TestKECFamilyDispatch: one endpoint serves KEC, tagv2 and SKS, told apart
// by Version; the action must be the version's service's, and the signature's
// scope must name that service.
func TestKECFamilyDispatch(t *testing.T) {
	h := newHarness(t)
	list := func() url.Values {
		return vals("Action", "ListTagsByResourceIds", "ResourceType", "instance", "ResourceUuids", kecRunning)
	}
	for _, tt := range []struct {
		name, service, version string
		p                      url.Values
		status                 int
		code                   string
	}{
		{"tagv2 signed for tagv2", "tagv2", "2020-09-01", list(), 200, ""},
		{"tagv2 signed for kec", "kec", "2020-09-01", list(), 403, "SignatureDoesNotMatch"},
		{"tag action under KEC's version", "kec", kecVersion, list(), 400, "InvalidAction"},
		{"KEC action under tagv2's version", "tagv2", "2020-09-01", vals("Action", "DescribeInstances"), 400, "InvalidAction"},
		{"sks DescribeKeys", "sks", "2015-11-01", vals("Action", "DescribeKeys"), 200, ""},
		{"unknown version", "kec", "2099-01-01", vals("Action", "DescribeInstances"), 400, "InvalidParameterValue"},
	} {
		r := familyCall(h, tt.service, tt.version, tt.p)
		if r.Status != tt.status || r.KECCode() != tt.code {
			t.Errorf("%s: %d %s, want %d %s: %s", tt.name, r.Status, r.KECCode(), tt.status, tt.code, r.Raw)
		}
	}
}

// TestKECTagsAttachKeepsOthers: CreateTagAndAttachResource sets one key and
// keeps the others; ListTagsByResourceIds reads them back; the limits of the
// tag service are enforced.
func TestKECTagsAttachKeepsOthers(t *testing.T) {
	h := newHarness(t)
	attach := func(k, v string) response {
		return familyCall(h, "tagv2", "2020-09-01", vals("Action", "CreateTagAndAttachResource", "ResourceType", "instance",
			"ResourceUuid", kecRunning, "TagKey", k, "TagValue", v))
	}
	for _, kv := range [][2]string{{"role", "web"}, {"reimage-token", "a"}, {"reimage-token", "b"}} {
		if r := attach(kv[0], kv[1]); r.Status != 200 || r.Body["Result"] != true {
			t.Fatalf("attach %v: %s", kv, r.Raw)
		}
	}
	for _, kv := range [][2]string{{"ksc-x", "v"}, {"a b", "v"}, {"k", "v,w"}} {
		if r := attach(kv[0], kv[1]); r.Status != 400 {
			t.Errorf("attach %v: %d, want 400", kv, r.Status)
		}
	}
	r := familyCall(h, "tagv2", "2020-09-01", vals("Action", "ListTagsByResourceIds", "ResourceType", "instance",
		"ResourceUuids", kecRunning+","+kecOther))
	tags := r.Body["Tags"].([]any)
	if len(tags) != 2 {
		t.Fatalf("tags: %s", r.Raw)
	}
	v := h.View(ksyun.Type, kecRunning)
	if v.Tags["role"] != "web" || v.Marks["reimage-token"] != "b" || len(v.Marks) != 1 {
		t.Errorf("view: tags %v marks %v", v.Tags, v.Marks)
	}
}

// TestECSMetadataRefusedDuringRebuild: metadata is taken while the server is
// settled, refused mid-rebuild, and survives the rebuild.
func TestECSMetadataRefusedDuringRebuild(t *testing.T) {
	h := newHarness(t)
	path := "/cloudservers/" + ecsStopped + "/metadata"
	if r := h.ECS("POST", path, nil, map[string]any{"metadata": map[string]string{"reimage-token": "t1"}}); r.Status != 200 {
		t.Fatalf("metadata: %s", r.Raw)
	}
	if r := h.ECS("POST", "/cloudservers/"+ecsStopped+"/changeos", nil, map[string]any{"os-change": map[string]any{"imageid": imgECSNew, "keyname": "k"}}); r.Status != 200 {
		t.Fatalf("changeos: %s", r.Raw)
	}
	h.Clock.Advance(time.Second)
	if r := h.ECS("POST", path, nil, map[string]any{"metadata": map[string]string{"reimage-token": "t2"}}); r.Status != 409 || r.ECSCode() != "Ecs.0100" {
		t.Errorf("mid-rebuild: %d %s", r.Status, r.Raw)
	}
	if r := h.ECS("POST", path, nil, map[string]any{"metadata": map[string]string{"bad key": "v"}}); r.Status != 400 {
		t.Errorf("bad key: %d %s", r.Status, r.Raw)
	}
	h.Clock.Advance(10 * time.Minute)
	r := h.ECS("GET", "/cloudservers/detail", vals("server_id", ecsStopped), nil)
	meta := r.Body["servers"].([]any)[0].(map[string]any)["metadata"].(map[string]any)
	if meta["reimage-token"] != "t1" || meta["vpc_id"] != simVPC || h.View(huaweicloud.Type, ecsStopped).Image != imgECSNew {
		t.Errorf("after the rebuild: metadata %v", meta)
	}
}

package kecsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/huaweicloud/ecssim"
	"github.com/reimage-dev/reimage/providers/ksyun"
	"github.com/reimage-dev/reimage/providers/sim"
)

// vecTime is the time of both clouds' reference vectors.
var vecTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeClock is an injectable clock that moves only when told: transitions are
// stepped through without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	testKAK, testKSK = "AKLTexampleAK", "exampleSecretKey"
	testHAK, testHSK = "HWEXAMPLEAK0000000000", "hwExampleSecretKey0000000000000000000000"
	testProject      = "0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e"
	// Fleet used by most tests.
	kecRunning = "98284100-f6d1-4bbf-886a-1b0765024738"
	kecStopped = "11111111-1111-4111-8111-111111111111"
	kecOther   = "22222222-2222-4222-8222-222222222222"
	ecsRunning = "98284100-f6d1-4bbf-886a-1b0765024738"
	ecsStopped = "1a2b3c4d-0000-4000-8000-000000000002"
	imgOld     = "aaaaaaaa-0000-4000-8000-000000000001"
	imgNew     = "8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2"
	imgECSNew  = "e215580f-73ad-429d-b6f2-5433947433b0"
	keyID      = "552a0523-b9b4-4868-b8d9-52ad7a38bf89"
)

// harness is a simulator with the reference vectors' keys, a fake clock at the
// vectors' time, a small fleet, and an HTTP server on loopback.
type harness struct {
	t     *testing.T
	sim   *sim.Server
	clock *fakeClock
	url   string
}

func newHarness(t *testing.T, edit ...func(*sim.Options)) *harness {
	t.Helper()
	clock := &fakeClock{t: vecTime}
	opts := sim.Options{
		Seed:      1,
		Frontends: []sim.NewFrontend{New, ecssim.New},
		Keys: map[string]sim.Credential{ksyun.Type: {AccessKey: testKAK, SecretKey: testKSK},
			huaweicloud.Type: {AccessKey: testHAK, SecretKey: testHSK}},
		ProjectIDs:   []string{testProject},
		StopDuration: 10 * time.Second, RebuildDuration: 60 * time.Second, StartDuration: 20 * time.Second,
		Clock: clock.Now,
	}
	for _, e := range edit {
		e(&opts)
	}
	s := sim.New(opts)
	for _, in := range []sim.Instance{
		{Provider: ksyun.Type, ID: kecRunning, Name: "web-01", Image: imgOld},
		{Provider: ksyun.Type, ID: kecStopped, Name: "web-02", Image: imgOld, State: "stopped"},
		{Provider: ksyun.Type, ID: kecOther, Name: "db-01", Image: imgOld},
		{Provider: huaweicloud.Type, ID: ecsRunning, Name: "api-01", Image: imgOld},
		{Provider: huaweicloud.Type, ID: ecsStopped, Name: "api-02", Image: imgOld, State: "stopped"},
	} {
		if err := s.AddInstance(in); err != nil {
			t.Fatal(err)
		}
	}
	s.AddImage(ksyun.Type, imgNew)
	s.AddImage(huaweicloud.Type, imgECSNew)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return &harness{t: t, sim: s, clock: clock, url: ts.URL}
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r response) str(path ...string) string {
	var v any = r.body
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		default:
			return ""
		}
	}
	s, _ := v.(string)
	return s
}

// kecCode is the Error.Code of a KEC answer.
func (r response) kecCode() string { return r.str("Error", "Code") }

// ecsCode is the error code of an ECS answer, in either the ECS or the gateway shape.
func (r response) ecsCode() string {
	if c := r.str("error", "code"); c != "" {
		return c
	}
	return r.str("error_code")
}

func (h *harness) do(req *http.Request) response {
	h.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	r := response{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			h.t.Fatalf("answer is not JSON: %v\n%s", err, raw)
		}
	}
	return r
}

// kecRequest builds a signed KEC request as the official Go SDK does: GET with
// every parameter in the query, or POST with Action and Version in the query
// and everything in a form body.
func (h *harness) kecRequest(method string, p url.Values) *http.Request {
	h.t.Helper()
	if p.Get("Version") == "" {
		p.Set("Version", kecVersion)
	}
	var req *http.Request
	var body []byte
	if method == http.MethodGet {
		req, _ = http.NewRequest(method, h.url+"/?"+p.Encode(), nil)
	} else {
		q := url.Values{"Action": {p.Get("Action")}, "Version": {p.Get("Version")}}
		body = []byte(p.Encode())
		req, _ = http.NewRequest(method, h.url+"/?"+q.Encode(), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	req.Header.Set("Accept", "application/json")
	if err := ksyun.Sign(req, body, testKAK, testKSK, "cn-beijing-6", h.clock.Now()); err != nil {
		h.t.Fatal(err)
	}
	return req
}

func (h *harness) kec(method string, p url.Values) response {
	h.t.Helper()
	return h.do(h.kecRequest(method, p))
}

// ecsRequest builds a signed ECS request as the official SDK does (signed
// headers user-agent;x-project-id;x-sdk-date). body is marshalled unless it
// is already []byte.
func (h *harness) ecsRequest(method, path string, q url.Values, body any) *http.Request {
	h.t.Helper()
	u := h.url + "/v1/" + testProject + path
	if q != nil {
		u += "?" + q.Encode()
	}
	var b []byte
	switch x := body.(type) {
	case nil:
	case []byte:
		b = x
	default:
		b, _ = json.Marshal(x)
	}
	req, _ := http.NewRequest(method, u, bytes.NewReader(b))
	if b == nil {
		req, _ = http.NewRequest(method, u, nil)
	}
	req.Header.Set("User-Agent", "huaweicloud-usdk-go/3.0")
	req.Header.Set("X-Project-Id", testProject)
	if b != nil {
		req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	}
	huaweicloud.Sign(req, b, testHAK, testHSK, h.clock.Now())
	return req
}

func (h *harness) ecs(method, path string, q url.Values, body any) response {
	h.t.Helper()
	return h.do(h.ecsRequest(method, path, q, body))
}

// view returns one instance as /_sim/instances shows it.
func (h *harness) view(provider, id string) sim.InstanceView {
	h.t.Helper()
	for _, v := range h.sim.Instances() {
		if v.Provider == provider && v.ID == id {
			return v
		}
	}
	h.t.Fatalf("no %s instance %s", provider, id)
	return sim.InstanceView{}
}

func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func nopBody(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

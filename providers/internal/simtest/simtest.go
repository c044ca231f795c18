// Package simtest is the harness the simulator's tests share: a simulator
// with the reference vectors' keys and a small fleet on an injected clock,
// served on loopback, and requests signed as each cloud's official SDK signs
// them. The front-ends under test are the caller's (sim.NewFrontend), so a
// front-end's own tests use it without an import cycle.
package simtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/ksyun"
	"github.com/reimage-dev/reimage/providers/sim"
)

// VecTime is the time of both clouds' reference vectors, where the clock starts.
var VecTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// Clock is an injectable clock that moves only when told: transitions are
// stepped through without sleeping.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// The harness's keys, project and fleet.
const (
	KECAccessKey, KECSecretKey = "AKLTexampleAK", "exampleSecretKey"
	ECSAccessKey, ECSSecretKey = "HWEXAMPLEAK0000000000", "hwExampleSecretKey0000000000000000000000"
	Project                    = "0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e"
	KECRunning                 = "98284100-f6d1-4bbf-886a-1b0765024738"
	KECStopped                 = "11111111-1111-4111-8111-111111111111"
	KECOther                   = "22222222-2222-4222-8222-222222222222"
	ECSRunning                 = "98284100-f6d1-4bbf-886a-1b0765024738"
	ECSStopped                 = "1a2b3c4d-0000-4000-8000-000000000002"
	ImageOld                   = "aaaaaaaa-0000-4000-8000-000000000001"
	KECImageNew                = "8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2"
	ECSImageNew                = "e215580f-73ad-429d-b6f2-5433947433b0"
	KeyID                      = "552a0523-b9b4-4868-b8d9-52ad7a38bf89"
)

// Harness is a simulator of the given front-ends with the reference
// vectors' keys, a fake clock at the vectors' time, a small fleet (three KEC
// instances, two ECS servers, as far as those front-ends are served) and an
// HTTP server on loopback.
type Harness struct {
	T     *testing.T
	Sim   *sim.Server
	Clock *Clock
	URL   string
}

// New starts a harness serving fronts; edit changes the options first.
func New(t *testing.T, fronts []sim.NewFrontend, edit ...func(*sim.Options)) *Harness {
	t.Helper()
	clock := &Clock{t: VecTime}
	opts := sim.Options{
		Seed:      1,
		Frontends: fronts,
		Keys: map[string]sim.Credential{ksyun.Type: {AccessKey: KECAccessKey, SecretKey: KECSecretKey},
			huaweicloud.Type: {AccessKey: ECSAccessKey, SecretKey: ECSSecretKey}},
		ProjectIDs:   []string{Project},
		StopDuration: 10 * time.Second, RebuildDuration: 60 * time.Second, StartDuration: 20 * time.Second,
		Clock: clock.Now,
	}
	for _, e := range edit {
		e(&opts)
	}
	s := sim.New(opts)
	served := map[string]bool{}
	for _, typ := range s.Types() {
		served[typ] = true
	}
	for _, in := range []sim.Instance{
		{Provider: ksyun.Type, ID: KECRunning, Name: "web-01", Image: ImageOld},
		{Provider: ksyun.Type, ID: KECStopped, Name: "web-02", Image: ImageOld, State: "stopped"},
		{Provider: ksyun.Type, ID: KECOther, Name: "db-01", Image: ImageOld},
		{Provider: huaweicloud.Type, ID: ECSRunning, Name: "api-01", Image: ImageOld},
		{Provider: huaweicloud.Type, ID: ECSStopped, Name: "api-02", Image: ImageOld, State: "stopped"},
	} {
		if !served[in.Provider] {
			continue
		}
		if err := s.AddInstance(in); err != nil {
			t.Fatal(err)
		}
	}
	s.AddImage(ksyun.Type, KECImageNew)
	s.AddImage(huaweicloud.Type, ECSImageNew)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return &Harness{T: t, Sim: s, Clock: clock, URL: ts.URL}
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Raw    []byte
	// Body is the answer decoded, when it is a JSON object.
	Body map[string]any
}

// Str reads the string at path in the body ("" when absent).
func (r Response) Str(path ...string) string {
	var v any = r.Body
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

// KECCode is the Error.Code of a KEC answer.
func (r Response) KECCode() string { return r.Str("Error", "Code") }

// ECSCode is the error code of an ECS answer, in either the ECS or the gateway shape.
func (r Response) ECSCode() string {
	if c := r.Str("error", "code"); c != "" {
		return c
	}
	return r.Str("error_code")
}

// Do sends req and decodes the answer.
func (h *Harness) Do(req *http.Request) Response {
	h.T.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.T.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		h.T.Fatal(err)
	}
	r := Response{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			h.T.Fatalf("answer is not JSON: %v\n%s", err, raw)
		}
	}
	return r
}

// KECRequest builds a signed KEC request as the official Go SDK does: GET with
// every parameter in the query, or POST with Action and Version in the query
// and everything in a form body. Version defaults to KEC's 2016-03-04.
func (h *Harness) KECRequest(method string, p url.Values) *http.Request {
	h.T.Helper()
	if p.Get("Version") == "" {
		p.Set("Version", "2016-03-04")
	}
	var req *http.Request
	var body []byte
	if method == http.MethodGet {
		req, _ = http.NewRequest(method, h.URL+"/?"+p.Encode(), nil)
	} else {
		q := url.Values{"Action": {p.Get("Action")}, "Version": {p.Get("Version")}}
		body = []byte(p.Encode())
		req, _ = http.NewRequest(method, h.URL+"/?"+q.Encode(), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	req.Header.Set("Accept", "application/json")
	if err := ksyun.Sign(req, body, KECAccessKey, KECSecretKey, "cn-beijing-6", h.Clock.Now()); err != nil {
		h.T.Fatal(err)
	}
	return req
}

// KEC sends a signed KEC request.
func (h *Harness) KEC(method string, p url.Values) Response {
	h.T.Helper()
	return h.Do(h.KECRequest(method, p))
}

// ECSRequest builds a signed ECS request under /v1/{project}/ as the
// official SDK does (signed headers user-agent;x-project-id;x-sdk-date).
// body is marshalled unless it is already []byte.
func (h *Harness) ECSRequest(method, path string, q url.Values, body any) *http.Request {
	h.T.Helper()
	u := h.URL + "/v1/" + Project + path
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
	req.Header.Set("X-Project-Id", Project)
	if b != nil {
		req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	}
	huaweicloud.Sign(req, b, ECSAccessKey, ECSSecretKey, h.Clock.Now())
	return req
}

// ECS sends a signed ECS request.
func (h *Harness) ECS(method, path string, q url.Values, body any) Response {
	h.T.Helper()
	return h.Do(h.ECSRequest(method, path, q, body))
}

// View returns one instance as /_sim/instances shows it.
func (h *Harness) View(provider, id string) sim.InstanceView {
	h.T.Helper()
	for _, v := range h.Sim.Instances() {
		if v.Provider == provider && v.ID == id {
			return v
		}
	}
	h.T.Fatalf("no %s instance %s", provider, id)
	return sim.InstanceView{}
}

// Vals builds query parameters from key, value pairs.
func Vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

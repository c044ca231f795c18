package ksyun

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/providers"
)

// Test credentials (the reference vectors' keys).
const testAK, testSK = "AKLTexampleAK", "exampleSecretKey"

// captured is one request as the server saw it, after its signature was verified.
type captured struct {
	method, path string
	query        url.Values
	body         string
	header       http.Header
	signed       string
}

// fakeKEC verifies every request's signature with Verify and answers with answer(action).
func fakeKEC(t *testing.T, answer func(action string) string) (*httptest.Server, *[]captured) {
	t.Helper()
	var mu sync.Mutex
	var reqs []captured
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := Verify(r, body, func(ak string) (string, bool) { return testSK, ak == testAK }, time.Now(), 15*time.Minute); err != nil {
			t.Errorf("signature: %v", err)
			w.WriteHeader(403)
			return
		}
		a, _ := ParseAuthorization(r.Header.Get("Authorization"))
		c := captured{method: r.Method, path: r.URL.Path, query: r.URL.Query(), body: string(body), header: r.Header.Clone(), signed: strings.Join(a.SignedHeaders, ";")}
		mu.Lock()
		reqs = append(reqs, c)
		mu.Unlock()
		action := c.query.Get("Action")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer(action))
	}))
	t.Cleanup(ts.Close)
	return ts, &reqs
}

func newTestClient(t *testing.T, endpoint string) *Client {
	t.Helper()
	c, err := New(providers.Config{Name: "kec-bj", Region: "cn-beijing-6", Endpoint: endpoint, AccessKey: testAK, SecretKey: testSK,
		BatchWindow: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestModifyInstanceImageRequestForm(t *testing.T) {
	ts, reqs := fakeKEC(t, func(string) string { return `{"RequestId":"r-1","Return":true}` })
	c := newTestClient(t, ts.URL)
	req := providers.ChangeRequest{
		InstanceID: "98284100-f6d1-4bbf-886a-1b0765024738", ImageID: "8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2",
		Password: "1qaQ!abc", Options: &Options{KeyIDs: []string{"k1", "k2"},
			SystemDisk: &SystemDisk{SizeGB: 40, Type: "SSD3.0", Resize: "online"}, UserData: &UserData{Base64: "IyEvYmluL3No"}},
	}
	sub, err := c.Change(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if sub.RequestID != "r-1" || sub.InstanceID != req.InstanceID || sub.ImageID != req.ImageID {
		t.Errorf("submission %+v", sub)
	}
	// A write is a POST form, as the official SDK sends it: the password and userData never
	// sit in a URL (gateway logs, 414 limits).
	r := (*reqs)[0]
	if r.method != http.MethodPost || r.path != "/" || r.query.Encode() != "Action=ModifyInstanceImage&Version=2016-03-04" {
		t.Errorf("%s %s?%s, want POST / with only Action and Version in the query", r.method, r.path, r.query.Encode())
	}
	if r.header.Get("Content-Type") != "application/x-www-form-urlencoded; charset=utf-8" {
		t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
	}
	if r.header.Get("Accept") != "application/json" || r.header.Get("X-Amz-Content-Sha256") != "" {
		t.Errorf("headers %v", r.header)
	}
	form, err := url.ParseQuery(r.body)
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{
		"Action": {"ModifyInstanceImage"}, "Version": {"2016-03-04"},
		"InstanceId": {req.InstanceID}, "ImageId": {req.ImageID}, "InstancePassword": {"1qaQ!abc"},
		"KeyId.1": {"k1"}, "KeyId.2": {"k2"}, "SystemDisk.DiskSize": {"40"}, "SystemDisk.DiskType": {"SSD3.0"},
		"SystemDisk.ResizeType": {"online"}, "UserData": {"IyEvYmluL3No"},
	}
	if form.Encode() != want.Encode() {
		t.Errorf("form\n got %s\nwant %s", form.Encode(), want.Encode())
	}

	// A reinstall sends no ImageId; KeepImageLogin replaces the password.
	req = providers.ChangeRequest{InstanceID: "i-2", ImageID: "img-current", Reinstall: true, Options: &Options{KeepImageLogin: true}, Password: "ignored1A"}
	if _, err := c.Change(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	q, _ := url.ParseQuery((*reqs)[1].body)
	if q.Has("ImageId") || q.Get("KeepImageLogin") != "true" || q.Has("InstancePassword") {
		t.Errorf("reinstall query %s", q.Encode())
	}
}

func TestDescribeInstancesRequestFormAndStates(t *testing.T) {
	ts, reqs := fakeKEC(t, func(string) string {
		return `{"RequestId":"r","Marker":0,"InstanceCount":3,"InstancesSet":[
			{"InstanceId":"a","ImageId":"img","InstanceState":{"Name":"active"}},
			{"InstanceId":"b","ImageId":"img","InstanceState":{"Name":"stopped"}},
			{"InstanceId":"c","ImageId":"img","InstanceState":{"Name":"rebuilding","TaskState":"rebuilding"}},
			{"InstanceId":"d","ImageId":"img","InstanceState":{"Name":"error"}}]}`
	})
	c := newTestClient(t, ts.URL)
	got, err := c.Lookup(context.Background(), []string{"a", "b", "c", "d", "e"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]providers.State{"a": providers.StateRunning, "b": providers.StateStopped, "c": providers.StateInProgress,
		"d": providers.StateError, "e": providers.StateNotFound}
	for id, st := range want {
		if got[id].State != st {
			t.Errorf("%s: %s, want %s", id, got[id].State, st)
		}
	}
	if got["c"].RawState != "rebuilding/rebuilding" {
		t.Errorf("raw state %q", got["c"].RawState)
	}
	r := (*reqs)[0]
	if r.method != http.MethodPost || r.query.Encode() != "Action=DescribeInstances&Version=2016-03-04" {
		t.Errorf("%s ?%s, want POST with only Action and Version in the query", r.method, r.query.Encode())
	}
	if r.signed != "accept;content-length;content-type;host;x-amz-date" {
		t.Errorf("signed headers %q", r.signed)
	}
	if r.header.Get("Content-Type") != "application/x-www-form-urlencoded; charset=utf-8" {
		t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
	}
	form, _ := url.ParseQuery(r.body)
	if form.Get("Action") != "DescribeInstances" || form.Get("Version") != "2016-03-04" || form.Get("MaxResults") != "100" ||
		form.Get("Marker") != "0" || form.Get("InstanceId.1") != "a" || form.Get("InstanceId.5") != "e" {
		t.Errorf("form %s", r.body)
	}
}

func TestStopBatchPerIDResults(t *testing.T) {
	ts, reqs := fakeKEC(t, func(string) string {
		return `{"RequestId":"r-9","InstancesSet":[{"InstanceId":"a","Return":true},{"InstanceId":"b","Return":false,"Messgae":"InstanceStateNotSupported"}]}`
	})
	c := newTestClient(t, ts.URL)
	var wg sync.WaitGroup
	errs := map[string]error{}
	var mu sync.Mutex
	for _, id := range []string{"a", "b", "c"} {
		wg.Go(func() {
			err := c.Stop(context.Background(), id)
			mu.Lock()
			errs[id] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(*reqs) != 1 {
		t.Fatalf("%d requests, want one batch", len(*reqs))
	}
	if errs["a"] != nil {
		t.Errorf("a: %v", errs["a"])
	}
	if errs["b"] == nil || !strings.Contains(errs["b"].Error(), "InstanceStateNotSupported") || providers.IsInDoubt(errs["b"]) {
		t.Errorf("b: %v, want the cloud's message", errs["b"])
	}
	if !providers.IsInDoubt(errs["c"]) {
		t.Errorf("c (no entry in the answer): %v, want in doubt", errs["c"])
	}
	r := (*reqs)[0]
	form, _ := url.ParseQuery(r.body)
	if r.method != http.MethodPost || r.query.Get("Action") != "StopInstances" || len(form) != 5 {
		t.Errorf("%s %s, form %s", r.method, r.query.Encode(), r.body)
	}
}

func TestNewChecksEndpoint(t *testing.T) {
	if _, err := New(providers.Config{Name: "x", Region: "r", AccessKey: "a", SecretKey: "s", Endpoint: "http://kec.api.ksyun.com"}); err == nil {
		t.Error("plain http to a remote host accepted")
	}
	c, err := New(providers.Config{Name: "x", Region: "r", AccessKey: "a", SecretKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.base.String() != DefaultEndpoint {
		t.Errorf("default endpoint %s", c.base)
	}
	if _, err := New(providers.Config{Name: "x", Region: "r"}); err == nil {
		t.Error("missing credentials accepted")
	}
}

// TestErrorLikeStatesFailFast: KEC's failed end states are errors naming the state, not a
// transition to wait on until the instance timeout; settled states after a migration are neither.
func TestErrorLikeStatesFailFast(t *testing.T) {
	for _, tc := range []struct {
		name string
		want providers.State
	}{
		{"power_on_error", providers.StateError},
		{"migrating_error", providers.StateError},
		{"resize_error_local", providers.StateError},
		{"csresize-error", providers.StateError},
		{"attach_key_pair_failed", providers.StateError},
		{"inactive", providers.StateError},
		{"invalid", providers.StateError},
		{"error", providers.StateError},
		{"overriding", providers.StateInProgress},
		{"migrating", providers.StateInProgress},
		{"migrating_success", providers.StateUnknown},
		{"cross_finish", providers.StateUnknown},
	} {
		got := normalise(instanceJSON{InstanceID: "i", InstanceState: struct{ Name, TaskState string }{Name: tc.name}})
		if got.State != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got.State, tc.want)
		}
		// The raw state names it; KEC explains nothing more, so there is no
		// Fault to repeat it ("in an error state (error): instance is in state error").
		if tc.want == providers.StateError && (!strings.Contains(got.RawState, tc.name) || got.Fault != "") {
			t.Errorf("%s: raw state %q, fault %q; want the state named once, by the raw state", tc.name, got.RawState, got.Fault)
		}
	}
	ts, _ := fakeKEC(t, func(action string) string {
		if action == "ModifyInstanceImage" {
			return `{"RequestId":"r","Return":true}`
		}
		return `{"RequestId":"r","InstanceCount":1,"InstancesSet":[{"InstanceId":"i-1","ImageId":"img-new","InstanceState":{"Name":"power_on_error"}}]}`
	})
	c := newTestClient(t, ts.URL)
	sub, err := c.Change(context.Background(), providers.ChangeRequest{InstanceID: "i-1", ImageID: "img-new", Password: "Passw0rdX"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Progress(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	if p.Phase != providers.PhaseFailed || !strings.Contains(p.Reason, "power_on_error") {
		t.Fatalf("progress %+v, want failed naming power_on_error", p)
	}
}

// TestStoppedOnTargetWaitsForActive: after ModifyInstanceImage KEC boots the instance itself, so
// "stopped on the target image" is in progress (as the Terraform provider waits for active) for
// bootGrace, then done; active on the target is done at once.
func TestStoppedOnTargetWaitsForActive(t *testing.T) {
	var mu sync.Mutex
	state := "stopped"
	ts, _ := fakeKEC(t, func(action string) string {
		if action == "ModifyInstanceImage" {
			return `{"RequestId":"r","Return":true}`
		}
		mu.Lock()
		defer mu.Unlock()
		return `{"RequestId":"r","InstanceCount":1,"InstancesSet":[{"InstanceId":"i-1","ImageId":"img-new","InstanceState":{"Name":"` + state + `"}}]}`
	})
	c := newTestClient(t, ts.URL)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return clock }
	sub, err := c.Change(context.Background(), providers.ChangeRequest{InstanceID: "i-1", ImageID: "img-new", Password: "Passw0rdX"})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		advance time.Duration
		state   string
		want    providers.Phase
	}{
		{0, "stopped", providers.PhaseInProgress},
		{bootGrace - time.Second, "stopped", providers.PhaseInProgress},
		{time.Second, "stopped", providers.PhaseDone},
		{0, "active", providers.PhaseDone},
	} {
		clock = clock.Add(step.advance)
		mu.Lock()
		state = step.state
		mu.Unlock()
		p, err := c.Progress(context.Background(), sub)
		if err != nil {
			t.Fatal(err)
		}
		if p.Phase != step.want {
			t.Fatalf("%s after %v: %s (%s), want %s", step.state, step.advance, p.Phase, p.Reason, step.want)
		}
	}
}

// TestServerErrorCodesAt400: KEC answers InternalError and ServiceUnavailable with HTTP 400; the
// code decides: a read is retried, a write is in doubt (never a refusal, never resent).
func TestServerErrorCodesAt400(t *testing.T) {
	for _, code := range []string{"ServiceUnavailable", "InternalError"} {
		var mu sync.Mutex
		calls := map[string]int{}
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			action := r.URL.Query().Get("Action")
			mu.Lock()
			calls[action]++
			n := calls[action]
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			if n == 1 || action == "ModifyInstanceImage" {
				w.WriteHeader(400)
				io.WriteString(w, `{"RequestId":"r","Error":{"Code":"`+code+`","Message":"try later"}}`)
				return
			}
			io.WriteString(w, `{"RequestId":"r","InstanceCount":1,"InstancesSet":[{"InstanceId":"i-1","ImageId":"img","InstanceState":{"Name":"stopped"}}]}`)
		}))
		defer ts.Close()
		c, err := New(providers.Config{Name: "kec-bj", Region: "cn-beijing-6", Endpoint: ts.URL, AccessKey: testAK, SecretKey: testSK,
			BatchWindow: time.Millisecond, Retry: providers.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if inst, err := c.Status(context.Background(), "i-1"); err != nil || inst.State != providers.StateStopped {
			t.Errorf("%s: read %+v %v, want it retried", code, inst, err)
		}
		_, err = c.Change(context.Background(), providers.ChangeRequest{InstanceID: "i-1", ImageID: "img2", Password: "Passw0rdX"})
		if !providers.IsInDoubt(err) || providers.ErrorCode(err) != code {
			t.Errorf("%s: write %v, want in doubt with the code", code, err)
		}
		mu.Lock()
		if calls["ModifyInstanceImage"] != 1 {
			t.Errorf("%s: the write was sent %d times", code, calls["ModifyInstanceImage"])
		}
		mu.Unlock()
	}
}

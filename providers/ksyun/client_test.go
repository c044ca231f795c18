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
		Password: "1qaQ!abc", KeyIDs: []string{"k1", "k2"}, SystemDiskSizeGB: 40, SystemDiskType: "SSD3.0",
		SystemDiskResize: "online", UserDataBase64: "IyEvYmluL3No",
	}
	sub, err := c.Change(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if sub.RequestID != "r-1" || sub.InstanceID != req.InstanceID || sub.ImageID != req.ImageID {
		t.Errorf("submission %+v", sub)
	}
	r := (*reqs)[0]
	if r.method != http.MethodGet || r.body != "" || r.path != "/" {
		t.Errorf("%s %s with body %q, want GET / without a body", r.method, r.path, r.body)
	}
	if r.signed != "accept;host;x-amz-date" {
		t.Errorf("signed headers %q, want accept;host;x-amz-date", r.signed)
	}
	if r.header.Get("Accept") != "application/json" || r.header.Get("X-Amz-Content-Sha256") != "" {
		t.Errorf("headers %v", r.header)
	}
	want := url.Values{
		"Action": {"ModifyInstanceImage"}, "Version": {"2016-03-04"},
		"InstanceId": {req.InstanceID}, "ImageId": {req.ImageID}, "InstancePassword": {"1qaQ!abc"},
		"KeyId.1": {"k1"}, "KeyId.2": {"k2"}, "SystemDisk.DiskSize": {"40"}, "SystemDisk.DiskType": {"SSD3.0"},
		"SystemDisk.ResizeType": {"online"}, "UserData": {"IyEvYmluL3No"},
	}
	if r.query.Encode() != want.Encode() {
		t.Errorf("query\n got %s\nwant %s", r.query.Encode(), want.Encode())
	}

	// A reinstall sends no ImageId; KeepImageLogin replaces the password.
	req = providers.ChangeRequest{InstanceID: "i-2", ImageID: "img-current", Reinstall: true, KeepImageLogin: true, Password: "ignored1A"}
	if _, err := c.Change(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	q := (*reqs)[1].query
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
	if r.method != http.MethodGet || r.query.Get("Action") != "StopInstances" || len(r.query) != 5 {
		t.Errorf("%s %s", r.method, r.query.Encode())
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

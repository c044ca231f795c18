package huaweicloud

import (
	"bytes"
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

type captured struct {
	method, path string
	query        url.Values
	body         string
	header       http.Header
	signed       string
}

// fakeECS verifies every request's signature with Verify and answers with answer(path).
func fakeECS(t *testing.T, answer func(r *http.Request) (int, string)) (*httptest.Server, *[]captured) {
	t.Helper()
	var mu sync.Mutex
	var reqs []captured
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := Verify(r, body, func(ak string) (string, bool) { return vecSK, ak == vecAK }, time.Now(), 15*time.Minute); err != nil {
			t.Errorf("signature: %v", err)
			w.WriteHeader(401)
			return
		}
		a, _ := ParseAuthorization(r.Header.Get("Authorization"))
		mu.Lock()
		reqs = append(reqs, captured{method: r.Method, path: r.URL.Path, query: r.URL.Query(), body: string(body), header: r.Header.Clone(), signed: strings.Join(a.SignedHeaders, ";")})
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		status, out := answer(r)
		w.Header().Set("X-Request-Id", "req-7")
		w.WriteHeader(status)
		io.WriteString(w, out)
	}))
	t.Cleanup(ts.Close)
	return ts, &reqs
}

func newTestClient(t *testing.T, endpoint string) *Client {
	t.Helper()
	c, err := New(providers.Config{Name: "ecs-n4", Region: "cn-north-4", Settings: map[string]string{providers.ProjectSetting: vecProject}, Endpoint: endpoint,
		AccessKey: vecAK, SecretKey: vecSK, BatchWindow: 5 * time.Millisecond,
		Retry: providers.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestChangeOSRequestForm(t *testing.T) {
	ts, reqs := fakeECS(t, func(*http.Request) (int, string) { return 200, `{"job_id":"job-1"}` })
	c := newTestClient(t, ts.URL)
	sub, err := c.Change(context.Background(), providers.ChangeRequest{
		InstanceID: "98284100-f6d1-4bbf-886a-1b0765024738", ImageID: "e215580f-73ad-429d-b6f2-5433947433b0",
		Options: &Options{KeyName: "KeyPair-350b", UserID: "7e25b1da389f4697a79df3a0e5bd494e"}, Running: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sub.JobID != "job-1" || sub.RequestID != "req-7" {
		t.Errorf("submission %+v", sub)
	}
	r := (*reqs)[0]
	// The same bytes as the reference vector's body.
	if r.body != vectors[0].body {
		t.Errorf("body\n got %s\nwant %s", r.body, vectors[0].body)
	}
	if r.method != http.MethodPost || r.path != vectors[0].path {
		t.Errorf("%s %s", r.method, r.path)
	}
	if r.signed != "user-agent;x-project-id;x-sdk-date" {
		t.Errorf("signed headers %q", r.signed)
	}
	if r.header.Get("X-Project-Id") != vecProject || r.header.Get("Content-Type") != "application/json;charset=UTF-8" {
		t.Errorf("headers %v", r.header)
	}

	// Reinstall: reinstallos without imageid; a stopped server gets no mode; BYOL and a password.
	if _, err := c.Change(context.Background(), providers.ChangeRequest{InstanceID: "s-2", ImageID: "img", Reinstall: true, Password: "Pa55word<&>", Options: &Options{BYOL: true}}); err != nil {
		t.Fatal(err)
	}
	r = (*reqs)[1]
	want := `{"os-reinstall":{"adminpass":"Pa55word<&>","metadata":{"BYOL":"true"}}}`
	if !strings.HasSuffix(r.path, "/cloudservers/s-2/reinstallos") || r.body != want {
		t.Errorf("%s %s, want body %s", r.path, r.body, want)
	}
}

func TestDetailRequestFormAndStates(t *testing.T) {
	ts, reqs := fakeECS(t, func(*http.Request) (int, string) {
		return 200, `{"count":6,"servers":[
			{"id":"a","status":"ACTIVE","image":{"id":"img"},"OS-EXT-STS:task_state":null},
			{"id":"b","status":"SHUTOFF","image":{"id":"img"},"OS-EXT-STS:task_state":""},
			{"id":"c","status":"ACTIVE","image":{"id":"img"},"OS-EXT-STS:task_state":"powering-off"},
			{"id":"d","status":"REBUILD","image":{"id":"img"},"OS-EXT-STS:task_state":"rebuilding"},
			{"id":"e","status":"ERROR","image":{"id":"img"},"fault":{"code":500,"message":"disk gone"}},
			{"id":"f","fault":{"code":404,"message":"Instance f could not be found."}}]}`
	})
	c := newTestClient(t, ts.URL)
	got, err := c.Lookup(context.Background(), []string{"a", "b", "c", "d", "e", "f"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]providers.State{"a": providers.StateRunning, "b": providers.StateStopped, "c": providers.StateInProgress,
		"d": providers.StateInProgress, "e": providers.StateError, "f": providers.StateNotFound}
	for id, st := range want {
		if got[id].State != st {
			t.Errorf("%s: %s (%s), want %s", id, got[id].State, got[id].RawState, st)
		}
	}
	if got["e"].Fault != "disk gone" || got["a"].Image != "img" {
		t.Errorf("e: %+v, a: %+v", got["e"], got["a"])
	}
	r := (*reqs)[0]
	if r.method != http.MethodGet || r.path != "/v1/"+vecProject+"/cloudservers/detail" ||
		r.query.Get("server_id") != "a,b,c,d,e,f" || r.query.Get("limit") != "100" || r.query.Get("offset") != "1" {
		t.Errorf("%s %s?%s", r.method, r.path, r.query.Encode())
	}
}

func TestBatchStopAndSubJobFailures(t *testing.T) {
	ts, reqs := fakeECS(t, func(r *http.Request) (int, string) {
		if strings.Contains(r.URL.Path, "/jobs/") {
			return 200, `{"job_id":"j","status":"RUNNING","entities":{"sub_jobs":[
				{"status":"RUNNING","entities":{"server_id":"a"}},
				{"status":"FAIL","entities":{"server_id":"b"},"error_code":"Ecs.0100","fail_reason":"state does not allow it"}]}}`
		}
		return 200, `{"job_id":"j"}`
	})
	c := newTestClient(t, ts.URL)
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() { errA = c.Stop(context.Background(), "a") })
	wg.Go(func() { errB = c.Stop(context.Background(), "b") })
	wg.Wait()
	if errA != nil {
		t.Errorf("a: %v", errA)
	}
	if providers.ErrorCode(errB) != "Ecs.0100" || !strings.Contains(errB.Error(), "state does not allow it") {
		t.Errorf("b: %v", errB)
	}
	if len(*reqs) != 2 {
		t.Fatalf("%d requests, want one action and one job read", len(*reqs))
	}
	r := (*reqs)[0]
	if r.path != "/v1/"+vecProject+"/cloudservers/action" ||
		(r.body != `{"os-stop":{"servers":[{"id":"a"},{"id":"b"}],"type":"SOFT"}}` && r.body != `{"os-stop":{"servers":[{"id":"b"},{"id":"a"}],"type":"SOFT"}}`) {
		t.Errorf("%s %s", r.path, r.body)
	}
}

func TestProgressDecisions(t *testing.T) {
	var mu sync.Mutex
	server, job, jobStatus := "", "", 200
	ts, reqs := fakeECS(t, func(r *http.Request) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(r.URL.Path, "/jobs/") {
			return jobStatus, job
		}
		return 200, `{"count":1,"servers":[` + server + `]}`
	})
	c := newTestClient(t, ts.URL)
	set := func(s, j string, js int) {
		mu.Lock()
		server, job, jobStatus = s, j, js
		mu.Unlock()
	}
	jobCalls := func() int {
		n := 0
		for _, r := range *reqs {
			if strings.Contains(r.path, "/jobs/") {
				n++
			}
		}
		return n
	}
	change := providers.Submission{InstanceID: "a", ImageID: "new", JobID: "j"}
	reinstall := providers.Submission{InstanceID: "a", ImageID: "old", JobID: "j", Reinstall: true}
	for _, tc := range []struct {
		name        string
		sub         providers.Submission
		server, job string
		jobStatus   int
		want        providers.Phase
		reason      string
		jobCall     bool
	}{
		{"rebuilding", change, `{"id":"a","status":"REBUILD","image":{"id":"old"},"OS-EXT-STS:task_state":"rebuilding"}`, "", 200, providers.PhaseInProgress, "", false},
		{"settled on target", change, `{"id":"a","status":"ACTIVE","image":{"id":"new"}}`, "", 200, providers.PhaseDone, "", false},
		{"not started yet", change, `{"id":"a","status":"ACTIVE","image":{"id":"old"}}`, `{"status":"INIT"}`, 200, providers.PhaseInProgress, "", true},
		{"job failed", change, `{"id":"a","status":"ERROR","image":{"id":"old"}}`, `{"status":"FAIL","error_code":"Ecs.0020","fail_reason":"disk broke"}`, 200, providers.PhaseFailed, "Ecs.0020: disk broke", true},
		{"reinstall done", reinstall, `{"id":"a","status":"ACTIVE","image":{"id":"old"}}`, `{"status":"SUCCESS"}`, 200, providers.PhaseDone, "", true},
		{"job vanished, not on target", change, `{"id":"a","status":"SHUTOFF","image":{"id":"old"}}`, `{"error":{"code":"Ecs.0005","message":"no job"}}`, 404, providers.PhaseFailed, "did not take", true},
		{"no job id, on target", providers.Submission{InstanceID: "a", ImageID: "new"}, `{"id":"a","status":"SHUTOFF","image":{"id":"new"}}`, "", 200, providers.PhaseDone, "", false},
		{"no job id, reinstall", providers.Submission{InstanceID: "a", ImageID: "old", Reinstall: true}, `{"id":"a","status":"ACTIVE","image":{"id":"old"}}`, "", 200, providers.PhaseFailed, "nothing shows", false},
		{"gone", change, `{"id":"a","fault":{"code":404}}`, "", 200, providers.PhaseFailed, "not found", false},
	} {
		set(tc.server, tc.job, tc.jobStatus)
		before := jobCalls()
		p, err := c.Progress(context.Background(), tc.sub)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if p.Phase != tc.want || !strings.Contains(p.Reason, tc.reason) {
			t.Errorf("%s: %s %q, want %s with %q", tc.name, p.Phase, p.Reason, tc.want, tc.reason)
		}
		if called := jobCalls() > before; called != tc.jobCall {
			t.Errorf("%s: job asked %v, want %v", tc.name, called, tc.jobCall)
		}
	}
}

func TestGatewayErrorParsed(t *testing.T) {
	ts, _ := fakeECS(t, func(*http.Request) (int, string) {
		return 401, `{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information","request_id":"gw-1"}`
	})
	c := newTestClient(t, ts.URL)
	_, err := c.Status(context.Background(), "a")
	if providers.ErrorCode(err) != "APIGW.0301" || !strings.Contains(err.Error(), "HTTP 401, request req-7") {
		t.Errorf("error %v", err)
	}
}

func TestDefaultEndpoint(t *testing.T) {
	if got := DefaultEndpoint("cn-north-4"); got != "https://ecs.cn-north-4.myhuaweicloud.com" {
		t.Errorf("DefaultEndpoint = %s", got)
	}
	t.Setenv("HUAWEICLOUD_SDK_REGION_ECS_CN_NORTH_4", "https://ecs.example.com")
	if got := DefaultEndpoint("cn-north-4"); got != "https://ecs.example.com" {
		t.Errorf("DefaultEndpoint with the override = %s", got)
	}
	t.Setenv("HUAWEICLOUD_SDK_PROJECT_ID", "")
	t.Setenv("HW_PROJECT_ID", "")
	if _, err := New(providers.Config{Name: "x", Region: "r", AccessKey: "a", SecretKey: "s"}); err == nil || !strings.Contains(err.Error(), "projectId") {
		t.Errorf("a missing project id: %v", err)
	}
}

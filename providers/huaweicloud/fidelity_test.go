package huaweicloud

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/providers"
)

// TestEcs0118SplitsTheBatch: Ecs.0118 refuses a batch for its size; it is not throttling, so
// the batch is split (no throttled retries of the same size) until each part is accepted.
func TestEcs0118SplitsTheBatch(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	ts, _ := fakeECS(t, func(r *http.Request) (int, string) {
		if strings.Contains(r.URL.Path, "/jobs/") {
			return 200, `{"job_id":"j","status":"RUNNING","entities":{"sub_jobs":[]}}`
		}
		var b stopBody
		_ = json.NewDecoder(r.Body).Decode(&b)
		mu.Lock()
		defer mu.Unlock()
		n := len(b.Stop.Servers)
		sizes = append(sizes, n)
		if n > 2 {
			return 400, `{"error":{"code":"Ecs.0118","message":"the number of ECSs 4 is greater than the maximum number 2"}}`
		}
		return 200, `{"job_id":"j"}`
	})
	c := newTestClient(t, ts.URL)
	res, err := c.actionBatch(context.Background(), opStop, []string{"a", "b", "c", "d"})
	if err != nil {
		t.Fatal(err)
	}
	for id, r := range res {
		if r.Err != nil {
			t.Errorf("%s: %v", id, r.Err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sizes) != 3 || sizes[0] != 4 || sizes[1] != 2 || sizes[2] != 2 {
		t.Fatalf("batch sizes sent %v, want [4 2 2]: one refusal, then halves", sizes)
	}
}

// TestSubJobFailureDetail: a sub-job's failure detail in entities.errorcode_message is part of
// the reason, with or without fail_reason.
func TestSubJobFailureDetail(t *testing.T) {
	var j Job
	if err := json.Unmarshal([]byte(`{"status":"FAIL","error_code":"Ecs.0100","fail_reason":null,
		"entities":{"server_id":"a","errorcode_message":"server is locked"}}`), &j); err != nil {
		t.Fatal(err)
	}
	if got := j.Reason(); got != "Ecs.0100: server is locked" {
		t.Errorf("reason %q", got)
	}
	j.FailReason = "task failed"
	if got := j.Reason(); got != "Ecs.0100: task failed (server is locked)" {
		t.Errorf("reason %q", got)
	}
}

// TestPendingPaymentIsAFailure: a job in PENDING_PAYMENT (a prepaid server without isAutoPay) is
// a failure that says what to do, never "in progress" until the timeout.
func TestPendingPaymentIsAFailure(t *testing.T) {
	ts, _ := fakeECS(t, func(r *http.Request) (int, string) {
		if strings.Contains(r.URL.Path, "/jobs/") {
			return 200, `{"job_id":"j","status":"PENDING_PAYMENT","entities":{"server_id":"a"}}`
		}
		return 200, `{"count":1,"servers":[{"id":"a","status":"SHUTOFF","image":{"id":"old"}}]}`
	})
	c := newTestClient(t, ts.URL)
	p, err := c.Progress(context.Background(), providers.Submission{InstanceID: "a", ImageID: "new", JobID: "j"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Phase != providers.PhaseFailed || !strings.Contains(p.Reason, "PENDING_PAYMENT") || !strings.Contains(p.Reason, "isAutoPay") {
		t.Fatalf("progress %s %q, want failed naming PENDING_PAYMENT and isAutoPay", p.Phase, p.Reason)
	}
}

// TestIsAutoPaySent: a change of a prepaid server sends "isAutoPay": "true" (a string, as the
// API takes it); others send nothing.
func TestIsAutoPaySent(t *testing.T) {
	ts, reqs := fakeECS(t, func(*http.Request) (int, string) { return 200, `{"job_id":"j"}` })
	c := newTestClient(t, ts.URL)
	for _, pay := range []bool{true, false} {
		if _, err := c.Change(context.Background(), providers.ChangeRequest{InstanceID: "a", ImageID: "new", Password: "Passw0rd!", Options: &Options{AutoPay: pay}}); err != nil {
			t.Fatal(err)
		}
	}
	if b := (*reqs)[0].body; !strings.Contains(b, `"isAutoPay":"true"`) {
		t.Errorf("prepaid body %s", b)
	}
	if b := (*reqs)[1].body; strings.Contains(b, "isAutoPay") {
		t.Errorf("pay-per-use body %s", b)
	}
}

// TestSignatureExpiredNamesTheClock: APIGW.0301 "signature expired" is the AK/SK clock-skew
// answer: the error says to check the local clock.
func TestSignatureExpiredNamesTheClock(t *testing.T) {
	ts, reqs := fakeECS(t, func(*http.Request) (int, string) {
		return 401, `{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: signature expired","request_id":"gw"}`
	})
	c := newTestClient(t, ts.URL)
	_, err := c.Status(context.Background(), "a")
	if providers.ErrorCode(err) != "APIGW.0301" || !strings.Contains(err.Error(), "check this machine's clock") {
		t.Fatalf("error %v", err)
	}
	if len(*reqs) != 1 {
		t.Errorf("%d requests: an expired signature is not retried", len(*reqs))
	}
}

// TestEndpointListFailsOverForReadsOnly: HUAWEICLOUD_SDK_REGION_ECS_<REGION> may list endpoints;
// a read that cannot reach the first goes to the next (which then stays in use); a write is never
// moved to another endpoint when its outcome is in doubt.
func TestEndpointListFailsOverForReadsOnly(t *testing.T) {
	ts, reqs := fakeECS(t, func(r *http.Request) (int, string) {
		if strings.Contains(r.URL.Path, "/cloudservers/detail") {
			return 200, `{"count":1,"servers":[{"id":"a","status":"ACTIVE","image":{"id":"img"}}]}`
		}
		return 200, `{"job_id":"j"}`
	})
	// A listener that accepts and closes at once: a connection error after the request was sent.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			conn.SetReadDeadline(time.Now().Add(time.Second))
			conn.Read(buf)
			conn.Close()
		}
	}()
	dead := "http://" + ln.Addr().String()
	t.Setenv("HUAWEICLOUD_SDK_REGION_ECS_CN_NORTH_4", dead+", "+ts.URL)
	c, err := New(providers.Config{Name: "ecs-n4", Region: "cn-north-4", Settings: map[string]string{providers.ProjectSetting: vecProject}, AccessKey: vecAK, SecretKey: vecSK,
		BatchWindow: time.Millisecond, Retry: providers.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A write to the dead endpoint first: in doubt, and not resent to the other one.
	_, err = c.Change(context.Background(), providers.ChangeRequest{InstanceID: "a", ImageID: "new", Password: "Passw0rd!"})
	if !providers.IsInDoubt(err) || len(*reqs) != 0 {
		t.Fatalf("write: %v, %d requests reached the second endpoint; want in doubt and none", err, len(*reqs))
	}
	inst, err := c.Status(context.Background(), "a")
	if err != nil || inst.State != providers.StateRunning {
		t.Fatalf("read: %+v %v, want the second endpoint's answer", inst, err)
	}
	// The endpoint that answered stays in use.
	if _, err := c.Change(context.Background(), providers.ChangeRequest{InstanceID: "a", ImageID: "new", Password: "Passw0rd!"}); err != nil {
		t.Fatalf("write after the fail-over: %v", err)
	}
}

// TestUnknownAndLockedServers: UNKNOWN and a locked server are settled states reimage does not
// touch, not transitions to wait on.
func TestUnknownAndLockedServers(t *testing.T) {
	for _, tc := range []struct {
		json  string
		want  providers.State
		fault string
	}{
		{`{"id":"a","status":"UNKNOWN"}`, providers.StateUnknown, ""},
		{`{"id":"a","status":"ACTIVE","locked":true}`, providers.StateUnknown, "locked"},
		{`{"id":"a","status":"SHUTOFF","locked":false}`, providers.StateStopped, ""},
	} {
		var s serverJSON
		if err := json.Unmarshal([]byte(tc.json), &s); err != nil {
			t.Fatal(err)
		}
		got := normalise(s)
		if got.State != tc.want || !strings.Contains(got.Fault, tc.fault) {
			t.Errorf("%s: %s %q, want %s with %q", tc.json, got.State, got.Fault, tc.want, tc.fault)
		}
	}
}

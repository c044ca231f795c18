package ecssim

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/sim"
)

// TestECSVectors sends the three reference vectors' exact requests (keys,
// time, Host, signed headers host;x-project-id;x-sdk-date) and expects them
// accepted; skew, tampering and a missing signature are refused with the
// gateway's codes.
func TestECSVectors(t *testing.T) {
	const vecHost = "ecs.cn-north-4.myhuaweicloud.com"
	type vec struct {
		name, method, path, body string
		query                    url.Values
		wantSig                  string
	}
	vecs := []vec{
		{name: "changeos", method: "POST",
			path:    "/cloudservers/98284100-f6d1-4bbf-886a-1b0765024738/changeos",
			body:    `{"os-change":{"keyname":"KeyPair-350b","userid":"7e25b1da389f4697a79df3a0e5bd494e","imageid":"e215580f-73ad-429d-b6f2-5433947433b0","mode":"withStopServer"}}`,
			wantSig: "2dd43f026175dea77b1c1ca56d16a07a4aff0aa6150addcd061f0dea234f0c70"},
		{name: "detail by server_id", method: "GET", path: "/cloudservers/detail",
			query:   url.Values{"server_id": {"98284100-f6d1-4bbf-886a-1b0765024738,1a2b3c4d-0000-4000-8000-000000000001"}, "limit": {"100"}, "offset": {"1"}},
			wantSig: "5eb991fbf33ce291c57c5cac331293052c229501e4b17dfde31ee55055e2b2c1"},
		{name: "detail with escapes", method: "GET", path: "/cloudservers/detail",
			query:   url.Values{"name": {"web 01/服务器"}, "tags": {"env=prod,role=web"}, "limit": {"1000"}},
			wantSig: "91447b17cb04ff8acf4191fd707e23cdadc3734d93a180543f21d0c2216c627b"},
	}
	tests := []struct {
		name     string
		skew     time.Duration
		tamper   func(r *http.Request)
		body     string
		wantCode string
	}{
		{name: "accept"},
		{name: "accept 14m early", skew: -14 * time.Minute},
		{name: "date 16m off", skew: 16 * time.Minute, wantCode: "APIGW.0301"}, // AK/SK: "signature expired",
		{name: "tampered header", wantCode: "APIGW.0301", tamper: func(r *http.Request) { r.Header.Set("X-Project-Id", strings.Repeat("f", 32)) }},
		{name: "tampered date", wantCode: "APIGW.0301", tamper: func(r *http.Request) { r.Header.Set("X-Sdk-Date", "20240102T030406Z") }},
		{name: "tampered query", wantCode: "APIGW.0301", tamper: func(r *http.Request) { r.URL.RawQuery += "&status=ACTIVE" }},
		{name: "tampered body", wantCode: "APIGW.0301", body: `{"os-change":{"keyname":"KeyPair-350b","imageid":"e215580f-73ad-429d-b6f2-5433947433b0","mode":"withStopServer"}}`},
		{name: "unsigned", wantCode: "APIGW.0301", tamper: func(r *http.Request) { r.Header.Del("Authorization") }},
		{name: "unknown key", wantCode: "APIGW.0301", tamper: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testHAK, "HWOTHER", 1))
		}},
	}
	for _, v := range vecs {
		for _, tt := range tests {
			if tt.body != "" && v.body == "" {
				continue
			}
			t.Run(v.name+"/"+tt.name, func(t *testing.T) {
				h := newHarness(t)
				u := h.URL + "/v1/" + testProject + v.path
				if v.query != nil {
					u += "?" + v.query.Encode()
				}
				var body []byte
				req, _ := http.NewRequest(v.method, u, nil)
				if v.body != "" {
					body = []byte(v.body)
					req, _ = http.NewRequest(v.method, u, strings.NewReader(v.body))
					req.Header.Set("Content-Type", "application/json;charset=UTF-8")
				}
				req.Header.Set("Host", vecHost)
				req.Header.Set("X-Project-Id", testProject)
				huaweicloud.Sign(req, body, testHAK, testHSK, vecTime)
				if !strings.HasSuffix(req.Header.Get("Authorization"), "SignedHeaders=host;x-project-id;x-sdk-date, Signature="+v.wantSig) {
					t.Fatalf("not the vector's signature: %s", req.Header.Get("Authorization"))
				}
				// What the client sends as the Host header travels as the request's Host.
				req.Host = vecHost
				req.Header.Del("Host")
				if tt.tamper != nil {
					tt.tamper(req)
				}
				if tt.body != "" {
					req.Body, req.ContentLength = nopBody(tt.body), int64(len(tt.body))
				}
				h.Clock.Advance(tt.skew)
				r := h.Do(req)
				if r.Header.Get("X-Request-Id") == "" {
					t.Error("no X-Request-Id")
				}
				if tt.wantCode == "" {
					if r.Status != 200 {
						t.Fatalf("status %d: %s", r.Status, r.Raw)
					}
					return
				}
				if r.Status != 401 || r.Str("error_code") != tt.wantCode || r.Str("request_id") != r.Header.Get("X-Request-Id") {
					t.Fatalf("got %d %s, want 401 %s: %s", r.Status, r.Str("error_code"), tt.wantCode, r.Raw)
				}
			})
		}
	}
}

func TestECSProjectChecks(t *testing.T) {
	h := newHarness(t)
	// X-Project-Id differs from the path's project (signed correctly).
	req, _ := http.NewRequest("GET", h.URL+"/v1/"+testProject+"/cloudservers/detail", nil)
	req.Header.Set("X-Project-Id", strings.Repeat("a", 32))
	huaweicloud.Sign(req, nil, testHAK, testHSK, vecTime)
	if r := h.Do(req); r.Status != 401 || r.Str("error_code") != "APIGW.0301" {
		t.Errorf("mismatched X-Project-Id: %d %s", r.Status, r.Raw)
	}
	// A project this account does not have.
	other := strings.Repeat("b", 32)
	req, _ = http.NewRequest("GET", h.URL+"/v1/"+other+"/cloudservers/detail", nil)
	req.Header.Set("X-Project-Id", other)
	huaweicloud.Sign(req, nil, testHAK, testHSK, vecTime)
	if r := h.Do(req); r.Status != 401 || r.Str("error_code") != "APIGW.0301" {
		t.Errorf("unknown project: %d %s", r.Status, r.Raw)
	}
	// An API that does not exist.
	if r := h.ECS("DELETE", "/cloudservers/"+ecsRunning, nil, nil); r.Status != 404 || r.Str("error_code") != "APIGW.0101" {
		t.Errorf("unknown API: %d %s", r.Status, r.Raw)
	}
}

func TestECSListAndShow(t *testing.T) {
	h := newHarness(t)
	for i := range 30 {
		h.Sim.AddInstance(sim.Instance{Provider: huaweicloud.Type, ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: fmt.Sprintf("bulk-%02d", i), Image: imgECSNew})
	}
	r := h.ECS("GET", "/cloudservers/detail", nil, nil)
	if r.Status != 200 || r.Body["count"].(float64) != 32 || len(r.Body["servers"].([]any)) != 25 {
		t.Fatalf("default page: %d count=%v", r.Status, r.Body["count"])
	}
	s0 := r.Body["servers"].([]any)[0].(map[string]any)
	var keys []string
	for k := range s0 {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, want := range []string{"id", "name", "status", "image", "metadata", "OS-EXT-STS:task_state", "OS-EXT-STS:vm_state", "fault", "locked", "updated"} {
		if _, ok := s0[want]; !ok {
			t.Errorf("server lacks %s (has %v)", want, keys)
		}
	}
	if s0["id"] != ecsRunning || s0["status"] != "ACTIVE" || s0["OS-EXT-STS:task_state"] != nil || s0["OS-EXT-STS:vm_state"] != "active" ||
		s0["image"].(map[string]any)["id"] != imgOld || s0["metadata"].(map[string]any)["metering.image_id"] != imgOld || s0["fault"] != nil {
		t.Errorf("server = %v", s0)
	}
	// offset is a page number; 0 reads as 1.
	var pages [][]any
	for _, off := range []string{"0", "1", "2", "3", "4", "5"} {
		r := h.ECS("GET", "/cloudservers/detail", url.Values{"limit": {"10"}, "offset": {off}}, nil)
		pages = append(pages, r.Body["servers"].([]any))
	}
	if len(pages[0]) != 10 || pages[0][0].(map[string]any)["id"] != pages[1][0].(map[string]any)["id"] || len(pages[4]) != 2 || len(pages[5]) != 0 {
		t.Errorf("paging: %d %d %d %d", len(pages[0]), len(pages[1]), len(pages[4]), len(pages[5]))
	}
	// Filters.
	for _, tt := range []struct {
		q    url.Values
		want int
	}{
		{url.Values{"status": {"SHUTOFF"}}, 1},
		{url.Values{"name": {"bulk-1"}}, 10},
		{url.Values{"tags": {"env=prod"}}, 0},
		{url.Values{"limit": {"1000"}}, 32},
	} {
		if r := h.ECS("GET", "/cloudservers/detail", tt.q, nil); r.Status != 200 || int(r.Body["count"].(float64)) != tt.want {
			t.Errorf("%v: %d count %v, want %d", tt.q, r.Status, r.Body["count"], tt.want)
		}
	}
	// server_id: overrides filters; unknown ids come back with only id and fault.
	r = h.ECS("GET", "/cloudservers/detail", url.Values{"server_id": {ecsStopped + ",33333333-3333-4333-8333-333333333333"}, "status": {"ACTIVE"}}, nil)
	servers := r.Body["servers"].([]any)
	if r.Status != 200 || len(servers) != 2 || servers[0].(map[string]any)["status"] != "SHUTOFF" {
		t.Fatalf("server_id: %s", r.Raw)
	}
	missing := servers[1].(map[string]any)
	if len(missing) != 2 || missing["id"] != "33333333-3333-4333-8333-333333333333" || missing["fault"] == nil {
		t.Errorf("unknown id entry: %v", missing)
	}
	var ids []string
	for i := range 101 {
		ids = append(ids, fmt.Sprintf("id-%d", i))
	}
	for _, q := range []url.Values{
		{"limit": {"1001"}}, {"limit": {"0"}}, {"offset": {"-1"}}, {"limit": {"x"}}, {"server_id": {strings.Join(ids, ",")}},
	} {
		if r := h.ECS("GET", "/cloudservers/detail", q, nil); r.Status != 400 || r.ECSCode() != "Ecs.0005" {
			t.Errorf("%v: %d %s", q, r.Status, r.Raw)
		}
	}
	// ShowServer.
	r = h.ECS("GET", "/cloudservers/"+ecsStopped, nil, nil)
	if r.Status != 200 || r.Str("server", "id") != ecsStopped || r.Str("server", "status") != "SHUTOFF" {
		t.Errorf("show: %d %s", r.Status, r.Raw)
	}
	if r := h.ECS("GET", "/cloudservers/33333333-3333-4333-8333-333333333333", nil, nil); r.Status != 404 || r.ECSCode() != "Ecs.0114" {
		t.Errorf("show unknown: %d %s", r.Status, r.Raw)
	}
}

func changeOS(image, mode string) map[string]any {
	c := map[string]any{"keyname": "KeyPair-350b", "userid": "7e25b1da389f4697a79df3a0e5bd494e", "imageid": image}
	if mode != "" {
		c["mode"] = mode
	}
	return map[string]any{"os-change": c}
}

// jobAt reads a job and returns its status (and the decoded answer).
func jobOf(h *harness, id string) response {
	h.T.Helper()
	r := h.ECS("GET", "/jobs/"+id, nil, nil)
	if r.Status != 200 {
		h.T.Fatalf("job %s: %d %s", id, r.Status, r.Raw)
	}
	return r
}

// server reads one server's status and task state.
func serverOf(h *harness, id string) (status, task, image string) {
	h.T.Helper()
	r := h.ECS("GET", "/cloudservers/"+id, nil, nil)
	srv := r.Body["server"].(map[string]any)
	task, _ = srv["OS-EXT-STS:task_state"].(string)
	return srv["status"].(string), task, srv["image"].(map[string]any)["id"].(string)
}

func TestECSChangeOSLifecycle(t *testing.T) {
	h := newHarness(t)
	path := "/cloudservers/" + ecsRunning + "/changeos"
	// A running server without mode withStopServer is refused.
	if r := h.ECS("POST", path, nil, changeOS(imgECSNew, "")); r.Status != 400 || r.ECSCode() != "Ecs.0100" {
		t.Fatalf("running without mode: %d %s", r.Status, r.Raw)
	}
	r := h.ECS("POST", path, nil, changeOS(imgECSNew, "withStopServer"))
	if r.Status != 200 || r.Str("job_id") == "" {
		t.Fatalf("changeos: %d %s", r.Status, r.Raw)
	}
	jobID := r.Str("job_id")
	if j := jobOf(h, jobID); j.Str("status") != "INIT" || j.Str("job_type") != "changeOS" || j.Str("entities", "server_id") != ecsRunning || j.Str("begin_time") == "" || j.Str("end_time") != "" {
		t.Fatalf("job at once: %s", j.Raw)
	}
	steps := []struct {
		after                     time.Duration
		status, task, image, jobS string
	}{
		{time.Second, "ACTIVE", "powering-off", imgOld, "RUNNING"},
		{9 * time.Second, "REBUILD", "rebuilding", imgOld, "RUNNING"},
		{60 * time.Second, "SHUTOFF", "powering-on", imgECSNew, "RUNNING"},
		{20 * time.Second, "ACTIVE", "", imgECSNew, "SUCCESS"},
	}
	for _, st := range steps {
		h.Clock.Advance(st.after)
		status, task, image := serverOf(h, ecsRunning)
		if status != st.status || task != st.task || image != st.image {
			t.Fatalf("+%s: %s/%s %s, want %s/%s %s", st.after, status, task, image, st.status, st.task, st.image)
		}
		if j := jobOf(h, jobID); j.Str("status") != st.jobS {
			t.Fatalf("+%s: job %s, want %s", st.after, j.Str("status"), st.jobS)
		}
		if st.task != "" {
			// Busy: another change, a reinstall, a stop are refused.
			if r := h.ECS("POST", path, nil, changeOS(imgECSNew, "withStopServer")); r.Status != 400 || r.ECSCode() != "Ecs.0100" {
				t.Fatalf("changeos while %s: %d %s", st.task, r.Status, r.Raw)
			}
		}
	}
	if v := h.View(huaweicloud.Type, ecsRunning); v.State != "ACTIVE" || v.Changes != 1 {
		t.Fatalf("view: %+v", v)
	}
	if j := jobOf(h, jobID); j.Str("end_time") == "" || j.Str("fail_reason") != "" {
		t.Errorf("finished job: %s", j.Raw)
	}
	// A SHUTOFF server needs no mode and also ends ACTIVE; reinstallos keeps the image.
	r = h.ECS("POST", "/cloudservers/"+ecsStopped+"/reinstallos", nil, map[string]any{"os-reinstall": map[string]any{"adminpass": "1qaQ!abc", "metadata": map[string]string{"BYOL": "true"}}})
	if r.Status != 200 {
		t.Fatalf("reinstallos: %d %s", r.Status, r.Raw)
	}
	if status, task, _ := serverOf(h, ecsStopped); status != "REBUILD" || task != "rebuilding" {
		t.Fatalf("reinstall at once: %s/%s", status, task)
	}
	h.Clock.Advance(80 * time.Second)
	if j := jobOf(h, r.Str("job_id")); j.Str("status") != "SUCCESS" || j.Str("job_type") != "reInitOs" {
		t.Fatalf("reinstall job: %s", j.Raw)
	}
	if v := h.View(huaweicloud.Type, ecsStopped); v.State != "ACTIVE" || v.Image != imgOld || v.Changes != 1 {
		t.Fatalf("after reinstall: %+v", v)
	}
	stats := h.Sim.Stats()
	if stats.Requests["huaweicloud/ChangeServerOsWithoutCloudInit/200"] != 1 || stats.Requests["huaweicloud/ChangeServerOsWithoutCloudInit/400"] < 2 ||
		stats.Requests["huaweicloud/ReinstallServerWithoutCloudInit/200"] != 1 || stats.Requests["huaweicloud/ShowJob/200"] == 0 || stats.Requests["huaweicloud/ShowServer/200"] == 0 {
		t.Errorf("stats: %v", stats.Requests)
	}
}

func TestECSChangeOSErrors(t *testing.T) {
	h := newHarness(t)
	path := "/cloudservers/" + ecsStopped + "/changeos"
	for _, tt := range []struct {
		name   string
		path   string
		body   any
		status int
		code   string
	}{
		{"unknown server", "/cloudservers/33333333-3333-4333-8333-333333333333/changeos", changeOS(imgECSNew, ""), 404, "Ecs.0114"},
		{"unknown image", path, changeOS("99999999-9999-4999-8999-999999999999", ""), 400, "Ecs.0031"},
		{"no login", path, map[string]any{"os-change": map[string]any{"imageid": imgECSNew}}, 400, "Ecs.0005"},
		{"no image", path, map[string]any{"os-change": map[string]any{"keyname": "k"}}, 400, "Ecs.0005"},
		{"image not a UUID", path, changeOS("centos", ""), 400, "Ecs.0005"},
		{"bad mode", path, changeOS(imgECSNew, "force"), 400, "Ecs.0005"},
		{"BYOL false", path, map[string]any{"os-change": map[string]any{"imageid": imgECSNew, "keyname": "k", "metadata": map[string]string{"BYOL": "false"}}}, 400, "Ecs.0005"},
		{"unknown field", path, map[string]any{"os-change": map[string]any{"imageid": imgECSNew, "keyname": "k", "user_data": "eA=="}}, 400, "Ecs.0005"},
		{"wrong wrapper", path, map[string]any{"os-reinstall": map[string]any{"keyname": "k"}}, 400, "Ecs.0005"},
		{"not JSON", path, []byte("imageid=x"), 400, "Ecs.0005"},
		{"reinstall with image", "/cloudservers/" + ecsStopped + "/reinstallos", map[string]any{"os-reinstall": map[string]any{"keyname": "k", "imageid": imgECSNew}}, 400, "Ecs.0005"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.ECS("POST", tt.path, nil, tt.body)
			if r.Status != tt.status || r.ECSCode() != tt.code || r.Str("error", "message") == "" {
				t.Fatalf("got %d %s, want %d %s: %s", r.Status, r.ECSCode(), tt.status, tt.code, r.Raw)
			}
		})
	}
	if v := h.View(huaweicloud.Type, ecsStopped); v.State != "SHUTOFF" || v.Changes != 0 {
		t.Fatalf("refused requests had an effect: %+v", v)
	}
}

func TestECSChangeOSFails(t *testing.T) {
	h := newHarness(t, func(o *sim.Options) { o.FailIDs = []string{ecsRunning} })
	r := h.ECS("POST", "/cloudservers/"+ecsRunning+"/changeos", nil, changeOS(imgECSNew, "withStopServer"))
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	h.Clock.Advance(70 * time.Second)
	j := jobOf(h, r.Str("job_id"))
	if j.Str("status") != "FAIL" || j.Str("fail_reason") == "" || j.Str("error_code") == "" {
		t.Fatalf("job: %s", j.Raw)
	}
	srv := h.ECS("GET", "/cloudservers/"+ecsRunning, nil, nil)
	if srv.Str("server", "status") != "ERROR" || srv.Str("server", "image", "id") != imgOld || srv.Str("server", "fault", "message") == "" {
		t.Fatalf("server: %s", srv.Raw)
	}
	if v := h.View(huaweicloud.Type, ecsRunning); v.Changes != 0 || v.State != "ERROR" {
		t.Fatalf("%+v", v)
	}
	// ECS allows changeos on a server whose change failed (the API reference's constraints).
	if r := h.ECS("POST", "/cloudservers/"+ecsRunning+"/changeos", nil, changeOS(imgECSNew, "")); r.Status != 200 {
		t.Fatalf("changeos after a failed change: %s", r.Raw)
	}
}

// A job that fails without harm (JobFailIDs): the job ends FAIL, and the server,
// shut off for the change, stays SHUTOFF on its old image, neither changed nor
// in error; a change submitted again is accepted.
func TestECSChangeOSJobFailsWithoutHarm(t *testing.T) {
	h := newHarness(t, func(o *sim.Options) { o.JobFailIDs = []string{ecsRunning} })
	r := h.ECS("POST", "/cloudservers/"+ecsRunning+"/changeos", nil, changeOS(imgECSNew, "withStopServer"))
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	h.Clock.Advance(70 * time.Second)
	j := jobOf(h, r.Str("job_id"))
	if j.Str("status") != "FAIL" || j.Str("fail_reason") == "" || j.Str("error_code") == "" {
		t.Fatalf("job: %s", j.Raw)
	}
	srv := h.ECS("GET", "/cloudservers/"+ecsRunning, nil, nil)
	if srv.Str("server", "status") != "SHUTOFF" || srv.Str("server", "image", "id") != imgOld {
		t.Fatalf("server: %s", srv.Raw)
	}
	if v := h.View(huaweicloud.Type, ecsRunning); v.Changes != 0 || v.State != "SHUTOFF" {
		t.Fatalf("%+v", v)
	}
	if r := h.ECS("POST", "/cloudservers/"+ecsRunning+"/changeos", nil, changeOS(imgECSNew, "")); r.Status != 200 {
		t.Fatalf("changeos after a failed job: %s", r.Raw)
	}
}

func batch(action string, typ string, ids ...string) map[string]any {
	var servers []map[string]string
	for _, id := range ids {
		servers = append(servers, map[string]string{"id": id})
	}
	a := map[string]any{"servers": servers}
	if typ != "" {
		a["type"] = typ
	}
	return map[string]any{action: a}
}

func TestECSBatchActions(t *testing.T) {
	h := newHarness(t)
	unknown := "33333333-3333-4333-8333-333333333333"
	r := h.ECS("POST", "/cloudservers/action", nil, batch("os-stop", "SOFT", ecsRunning, ecsStopped, unknown))
	if r.Status != 200 || r.Str("job_id") == "" {
		t.Fatalf("os-stop: %d %s", r.Status, r.Raw)
	}
	stopJob := r.Str("job_id")
	if status, task, _ := serverOf(h, ecsRunning); status != "ACTIVE" || task != "powering-off" {
		t.Fatalf("stopping: %s/%s", status, task)
	}
	// A start while it powers off fails that server's sub-job.
	r = h.ECS("POST", "/cloudservers/action", nil, batch("os-start", "", ecsRunning))
	h.Clock.Advance(10 * time.Second)
	if j := jobOf(h, r.Str("job_id")); j.Str("status") != "FAIL" {
		t.Fatalf("start while stopping: %s", j.Raw)
	} else if sub := j.Body["entities"].(map[string]any)["sub_jobs"].([]any)[0].(map[string]any); sub["status"] != "FAIL" || sub["error_code"] != "Ecs.0100" {
		t.Fatalf("sub-job: %v", sub)
	}
	j := jobOf(h, stopJob)
	ent := j.Body["entities"].(map[string]any)
	subs := ent["sub_jobs"].([]any)
	if j.Str("job_type") != "batchStopServer" || j.Str("status") != "FAIL" || ent["sub_jobs_total"] != 3.0 || len(subs) != 3 {
		t.Fatalf("stop job: %s", j.Raw)
	}
	// error_code is null on success.
	want := []struct {
		status string
		code   any
	}{{"SUCCESS", nil}, {"SUCCESS", nil}, {"FAIL", "Ecs.0114"}}
	for i, x := range subs {
		sub := x.(map[string]any)
		if sub["status"] != want[i].status || sub["error_code"] != want[i].code || sub["job_type"] != "stopServer" || sub["entities"].(map[string]any)["server_id"] == "" {
			t.Errorf("sub-job %d: %v", i, sub)
		}
	}
	if status, _, _ := serverOf(h, ecsRunning); status != "SHUTOFF" {
		t.Fatalf("after stop: %s", status)
	}
	// os-start: both stopped servers.
	r = h.ECS("POST", "/cloudservers/action", nil, batch("os-start", "", ecsRunning, ecsStopped))
	if j := jobOf(h, r.Str("job_id")); j.Str("status") != "INIT" || j.Str("job_type") != "batchStartServer" {
		t.Fatalf("start job: %s", j.Raw)
	}
	if status, task, _ := serverOf(h, ecsStopped); status != "SHUTOFF" || task != "powering-on" {
		t.Fatalf("starting: %s/%s", status, task)
	}
	h.Clock.Advance(20 * time.Second)
	if j := jobOf(h, r.Str("job_id")); j.Str("status") != "SUCCESS" {
		t.Fatalf("start job: %s", j.Raw)
	}
	for _, id := range []string{ecsRunning, ecsStopped} {
		if status, task, _ := serverOf(h, id); status != "ACTIVE" || task != "" {
			t.Fatalf("%s after start: %s/%s", id, status, task)
		}
	}
	var many []string
	for i := range 1001 {
		many = append(many, fmt.Sprintf("id-%d", i))
	}
	// Over 1000 servers: Ecs.0118, the batch's size (TestECSBatchOverLimitIsEcs0118).
	if r := h.ECS("POST", "/cloudservers/action", nil, batch("os-stop", "SOFT", many...)); r.Status != 400 || r.ECSCode() != "Ecs.0118" {
		t.Errorf("1001 servers: %d %.200s", r.Status, r.Raw)
	}
	for _, body := range []any{
		batch("os-stop", "GENTLE", ecsRunning),
		batch("os-start", "SOFT", ecsRunning),
		batch("os-reboot", "SOFT", ecsRunning),
		map[string]any{"os-stop": map[string]any{"servers": []any{}}},
	} {
		if r := h.ECS("POST", "/cloudservers/action", nil, body); r.Status != 400 || r.ECSCode() != "Ecs.0005" {
			t.Errorf("%.80v: %d %s", body, r.Status, r.Raw)
		}
	}
	if r := h.ECS("GET", "/jobs/ffffffffffffffffffffffffffffffff", nil, nil); r.Status != 404 {
		t.Errorf("unknown job: %d %s", r.Status, r.Raw)
	}
	st := h.Sim.Stats().Requests
	if st["huaweicloud/BatchStopServers/200"] != 1 || st["huaweicloud/BatchStartServers/200"] != 2 || st["huaweicloud/BatchServerAction/400"] != 1 {
		t.Errorf("stats: %v", st)
	}
}

// TestECSJobExpiry: a job can be read for a day after it ended, then it is gone.
func TestECSJobExpiry(t *testing.T) {
	h := newHarness(t)
	r := h.ECS("POST", "/cloudservers/action", nil, batch("os-start", "", ecsStopped))
	h.Clock.Advance(20*time.Second + 23*time.Hour)
	jobOf(h, r.Str("job_id"))
	h.Clock.Advance(2 * time.Hour)
	if r := h.ECS("GET", "/jobs/"+r.Str("job_id"), nil, nil); r.Status != 404 {
		t.Fatalf("a job a day old: %d %s", r.Status, r.Raw)
	}
}

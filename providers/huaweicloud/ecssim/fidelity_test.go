package ecssim

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/sim"
)

// TestECSPasswordPolicyRefusedWithEcs0011: an adminpass outside ECS's policy (here a '#', not one
// of its specials, and 27 characters) is refused with Ecs.0011 and the server is not touched.
func TestECSPasswordPolicyRefusedWithEcs0011(t *testing.T) {
	h := newHarness(t)
	for _, pw := range []string{"Passw0rd#x", "A1b2C3d4E5f6G7h8I9j0K1l2M3n"} {
		r := h.ECS(http.MethodPost, "/cloudservers/"+ecsStopped+"/changeos", nil, map[string]any{"os-change": map[string]any{"adminpass": pw, "imageid": imgECSNew}})
		if r.Status != http.StatusBadRequest || r.ECSCode() != "Ecs.0011" {
			t.Fatalf("%q: %d %s, want 400 Ecs.0011", pw, r.Status, r.Raw)
		}
	}
	if v := h.View(huaweicloud.Type, ecsStopped); v.State != "SHUTOFF" || v.Image != imgOld {
		t.Fatalf("server touched: %+v", v)
	}
}

// TestECSJobFieldsAsTheCloudWritesThem: job times look like 2016-04-25T20:04:47.591Z, end_time,
// error_code and fail_reason are null until the job ends and while it succeeds, and a failed
// job carries its detail in entities.errorcode_message; the reinstall job type is reInitOs.
func TestECSJobFieldsAsTheCloudWritesThem(t *testing.T) {
	h := newHarness(t, func(o *sim.Options) { o.FailIDs = []string{ecsRunning} })
	ok := h.ECS(http.MethodPost, "/cloudservers/"+ecsStopped+"/reinstallos", nil, map[string]any{"os-reinstall": map[string]any{"adminpass": "Passw0rd!x"}})
	bad := h.ECS(http.MethodPost, "/cloudservers/"+ecsRunning+"/changeos", nil, changeOS(imgECSNew, "withStopServer"))
	running := jobOf(h, ok.Str("job_id"))
	if running.Body["end_time"] != nil || running.Body["error_code"] != nil || running.Body["fail_reason"] != nil {
		t.Fatalf("a running job: %s", running.Raw)
	}
	h.Clock.Advance(5 * time.Minute)
	done := jobOf(h, ok.Str("job_id"))
	layout := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	if !layout.MatchString(done.Str("begin_time")) || !layout.MatchString(done.Str("end_time")) || done.Str("job_type") != "reInitOs" ||
		done.Body["error_code"] != nil || done.Body["fail_reason"] != nil {
		t.Fatalf("a finished reinstall job: %s", done.Raw)
	}
	failed := jobOf(h, bad.Str("job_id"))
	if failed.Str("status") != "FAIL" || failed.Str("entities", "errorcode_message") == "" || failed.Str("error_code") == "" {
		t.Fatalf("a failed job: %s", failed.Raw)
	}
}

// TestPrepaidServerWaitsForPayment: a change of a prepaid server without isAutoPay opens an order:
// the job stays PENDING_PAYMENT and the server is untouched; with isAutoPay "true" it runs.
func TestPrepaidServerWaitsForPayment(t *testing.T) {
	h := newHarness(t)
	const prepaid = "1a2b3c4d-0000-4000-8000-0000000000aa"
	if err := h.Sim.AddInstance(sim.Instance{Provider: huaweicloud.Type, ID: prepaid, Image: imgOld, State: "stopped", Prepaid: true}); err != nil {
		t.Fatal(err)
	}
	if srv := h.ECS(http.MethodGet, "/cloudservers/"+prepaid, nil, nil); srv.Str("server", "metadata", "charging_mode") != "1" {
		t.Fatalf("charging_mode: %s", srv.Raw)
	}
	body := func(autoPay string) map[string]any {
		c := map[string]any{"adminpass": "Passw0rd!x", "imageid": imgECSNew}
		if autoPay != "" {
			c["isAutoPay"] = autoPay
		}
		return map[string]any{"os-change": c}
	}
	r := h.ECS(http.MethodPost, "/cloudservers/"+prepaid+"/changeos", nil, body(""))
	h.Clock.Advance(time.Hour)
	if j := jobOf(h, r.Str("job_id")); j.Str("status") != "PENDING_PAYMENT" {
		t.Fatalf("job: %s", j.Raw)
	}
	if v := h.View(huaweicloud.Type, prepaid); v.State != "SHUTOFF" || v.Image != imgOld || v.Changes != 0 {
		t.Fatalf("server touched while unpaid: %+v", v)
	}
	r = h.ECS(http.MethodPost, "/cloudservers/"+prepaid+"/changeos", nil, body("true"))
	h.Clock.Advance(10 * time.Minute)
	if j := jobOf(h, r.Str("job_id")); j.Str("status") != "SUCCESS" {
		t.Fatalf("job with isAutoPay: %s", j.Raw)
	}
	if v := h.View(huaweicloud.Type, prepaid); v.Image != imgECSNew || v.Changes != 1 {
		t.Fatalf("after a paid change: %+v", v)
	}
}

// TestPrepaidChangeFailsThroughTheClient: end to end, the ECS client reports the change of a
// prepaid server sent without isAutoPay as failed (PENDING_PAYMENT), and with AutoPay as done.
func TestPrepaidChangeFailsThroughTheClient(t *testing.T) {
	h := newHarness(t)
	// The client signs with the real time: the simulator's clock starts there.
	h.Clock.Advance(time.Until(h.Clock.Now()) * -1)
	const prepaid = "1a2b3c4d-0000-4000-8000-0000000000ab"
	if err := h.Sim.AddInstance(sim.Instance{Provider: huaweicloud.Type, ID: prepaid, Image: imgOld, State: "stopped", Prepaid: true}); err != nil {
		t.Fatal(err)
	}
	c, err := huaweicloud.New(providers.Config{Name: "ecs", Region: "cn-north-4", Settings: map[string]string{providers.ProjectSetting: testProject}, Endpoint: h.URL,
		AccessKey: testHAK, SecretKey: testHSK, BatchWindow: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for _, pay := range []bool{false, true} {
		sub, err := c.Change(ctx, providers.ChangeRequest{InstanceID: prepaid, ImageID: imgECSNew, Password: "Passw0rd!x", Options: &huaweicloud.Options{AutoPay: pay}})
		if err != nil {
			t.Fatal(err)
		}
		h.Clock.Advance(2 * time.Minute) // the rebuild takes 80s; signatures allow 15 minutes of skew
		p, err := c.Progress(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		want := providers.PhaseFailed
		if pay {
			want = providers.PhaseDone
		}
		if p.Phase != want || !pay && !strings.Contains(p.Reason, "PENDING_PAYMENT") {
			t.Fatalf("AutoPay %v: %s %q, want %s", pay, p.Phase, p.Reason, want)
		}
	}
}

// TestECSBatchOverLimitIsEcs0118: more than 1000 servers in one os-stop is refused with Ecs.0118
// (the batch size), and nothing is stopped.
func TestECSBatchOverLimitIsEcs0118(t *testing.T) {
	h := newHarness(t)
	servers := make([]map[string]string, 1001)
	for i := range servers {
		servers[i] = map[string]string{"id": ecsRunning}
	}
	r := h.ECS(http.MethodPost, "/cloudservers/action", nil, map[string]any{"os-stop": map[string]any{"servers": servers}})
	if r.Status != http.StatusBadRequest || r.ECSCode() != "Ecs.0118" {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	if v := h.View(huaweicloud.Type, ecsRunning); v.State != "ACTIVE" {
		t.Fatalf("stopped anyway: %+v", v)
	}
}

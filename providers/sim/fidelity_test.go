package sim

import (
	"net/http"
	"regexp"
	"testing"
	"time"
)

// TestECSPasswordPolicyRefusedWithEcs0011: an adminpass outside ECS's policy (here a '#', not one
// of its specials, and 27 characters) is refused with Ecs.0011 and the server is not touched.
func TestECSPasswordPolicyRefusedWithEcs0011(t *testing.T) {
	h := newHarness(t)
	for _, pw := range []string{"Passw0rd#x", "A1b2C3d4E5f6G7h8I9j0K1l2M3n"} {
		r := h.ecs(http.MethodPost, "/cloudservers/"+ecsStopped+"/changeos", nil, map[string]any{"os-change": map[string]any{"adminpass": pw, "imageid": imgECSNew}})
		if r.status != http.StatusBadRequest || r.ecsCode() != "Ecs.0011" {
			t.Fatalf("%q: %d %s, want 400 Ecs.0011", pw, r.status, r.raw)
		}
	}
	if v := h.view(HuaweiCloud, ecsStopped); v.State != "SHUTOFF" || v.Image != imgOld {
		t.Fatalf("server touched: %+v", v)
	}
}

// TestECSJobFieldsAsTheCloudWritesThem: job times look like 2016-04-25T20:04:47.591Z, end_time,
// error_code and fail_reason are null until the job ends and while it succeeds, and a failed
// job carries its detail in entities.errorcode_message; the reinstall job type is reInitOs.
func TestECSJobFieldsAsTheCloudWritesThem(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.FailIDs = []string{ecsRunning} })
	ok := h.ecs(http.MethodPost, "/cloudservers/"+ecsStopped+"/reinstallos", nil, map[string]any{"os-reinstall": map[string]any{"adminpass": "Passw0rd!x"}})
	bad := h.ecs(http.MethodPost, "/cloudservers/"+ecsRunning+"/changeos", nil, changeOS(imgECSNew, "withStopServer"))
	running := h.job(ok.str("job_id"))
	if running.body["end_time"] != nil || running.body["error_code"] != nil || running.body["fail_reason"] != nil {
		t.Fatalf("a running job: %s", running.raw)
	}
	h.clock.Advance(5 * time.Minute)
	done := h.job(ok.str("job_id"))
	layout := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	if !layout.MatchString(done.str("begin_time")) || !layout.MatchString(done.str("end_time")) || done.str("job_type") != "reInitOs" ||
		done.body["error_code"] != nil || done.body["fail_reason"] != nil {
		t.Fatalf("a finished reinstall job: %s", done.raw)
	}
	failed := h.job(bad.str("job_id"))
	if failed.str("status") != "FAIL" || failed.str("entities", "errorcode_message") == "" || failed.str("error_code") == "" {
		t.Fatalf("a failed job: %s", failed.raw)
	}
}

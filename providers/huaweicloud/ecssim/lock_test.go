package ecssim

import (
	"net/http"
	"testing"

	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/sim"
)

// A locked server shows "locked": true and ECS refuses every operation on it
// with Ecs.0605; a server whose state ECS does not know shows status UNKNOWN
// and every operation is refused with Ecs.0100. Neither operation changes the
// server, and the lock can come and go at run time.
func TestECSLockedAndUnknownServersRefuseEveryOperation(t *testing.T) {
	for _, tc := range []struct {
		name       string
		edit       func(*sim.Options)
		status     string
		locked     bool
		code       string
		httpStatus int
	}{
		{"locked", func(o *sim.Options) { o.LockedIDs = []string{ecsRunning} }, "ACTIVE", true, "Ecs.0605", http.StatusConflict},
		{"unknown", func(o *sim.Options) { o.UnknownIDs = []string{ecsRunning} }, "UNKNOWN", false, "Ecs.0100", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.edit)
			r := h.ECS("GET", "/cloudservers/"+ecsRunning, nil, nil)
			srv := r.Body["server"].(map[string]any)
			if srv["status"] != tc.status || srv["locked"] != tc.locked || srv["OS-EXT-STS:task_state"] != nil {
				t.Fatalf("server: status %v locked %v task %v, want %s %v null", srv["status"], srv["locked"], srv["OS-EXT-STS:task_state"], tc.status, tc.locked)
			}
			if v := h.View(huaweicloud.Type, ecsRunning); v.State != tc.status {
				t.Fatalf("/_sim/instances state %q, want %q", v.State, tc.status)
			}
			// changeos and reinstallos are refused synchronously.
			r = h.ECS("POST", "/cloudservers/"+ecsRunning+"/changeos", nil, changeOS(imgECSNew, "withStopServer"))
			if r.Status != tc.httpStatus || r.ECSCode() != tc.code {
				t.Fatalf("changeos: %d %s, want %d %s", r.Status, r.Raw, tc.httpStatus, tc.code)
			}
			r = h.ECS("POST", "/cloudservers/"+ecsRunning+"/reinstallos", nil,
				map[string]any{"os-reinstall": map[string]any{"keyname": "KeyPair-350b", "userid": "7e25b1da389f4697a79df3a0e5bd494e", "mode": "withStopServer"}})
			if r.Status != tc.httpStatus || r.ECSCode() != tc.code {
				t.Fatalf("reinstallos: %d %s, want %d %s", r.Status, r.Raw, tc.httpStatus, tc.code)
			}
			// Metadata (reimage's markers) is refused too.
			r = h.ECS("POST", "/cloudservers/"+ecsRunning+"/metadata", nil, map[string]any{"metadata": map[string]string{"reimage-intent": "x"}})
			if r.Status != tc.httpStatus || r.ECSCode() != tc.code {
				t.Fatalf("metadata: %d %s, want %d %s", r.Status, r.Raw, tc.httpStatus, tc.code)
			}
			// A batch stop fails that server's sub-job with the code and succeeds for the others.
			r = h.ECS("POST", "/cloudservers/action", nil, batch("os-stop", "SOFT", ecsRunning, ecsStopped))
			j := jobOf(h, r.Str("job_id"))
			subs := j.Body["entities"].(map[string]any)["sub_jobs"].([]any)
			if first, second := subs[0].(map[string]any), subs[1].(map[string]any); first["status"] != "FAIL" || first["error_code"] != tc.code || second["status"] != "SUCCESS" {
				t.Fatalf("os-stop sub-jobs: %v", subs)
			}
			if v := h.View(huaweicloud.Type, ecsRunning); v.State != tc.status || v.Changes != 0 {
				t.Fatalf("after the refusals: %+v", v)
			}
			// Lifted at run time: the server is operable again, as it was.
			h.Sim.SetOptions(func(o *sim.Options) { o.LockedIDs, o.UnknownIDs = nil, nil })
			r = h.ECS("POST", "/cloudservers/"+ecsRunning+"/changeos", nil, changeOS(imgECSNew, "withStopServer"))
			if r.Status != http.StatusOK {
				t.Fatalf("changeos once lifted: %d %s", r.Status, r.Raw)
			}
		})
	}
}

// Locking at run time reaches an instance already in the fleet, and one added later.
func TestLockedIDsReachInstancesAddedLater(t *testing.T) {
	h := newHarness(t)
	const later = "44444444-4444-4444-8444-444444444444"
	h.Sim.SetOptions(func(o *sim.Options) { o.LockedIDs = []string{ecsStopped, later} })
	if err := h.Sim.AddInstance(sim.Instance{Provider: huaweicloud.Type, ID: later, Image: imgOld}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{ecsStopped, later} {
		r := h.ECS("POST", "/cloudservers/"+id+"/changeos", nil, changeOS(imgECSNew, "withStopServer"))
		if r.ECSCode() != "Ecs.0605" {
			t.Errorf("%s: %d %s, want Ecs.0605", id, r.Status, r.Raw)
		}
	}
}

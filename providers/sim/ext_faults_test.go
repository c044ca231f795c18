package sim_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/ksyun"
	"github.com/reimage-dev/reimage/providers/sim"
)

// faultCase is one write on one cloud, with the instance it acts on and the
// state that shows the cloud acted.
type faultCase struct {
	name     string
	provider string
	id       string
	op       string // OpStop…
	apiOp    string
	req      func(h *harness) *http.Request
	settled  string // state once the effect has run its course
}

func faultCases() []faultCase {
	return []faultCase{
		{"kec stop", ksyun.Type, kecRunning, sim.OpStop, "StopInstances", func(h *harness) *http.Request {
			return h.KECRequest(http.MethodPost, vals("Action", "StopInstances", "InstanceId.1", kecRunning))
		}, "stopped"},
		{"kec start", ksyun.Type, kecStopped, sim.OpStart, "StartInstances", func(h *harness) *http.Request {
			return h.KECRequest(http.MethodPost, vals("Action", "StartInstances", "InstanceId.1", kecStopped))
		}, "active"},
		{"kec change", ksyun.Type, kecStopped, sim.OpChange, "ModifyInstanceImage", func(h *harness) *http.Request {
			return h.KECRequest(http.MethodPost, vals("Action", "ModifyInstanceImage", "InstanceId", kecStopped, "ImageId", imgNew, "KeepImageLogin", "true"))
		}, "active"},
		{"kec reinstall", ksyun.Type, kecStopped, sim.OpReinstall, "ModifyInstanceImage", func(h *harness) *http.Request {
			return h.KECRequest(http.MethodPost, vals("Action", "ModifyInstanceImage", "InstanceId", kecStopped, "KeepImageLogin", "true"))
		}, "active"},
		{"ecs stop", huaweicloud.Type, ecsRunning, sim.OpStop, "BatchStopServers", func(h *harness) *http.Request {
			return h.ECSRequest(http.MethodPost, "/cloudservers/action", nil, map[string]any{"os-stop": map[string]any{"servers": []map[string]string{{"id": ecsRunning}}}})
		}, "SHUTOFF"},
		{"ecs start", huaweicloud.Type, ecsStopped, sim.OpStart, "BatchStartServers", func(h *harness) *http.Request {
			return h.ECSRequest(http.MethodPost, "/cloudservers/action", nil, map[string]any{"os-start": map[string]any{"servers": []map[string]string{{"id": ecsStopped}}}})
		}, "ACTIVE"},
		{"ecs change", huaweicloud.Type, ecsStopped, sim.OpChange, "ChangeServerOsWithoutCloudInit", func(h *harness) *http.Request {
			return h.ECSRequest(http.MethodPost, "/cloudservers/"+ecsStopped+"/changeos", nil, map[string]any{"os-change": map[string]any{"adminpass": "Passw0rd!x", "imageid": imgECSNew}})
		}, "ACTIVE"},
		{"ecs reinstall", huaweicloud.Type, ecsStopped, sim.OpReinstall, "ReinstallServerWithoutCloudInit", func(h *harness) *http.Request {
			return h.ECSRequest(http.MethodPost, "/cloudservers/"+ecsStopped+"/reinstallos", nil, map[string]any{"os-reinstall": map[string]any{"adminpass": "Passw0rd!x"}})
		}, "ACTIVE"},
	}
}

// TestLostAnswerAfterTheCloudActed: for every write on both clouds, a chosen
// id gets no answer at all (the connection closes), yet the cloud acted, and
// the fault is counted in the stats.
func TestLostAnswerAfterTheCloudActed(t *testing.T) {
	for _, tc := range faultCases() {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(o *sim.Options) { o.LostAnswerIDs = []string{tc.id} })
			before := h.View(tc.provider, tc.id)
			res, err := http.DefaultClient.Do(tc.req(h))
			if err == nil {
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				t.Fatalf("got an answer %d %s, want the connection closed", res.StatusCode, b)
			}
			h.Clock.Advance(5 * time.Minute)
			if after := h.View(tc.provider, tc.id); after.State != tc.settled {
				t.Errorf("state %s -> %s, want %s: the cloud must act before the answer is lost", before.State, after.State, tc.settled)
			}
			if tc.op == sim.OpChange || tc.op == sim.OpReinstall {
				if v := h.View(tc.provider, tc.id); v.Changes != 1 {
					t.Errorf("changes %d after the lost answer, want 1", v.Changes)
				}
			}
			st := h.Sim.Stats()
			if got := st.Faults[sim.FaultLostAnswer+"/"+tc.provider+"/"+tc.apiOp]; got != 1 {
				t.Errorf("faults %v, want one %s", st.Faults, sim.FaultLostAnswer)
			}
			if got := st.Requests[tc.provider+"/"+tc.apiOp+"/0"]; got != 1 {
				t.Errorf("requests %v, want one counted with status 0 (no answer)", st.Requests)
			}
		})
	}
}

// TestGateway502AfterTheCloudActed: a chosen id is answered 502 with a
// gateway's HTML page, after the cloud acted.
func TestGateway502AfterTheCloudActed(t *testing.T) {
	for _, tc := range faultCases() {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(o *sim.Options) { o.Gateway502IDs = []string{tc.id} })
			r := h.Do(tc.req(h))
			if r.Status != http.StatusBadGateway || !strings.Contains(string(r.Raw), "502 Bad Gateway") {
				t.Fatalf("answer %d %s, want a gateway's 502", r.Status, r.Raw)
			}
			h.Clock.Advance(5 * time.Minute)
			if v := h.View(tc.provider, tc.id); v.State != tc.settled {
				t.Errorf("state %s, want %s: the cloud must act before the 502", v.State, tc.settled)
			}
			if got := h.Sim.Stats().Faults[sim.FaultGateway502+"/"+tc.provider+"/"+tc.apiOp]; got != 1 {
				t.Errorf("faults %v", h.Sim.Stats().Faults)
			}
		})
	}
}

// TestFaultOpsLimitsTheFaults: with FaultOps naming only changes, a stop of a
// chosen id is answered normally and its change loses its answer.
func TestFaultOpsLimitsTheFaults(t *testing.T) {
	h := newHarness(t, func(o *sim.Options) {
		o.LostAnswerIDs = []string{kecRunning}
		o.FaultOps = []string{sim.OpChange}
	})
	r := h.KEC(http.MethodPost, vals("Action", "StopInstances", "InstanceId.1", kecRunning))
	if r.Status != http.StatusOK {
		t.Fatalf("stop: %d %s", r.Status, r.Raw)
	}
	h.Clock.Advance(time.Minute)
	if _, err := http.DefaultClient.Do(h.KECRequest(http.MethodPost, vals("Action", "ModifyInstanceImage", "InstanceId", kecRunning, "ImageId", imgNew, "KeepImageLogin", "true"))); err == nil {
		t.Fatal("the change was answered; want its answer lost")
	}
}

// TestAfterEffectFaultRatesAreReproducible: the same seed gives the same
// sequence of lost answers, 502s and normal answers; reads are never hit.
func TestAfterEffectFaultRatesAreReproducible(t *testing.T) {
	run := func() string {
		h := newHarness(t, func(o *sim.Options) {
			o.Seed = 42
			o.LostAnswerRate, o.Gateway502Rate = 0.3, 0.3
			o.StopDuration, o.StartDuration = 0, 0
		})
		var seq strings.Builder
		for i := range 30 {
			action := "StopInstances"
			if i%2 == 1 {
				action = "StartInstances"
			}
			if r := h.KEC(http.MethodGet, vals("Action", "DescribeInstances", "InstanceId.1", kecOther)); r.Status != http.StatusOK {
				t.Fatalf("a read was hit by a write fault: %d", r.Status)
			}
			res, err := http.DefaultClient.Do(h.KECRequest(http.MethodPost, vals("Action", action, "InstanceId.1", kecOther)))
			switch {
			case err != nil:
				seq.WriteByte('L')
			case res.StatusCode == http.StatusBadGateway:
				seq.WriteByte('G')
			default:
				seq.WriteByte('.')
			}
			if res != nil {
				res.Body.Close()
			}
		}
		return seq.String()
	}
	a, b := run(), run()
	if a != b {
		t.Fatalf("same seed, different faults:\n%s\n%s", a, b)
	}
	if !strings.Contains(a, "L") || !strings.Contains(a, "G") || !strings.Contains(a, ".") {
		t.Fatalf("want every outcome at rates 0.3/0.3 over 30 writes, got %s", a)
	}
}

// TestQueuedChangeShowsLate: a queued change is accepted, then the instance
// shows nothing of it for QueueDelay; a second change submitted meanwhile is
// accepted too and both count as installs (the double rebuild a client must
// never cause).
func TestQueuedChangeShowsLate(t *testing.T) {
	for _, tc := range []struct {
		name, provider, id, idle, busy string
		change                         func(h *harness) response
	}{
		{"kec", ksyun.Type, kecStopped, "stopped", "rebuilding", func(h *harness) response {
			return h.KEC(http.MethodPost, vals("Action", "ModifyInstanceImage", "InstanceId", kecStopped, "ImageId", imgNew, "KeepImageLogin", "true"))
		}},
		{"ecs", huaweicloud.Type, ecsStopped, "SHUTOFF", "REBUILD", func(h *harness) response {
			return h.ECS(http.MethodPost, "/cloudservers/"+ecsStopped+"/changeos", nil, map[string]any{"os-change": map[string]any{"adminpass": "Passw0rd!x", "imageid": imgECSNew}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(o *sim.Options) { o.QueueDelay, o.QueueIDs = 30*time.Second, []string{tc.id} })
			if r := tc.change(h); r.Status != http.StatusOK {
				t.Fatalf("change: %d %s", r.Status, r.Raw)
			}
			h.Clock.Advance(29 * time.Second)
			if v := h.View(tc.provider, tc.id); v.State != tc.idle || v.Image != imgOld {
				t.Fatalf("during the queue: %+v, want %s on the old image", v, tc.idle)
			}
			h.Clock.Advance(time.Second)
			if v := h.View(tc.provider, tc.id); v.State != tc.busy {
				t.Fatalf("after the queue: %+v, want %s", v, tc.busy)
			}
			h.Clock.Advance(10 * time.Minute)
			if v := h.View(tc.provider, tc.id); v.Changes != 1 {
				t.Fatalf("one queued change: %+v", v)
			}
			// Now submit twice within the queue.
			if tc.provider == ksyun.Type {
				if r := h.KEC(http.MethodPost, vals("Action", "StopInstances", "InstanceId.1", kecStopped)); r.Status != http.StatusOK {
					t.Fatal(r.Status)
				}
			} else {
				h.ECS(http.MethodPost, "/cloudservers/action", nil, map[string]any{"os-stop": map[string]any{"servers": []map[string]string{{"id": ecsStopped}}}})
			}
			h.Clock.Advance(time.Minute)
			tc.change(h)
			h.Clock.Advance(time.Second)
			if r := tc.change(h); r.Status != http.StatusOK {
				t.Fatalf("second change during the queue: %d %s", r.Status, r.Raw)
			}
			h.Clock.Advance(10 * time.Minute)
			if v := h.View(tc.provider, tc.id); v.Changes != 3 {
				t.Fatalf("changes %d, want 3: a change submitted again during its queue is carried out twice", v.Changes)
			}
			st := h.Sim.Stats().Faults
			if st[sim.FaultQueued+"/"+tc.provider+"/"+map[string]string{ksyun.Type: "ModifyInstanceImage", huaweicloud.Type: "ChangeServerOsWithoutCloudInit"}[tc.provider]] != 3 || st[sim.FaultSuperseded+"/"+tc.provider+"/"+sim.OpChange] != 1 {
				t.Fatalf("faults %v", st)
			}
		})
	}
}

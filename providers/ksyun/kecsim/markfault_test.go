package kecsim

import (
	"net/http"
	"testing"

	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/ksyun"
	"github.com/reimage-dev/reimage/providers/sim"
)

// TestMarkerWriteFaultsWhenNamed: a marker write (KEC: a tag attached through
// the tag service; ECS: server metadata) of a chosen id loses its answer, or
// is answered 502, after the cloud wrote it, when FaultOps names sim.OpMark;
// without it (the default four) it is answered normally.
func TestMarkerWriteFaultsWhenNamed(t *testing.T) {
	writes := []struct {
		name, provider, id, apiOp string
		do                        func(h *harness) response
	}{
		{"kec tag", ksyun.Type, kecRunning, "CreateTagAndAttachResource", func(h *harness) response {
			return familyCall(h, "tagv2", "2020-09-01", vals("Action", "CreateTagAndAttachResource", "ResourceType", "instance",
				"ResourceUuid", kecRunning, "TagKey", "reimage-intent", "TagValue", "t.t1"))
		}},
		{"ecs metadata", huaweicloud.Type, ecsStopped, "UpdateServerMetadata", func(h *harness) response {
			return h.ECS(http.MethodPost, "/cloudservers/"+ecsStopped+"/metadata", nil, map[string]any{"metadata": map[string]string{"reimage-intent": "t.t1"}})
		}},
	}
	for _, w := range writes {
		for _, tc := range []struct {
			name   string
			ops    []string
			status int
		}{
			{"default ops", nil, http.StatusOK},
			{"mark named", []string{sim.OpMark}, http.StatusBadGateway},
		} {
			t.Run(w.name+"/"+tc.name, func(t *testing.T) {
				h := newHarness(t, func(o *sim.Options) { o.Gateway502IDs = []string{w.id}; o.FaultOps = tc.ops })
				if r := w.do(h); r.Status != tc.status {
					t.Fatalf("answer %d %s, want %d", r.Status, r.Raw, tc.status)
				}
				if got := h.View(w.provider, w.id).Marks["reimage-intent"]; got != "t.t1" {
					t.Errorf("marker %q, want written before the answer", got)
				}
				want := int64(0)
				if tc.ops != nil {
					want = 1
				}
				if got := h.Sim.Stats().Faults[sim.FaultGateway502+"/"+w.provider+"/"+w.apiOp]; got != want {
					t.Errorf("faults %v, want %d for %s", h.Sim.Stats().Faults, want, w.apiOp)
				}
			})
		}
	}
}

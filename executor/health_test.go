package executor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// TestUnhealthyInstanceStaysBrokenUntilHealthy: an instance that failed its
// health check runs its target, so the next look-up calls it ok; the journal
// keeps it broken, so that a rerun does not converge over it, until a check
// passes (then it is healed) or a person acknowledges it.
func TestUnhealthyInstanceStaysBrokenUntilHealthy(t *testing.T) {
	var sick atomic.Bool
	sick.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sick.Load() && r.URL.Query().Get("id") == "i-001" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	cloud := newFakeCloud(3, false)
	withPrivateIPs(cloud)
	p := testPlan(cloud, []plan.Wave{{Size: plan.Size{Count: 3}}}, plan.Size{Count: 1}, 1)
	p.Rollout.Health = &plan.Health{Timeout: 100 * time.Millisecond, Interval: 50 * time.Millisecond,
		HTTP: &plan.HTTPCheck{URL: mustTemplates(t, srv.URL+"/?id={{.ID}}")[0], Status: 200}}
	j, err := OpenJournal(filepath.Join(t.TempDir(), "journal"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()

	sum, _ := runPlan(t, cloud, p, j)
	if sum.Done != 2 || sum.Failed != 1 {
		t.Fatalf("first run: %+v, want 2 done and i-001 failed", sum)
	}
	// The rerun: every instance runs its target, i-001 is still unhealthy.
	sum, events := runPlan(t, cloud, p, j)
	if sum.Broken != 1 || sum.Converged() {
		t.Errorf("rerun, i-001 unhealthy: %+v, want it broken and the run not converged", sum)
	}
	if rc := recapOf(events); len(rc) != 1 || rc[0].ID != "i-001" || !strings.HasPrefix(rc[0].Reason, "broken by an earlier run: unhealthy after its change: ") ||
		!strings.Contains(rc[0].Next, "heals it once a health check passes") {
		t.Errorf("rerun's recap %+v, want i-001 broken by an earlier run, healed by a passing check", rc)
	}
	// Healthy again: the next run heals it and converges.
	sick.Store(false)
	sum, _ = runPlan(t, cloud, p, j)
	if sum.Broken != 0 || !sum.Converged() {
		t.Errorf("rerun, i-001 healthy: %+v, want converged", sum)
	}
	if ent := j.Entry("fake", "i-001"); ent.Broken != nil {
		t.Errorf("i-001 still broken in the journal: %+v", ent.Broken)
	}
}

// TestAfterHookFailureStaysBrokenUntilAck: an instance whose after hook
// failed (say, it was not put back into service) runs its target, so the next
// look-up calls it ok; it stays broken, listed in every recap, until a person
// finishes the hook's work and acknowledges it.
func TestAfterHookFailureStaysBrokenUntilAck(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "undrain.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nif [ \"$REIMAGE_INSTANCE_ID\" = i-001 ]; then echo 'pool refused it' >&2; exit 1; fi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cloud := newFakeCloud(3, false)
	p := testPlan(cloud, []plan.Wave{{Size: plan.Size{Count: 3}}}, plan.Size{Count: 1}, 1)
	p.Rollout.Hooks.After = &plan.Hook{Command: mustTemplates(t, script), Timeout: 5 * time.Second}
	j, err := OpenJournal(filepath.Join(dir, "journal"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if sum, _ := runPlan(t, cloud, p, j); sum.Done != 2 || sum.Failed != 1 {
		t.Fatalf("first run: %+v, want 2 done and i-001 failed", sum)
	}
	for run := 2; run <= 3; run++ {
		sum, events := runPlan(t, cloud, p, j)
		if sum.Broken != 1 || sum.Converged() {
			t.Errorf("run %d: %+v, want i-001 broken and the run not converged", run, sum)
		}
		if rc := recapOf(events); len(rc) != 1 || rc[0].ID != "i-001" || !strings.Contains(rc[0].Reason, "its after hook failed") || !strings.Contains(rc[0].Next, "reimage ack") {
			t.Errorf("run %d's recap %+v, want i-001, acknowledge it once its work is done", run, rc)
		}
	}
	if _, err := Ack(context.Background(), j, map[string]providers.Provider{"fake": cloud}, []*plan.Instance{p.Instances[1]}, "ops@test"); err != nil {
		t.Fatal(err)
	}
	if sum, _ := runPlan(t, cloud, p, j); !sum.Converged() {
		t.Errorf("after ack: %+v, want converged", sum)
	}
}

package executor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// A run killed mid-wave stopped i-001; before the rerun the plan (the same
// file) was renamed and i-001 removed from it. The old-named journal's intent
// records the plan file's absolute path: the same path is the same plan,
// whatever its name says, so the rerun takes i-001 over as the plan's own
// instance that has left it, starts it again and closes its intent there,
// as for an instance removed from a plan that kept its name.
func TestRenamedPlanStartsStoppedInstanceThatLeftIt(t *testing.T) {
	cloud := newMarkerCloud(2, true)
	dir := t.TempDir()
	planFile := filepath.Join(dir, "fleet.yaml")
	p := testPlan(cloud.fakeCloud, []plan.Wave{{Size: plan.Size{Count: 2}}}, plan.Size{}, 2)
	p.Name, p.File = "old", planFile

	// The killed run, under the old name: its journal stamps the plan's path.
	_, oldPath := StateFiles(dir, "old", plan.Shard{})
	old, err := OpenJournal(oldPath, nil)
	must(t, err)
	e := New(Options{Plan: p, Providers: map[string]providers.Provider{"fake": cloud}, Journal: old})
	must(t, e.journal(Record{Event: EventIntent, Provider: "fake", ID: "i-001", Action: "change", Image: "new", WasRunning: true, Reason: ReasonStopped}))
	old.Close()
	cloud.inst["i-001"].State = providers.StateStopped

	p.Name, p.Instances = "renamed", p.Instances[:1]
	_, jp := StateFiles(dir, p.Name, plan.Shard{})
	j, err := OpenJournal(jp, nil)
	must(t, err)
	defer j.Close()
	res, err := AdoptOthers(j, AdoptScope{Plan: p.Name, PlanPath: PlanPath(p), Run: p.Instances, Full: p.Instances}, Holder{PID: 1})
	if err != nil || res.Adopted != 1 || len(res.Unclaimed) != 0 {
		t.Fatalf("AdoptOthers = %+v, %v; want i-001 taken, nothing left unclaimed", res, err)
	}
	flow(t, cloud, p, j)
	if st, _ := cloud.Status(context.Background(), "i-001"); st.State != providers.StateRunning || st.Image != "old" {
		t.Fatalf("i-001 %+v, want running again on its old image", st)
	}
	if len(j.Pending()) != 0 {
		t.Fatalf("intent dangles here: %+v", j.Pending())
	}
	back, err := ReadJournal(oldPath)
	must(t, err)
	if e := back.Entry("fake", "i-001"); e.Pending != nil {
		t.Fatalf("still open in the old journal: %+v", e)
	}
}

// When the other journal cannot be proven this plan's (its record names
// another plan file that no longer exists, or none: written before journals
// recorded it), an instance its killed run stopped is left alone, but not
// silently: AdoptOthers names the instance and the journal. Another plan
// whose file still exists handles its own instances: nothing is said.
func TestUnprovenJournalsStoppedInstanceIsNamed(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "db.yaml")
	must(t, writeFile(live, "version: 1\n"))
	tests := []struct {
		name     string
		planPath string // recorded in the other journal
		named    bool
	}{
		{"no plan path recorded", "", true},
		{"a plan file that is gone", filepath.Join(dir, "gone.yaml"), true},
		{"another plan's file, still there", live, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd := t.TempDir()
			otherPath := filepath.Join(sd, "other.journal")
			o, err := OpenJournal(otherPath, nil)
			must(t, err)
			must(t, o.Append(Record{Event: EventIntent, Provider: "fake", ID: "i-777", Action: "change", WasRunning: true, Reason: ReasonStopped, Plan: tt.planPath}))
			o.Close()
			_, jp := StateFiles(sd, "web", plan.Shard{})
			j, err := OpenJournal(jp, nil)
			must(t, err)
			defer j.Close()
			in := &plan.Instance{Provider: "fake", ID: "i-000"}
			res, err := AdoptOthers(j, AdoptScope{Plan: "web", PlanPath: filepath.Join(dir, "web.yaml"), Run: []*plan.Instance{in}, Full: []*plan.Instance{in}}, Holder{PID: 1})
			must(t, err)
			if res.Adopted != 0 {
				t.Fatalf("adopted %d from a journal not proven this plan's", res.Adopted)
			}
			if got := len(res.Unclaimed) == 1; got != tt.named {
				t.Fatalf("unclaimed %+v, want named: %v", res.Unclaimed, tt.named)
			}
			if tt.named {
				u := res.Unclaimed[0]
				if u.ID != "i-777" || u.Journal != otherPath || !strings.Contains(u.String(), "i-777") || !strings.Contains(u.String(), otherPath) {
					t.Fatalf("unclaimed %+v (%s), want i-777 in %s", u, u, otherPath)
				}
			}
			if back, _ := ReadJournal(otherPath); back.Entry("fake", "i-777").Pending == nil {
				t.Fatal("the other journal's intent was closed")
			}
		})
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

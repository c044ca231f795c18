package executor

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// reimage ack of an instance that is neither in doubt nor broken is a mistake
// (the wrong instance, or one acknowledged already): an error naming it, and
// nothing is written, not even for the other instances named with it, which
// stay blocked until a person acknowledges exactly what they checked.
func TestAckOfAnInstanceNotInDoubtWritesNothing(t *testing.T) {
	cloud := newMarkerCloud(2, false)
	cloud.fail["i-000"] = true
	p := testPlan(cloud.fakeCloud, []plan.Wave{{Size: plan.Size{Count: 1}}}, plan.Size{}, 1)
	j := openJournal(t, t.TempDir())
	flow(t, cloud, p, j) // the canary breaks i-000
	if j.Entry("fake", "i-000").Broken == nil {
		t.Fatal("setup: i-000 not broken")
	}
	before, err := os.ReadFile(j.path)
	must(t, err)
	provs := map[string]providers.Provider{"fake": cloud}
	got, err := Ack(context.Background(), j, provs, p.Instances, "ops@host")
	var nothing *NothingToAckError
	if !errors.As(err, &nothing) || len(nothing.Instances) != 1 || nothing.Instances[0].ID != "i-001" {
		t.Fatalf("Ack = %+v, %v; want a NothingToAckError naming i-001", got, err)
	}
	if err.Error() != `nothing to acknowledge on i-001: it is neither in doubt nor broken; nothing was acknowledged` {
		t.Errorf("error %q", err)
	}
	after, err := os.ReadFile(j.path)
	must(t, err)
	if string(after) != string(before) {
		t.Fatalf("the journal changed:\n%s", after[len(before):])
	}
	if j.Entry("fake", "i-000").Broken == nil {
		t.Fatal("i-000 was acknowledged along with the mistake")
	}
	if _, err := Ack(context.Background(), j, provs, p.Instances[:1], "ops@host"); err != nil {
		t.Fatal(err)
	}
	if j.Entry("fake", "i-000").Broken != nil {
		t.Fatal("i-000 still broken after its own ack")
	}
}

package executor

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/reimage-dev/reimage/plan"
)

// BenchmarkAdoptOthersNothingToTake is what every apply pays in a state
// directory shared with other plans: 20 journals of other plans, 1,000 done
// tokens each, none of this run's 1,000 instances among them. They are read,
// never locked.
func BenchmarkAdoptOthersNothingToTake(b *testing.B) {
	dir := b.TempDir()
	for p := range 20 {
		j, err := OpenJournal(filepath.Join(dir, fmt.Sprintf("other-%d.journal", p)), nil)
		if err != nil {
			b.Fatal(err)
		}
		for i := range 1000 {
			if err := j.Append(Record{Event: EventDone, Provider: "kec", ID: fmt.Sprintf("o%d-%d", p, i), Token: "t"}); err != nil {
				b.Fatal(err)
			}
		}
		j.Close()
	}
	var run []*plan.Instance
	for i := range 1000 {
		run = append(run, &plan.Instance{Provider: "kec", ID: fmt.Sprintf("mine-%d", i)})
	}
	j, err := OpenJournal(filepath.Join(dir, "web.journal"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	scope := AdoptScope{Plan: "web", Run: run, Full: run}
	b.ResetTimer()
	for range b.N {
		if res, err := AdoptOthers(j, scope, Holder{PID: 1}); err != nil || res.Adopted != 0 {
			b.Fatalf("AdoptOthers = %+v, %v", res, err)
		}
	}
}

package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gatedFsync is an injected fsync: the first call blocks until release is
// closed; every call is counted and may fail from a given call on.
type gatedFsync struct {
	calls   atomic.Int32
	entered chan struct{} // closed when the first call has begun
	release chan struct{}
	failAt  int32 // 1-based call that fails (and those after); 0: none
	once    sync.Once
}

func newGatedFsync(failAt int32) *gatedFsync {
	return &gatedFsync{entered: make(chan struct{}), release: make(chan struct{}), failAt: failAt}
}

var errDiskGone = errors.New("input/output error")

func (g *gatedFsync) sync(f *os.File) error {
	n := g.calls.Add(1)
	if n == 1 {
		g.once.Do(func() { close(g.entered) })
		<-g.release
	}
	if g.failAt > 0 && n >= g.failAt {
		return errDiskGone
	}
	return f.Sync()
}

// waitWritten waits until n records have been written to the journal's file
// (not necessarily synced): the writers are then queued for an fsync.
func waitWritten(t *testing.T, j *Journal, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j.mu.Lock()
		w := j.written
		j.mu.Unlock()
		if w >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d records written", w, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// The records that arrive while an fsync runs share the next one, and none of
// their callers returns before that fsync has completed.
func TestJournalGroupCommitOneFsyncForRecordsArrivingTogether(t *testing.T) {
	j, err := OpenJournal(filepath.Join(t.TempDir(), "fleet.journal"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	g := newGatedFsync(0)
	j.fsync = g.sync

	const writers = 32
	var returned atomic.Int32
	errs := make(chan error, writers+1)
	go func() { errs <- j.Append(Record{Event: EventIntent, Provider: "kec", ID: "first"}); returned.Add(1) }()
	<-g.entered
	for i := range writers {
		go func() {
			errs <- j.Append(Record{Event: EventIntent, Provider: "kec", ID: fmt.Sprintf("i-%02d", i)})
			returned.Add(1)
		}()
	}
	waitWritten(t, j, writers+1)
	if n := returned.Load(); n != 0 {
		t.Fatalf("%d callers returned before their record was synced", n)
	}
	close(g.release)
	for range writers + 1 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// The first fsync covered the first record; the others wrote while it
	// ran and all ride on the second.
	if n := g.calls.Load(); n != 2 {
		t.Errorf("%d fsyncs for %d records arriving together, want 2", n, writers+1)
	}
	if got := j.Pending(); len(got) != writers+1 {
		t.Errorf("%d pending records after the group commit, want %d", len(got), writers+1)
	}
}

// A failed fsync fails every caller whose record it was to make durable, and
// every later Append: after a failed fsync nothing can be called durable.
func TestJournalGroupCommitFailedFsyncFailsTheWholeGroup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.journal")
	j, err := OpenJournal(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	g := newGatedFsync(2)
	j.fsync = g.sync

	first := make(chan error, 1)
	go func() { first <- j.Append(Record{Event: EventIntent, Provider: "kec", ID: "first"}) }()
	<-g.entered
	const writers = 16
	errs := make(chan error, writers)
	for i := range writers {
		go func() { errs <- j.Append(Record{Event: EventIntent, Provider: "ecs", ID: fmt.Sprintf("i-%02d", i)}) }()
	}
	waitWritten(t, j, writers+1)
	close(g.release)
	if err := <-first; err != nil {
		t.Fatalf("the record synced before the failure: %v", err)
	}
	for range writers {
		if err := <-errs; !errors.Is(err, errDiskGone) {
			t.Errorf("a caller of the failed group got %v, want the fsync error", err)
		}
	}
	if err := j.Append(Record{Event: EventDone, Provider: "kec", ID: "first"}); !errors.Is(err, errDiskGone) {
		t.Errorf("Append after a failed fsync = %v, want the fsync error", err)
	}
	// Only the durable record reached the journal's model.
	if got := j.Pending(); len(got) != 1 || got[0].ID != "first" {
		t.Errorf("Pending = %+v, want only the record synced before the failure", got)
	}
	if n := g.calls.Load(); n != 2 {
		t.Errorf("%d fsyncs, want 2 (none after the failure)", n)
	}
}

// BenchmarkJournalAppend64Writers measures fsynced appends per second from 64
// concurrent writers on the local disk, and with every fsync made 5 ms slower
// (a network volume's fsync).
func BenchmarkJournalAppend64Writers(b *testing.B) {
	for _, delay := range []time.Duration{0, 5 * time.Millisecond} {
		b.Run(fmt.Sprintf("fsync+%v", delay), func(b *testing.B) {
			j, err := OpenJournal(filepath.Join(b.TempDir(), "fleet.journal"), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			var fsyncs atomic.Int64
			j.fsync = func(f *os.File) error {
				fsyncs.Add(1)
				time.Sleep(delay)
				return f.Sync()
			}
			const writers = 64
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if err := j.Append(Record{Event: EventIntent, Provider: "kec", ID: fmt.Sprintf("w%d", w), Token: "t"}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.ReportMetric(float64(b.N)/el.Seconds(), "appends/s")
			b.ReportMetric(float64(b.N)/float64(fsyncs.Load()), "records/fsync")
		})
	}
}

package executor

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestJournalPendingAndTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.journal")
	j, err := OpenJournal(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	must := func(r Record) {
		t.Helper()
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	must(Record{Event: EventIntent, Provider: "kec", ID: "a", Image: "img", Token: "t1"})
	must(Record{Event: EventSubmitted, Provider: "kec", ID: "a", RequestID: "r1"})
	must(Record{Event: EventDone, Provider: "kec", ID: "a", Token: "t1"})
	must(Record{Event: EventIntent, Provider: "ecs", ID: "b", Image: "img", WasRunning: true})
	must(Record{Event: EventSubmitted, Provider: "ecs", ID: "b", JobID: "job-1"})
	must(Record{Event: EventIntent, Provider: "ecs", ID: "c", Image: "img"})
	must(Record{Event: EventFailed, Provider: "ecs", ID: "c", Reason: "boom"})
	j.Close()

	// A crash in the middle of a write leaves a torn line.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"event":"intent","provider":"kec","id":"d"`)
	f.Close()

	j, err = OpenJournal(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if got := j.DoneToken("kec", "a"); got != "t1" {
		t.Errorf("DoneToken(a) = %q, want t1", got)
	}
	p := j.Pending()
	if len(p) != 1 || p[0].ID != "b" || p[0].JobID != "job-1" || !p[0].WasRunning {
		t.Fatalf("Pending = %+v, want b with job-1 and was_running", p)
	}
	if e := j.Entry("kec", "d"); e.Pending != nil {
		t.Error("the torn record must be dropped")
	}
	// Compaction keeps only what matters: a token and a pending call.
	b, _ := os.ReadFile(path)
	if n := strings.Count(string(b), "\n"); n != 2 {
		t.Errorf("compacted journal has %d lines, want 2:\n%s", n, b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestJournalDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.journal")
	os.WriteFile(path, []byte("{\"event\":\"done\"}\nnot json\n{}\n"), 0o600)
	_, err := OpenJournal(path, nil)
	if err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Fatalf("err = %v, want the damaged line named", err)
	}
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.lock")
	started := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	l, err := AcquireLock(path, Holder{PID: 4242, Host: "cron-1", Started: started})
	if err != nil {
		t.Fatal(err)
	}
	_, err = AcquireLock(path, Holder{PID: 1})
	le, ok := err.(*LockedError)
	if !ok {
		t.Fatalf("second AcquireLock = %v, want *LockedError", err)
	}
	if !strings.Contains(le.Error(), "pid 4242 on cron-1 since 2026-11-22T03:00:00Z") {
		t.Errorf("error %q does not name the holder", le.Error())
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := AcquireLock(path, Holder{PID: 2})
	if err != nil {
		t.Fatalf("lock not released: %v", err)
	}
	l2.Release()
}

// TestLockOfDeadProcess: a lock whose holder was killed with SIGKILL is taken
// over. The holder is this test binary, re-executed.
func TestLockOfDeadProcess(t *testing.T) {
	if path := os.Getenv("REIMAGE_TEST_HOLD_LOCK"); path != "" {
		if _, err := AcquireLock(path, Holder{PID: os.Getpid(), Host: "child"}); err != nil {
			os.Exit(2)
		}
		os.Stdout.WriteString("locked\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	path := filepath.Join(t.TempDir(), "fleet.lock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockOfDeadProcess$")
	cmd.Env = append(os.Environ(), "REIMAGE_TEST_HOLD_LOCK="+path)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("child did not take the lock: %q %v", buf, err)
	}
	if _, err := AcquireLock(path, Holder{PID: 1}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("pid %d on child", cmd.Process.Pid)) {
		t.Fatalf("AcquireLock while the child holds it = %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := AcquireLock(path, Holder{PID: 3})
	if err != nil {
		t.Fatalf("lock of a killed process not taken over: %v", err)
	}
	l.Release()
}

// Compaction keeps what later runs must read: a reinstall in doubt and a
// broken instance survive a reopening until acknowledged; a stop kept open by
// a failure (was_running) stays pending until restored.
func TestJournalKeepsInDoubtBrokenAndStoppedAcrossCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.journal")
	j, err := OpenJournal(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Record{
		{Event: EventIntent, Provider: "kec", ID: "a", Action: "reinstall", Token: "t1"},
		{Event: EventInDoubt, Provider: "kec", ID: "a", Action: "reinstall", Token: "t1", Reason: "answer lost"},
		{Event: EventIntent, Provider: "kec", ID: "b", Action: "change", WasRunning: true},
		{Event: EventFailed, Provider: "kec", ID: "b", Action: "change", WasRunning: true, Reason: "refused"},
		{Event: EventBroken, Provider: "kec", ID: "c", Reason: "in an error state"},
	} {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	j, err = OpenJournal(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if e := j.Entry("kec", "a"); e.InDoubt == nil || e.InDoubt.Token != "t1" || e.Pending != nil {
		t.Errorf("a: %+v, want in doubt for t1", e)
	}
	if e := j.Entry("kec", "b"); e.Pending == nil || !e.Pending.WasRunning || e.Pending.Reason != ReasonStopped {
		t.Errorf("b: %+v, want a stop kept open with was_running", e)
	}
	if e := j.Entry("kec", "c"); e.Broken == nil {
		t.Errorf("c: %+v, want broken", e)
	}
	for _, r := range []Record{
		{Event: EventAck, Provider: "kec", ID: "a", Token: "t1", By: "ops@host"},
		{Event: EventRestored, Provider: "kec", ID: "b"},
		{Event: EventAck, Provider: "kec", ID: "c", By: "ops@host"},
	} {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if e := j.Entry("kec", "a"); e.InDoubt != nil || e.DoneToken != "t1" {
		t.Errorf("a after ack: %+v, want the token done", e)
	}
	if e := j.Entry("kec", "b"); e.Pending != nil {
		t.Errorf("b after restored: %+v", e)
	}
	if e := j.Entry("kec", "c"); e.Broken != nil {
		t.Errorf("c after ack: %+v", e)
	}
}

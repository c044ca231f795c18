package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/plan"
)

// syncBuffer is a bytes.Buffer safe for the display's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func instEvent(typ executor.EventType, i int) executor.Event {
	in := &plan.Instance{ID: fmt.Sprintf("i-%d", i), Name: fmt.Sprintf("web-%d", i), Provider: "kec"}
	return executor.Event{Type: typ, Change: &plan.Change{Instance: in}, Wave: 1, Waves: 2}
}

func TestRunProgressSnapshot(t *testing.T) {
	t0 := time.Unix(1000, 0)
	now := t0
	p := newRunProgress(func() time.Time { return now })
	at := func(typ executor.EventType, i int, d time.Duration) executor.Event {
		e := instEvent(typ, i)
		e.Time = t0.Add(d)
		return e
	}
	p.Observe(executor.Event{Type: executor.EventRunStart, Time: t0, Waves: 2, Summary: &executor.Summary{Total: 10, Skipped: 3}})
	p.Observe(executor.Event{Type: executor.EventWaveStart, Wave: 1, Waves: 2})
	for i := range 4 {
		p.Observe(at(executor.EventInstanceStart, i, 0))
		step := at(executor.EventInstanceStep, i, time.Second)
		step.Step = executor.StepWaitDone
		p.Observe(step)
	}
	// Two finish after a minute each; two more start in their slots.
	for i := range 2 {
		done := at(executor.EventInstanceDone, i, time.Minute)
		done.Elapsed = time.Minute
		p.Observe(done)
		p.Observe(at(executor.EventInstanceStart, 4+i, time.Minute))
	}
	stop := at(executor.EventInstanceStep, 5, time.Minute)
	stop.Step = executor.StepStop
	p.Observe(stop)
	now = t0.Add(90 * time.Second)
	s := p.snapshot()
	// Four side by side, a minute each: the two in flight since the start are
	// about done, the two since a minute half; the four pending take one round.
	if s.ETA != time.Minute {
		t.Errorf("ETA %v, want 1m0s (mean 1m, concurrency 4, 4 pending, in-flight ages averaging the mean)", s.ETA)
	}
	if got := s.counts() + "; " + s.times(); got != "2 done, 0 failed, 4 in flight, 4 not started; elapsed 1m30s, ETA 1m0s" {
		t.Errorf("rendered %q", got)
	}
	if got := s.flight(); got != "2 wait_done, 1 starting, 1 stop; oldest web-2 (wait_done) 1m30s" {
		t.Errorf("in flight rendered %q", got)
	}
}

// csi matches the terminal control sequences the display draws with.
var csi = regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]")

// TestLiveDisplayNeverSplitsLines: lines written by many goroutines while the
// display redraws come out whole, each on a line of its own, and the status
// line is drawn below them. In a synctest bubble, the redraws come on the
// bubble's clock: the status line is drawn by the time it is looked for,
// whatever the machine's load.
func TestLiveDisplayNeverSplitsLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var term syncBuffer
		prog := newRunProgress(nil)
		out := &routedWriter{raw: &term}
		logs := &routedWriter{raw: &term}
		d := startLive(&term, prog, []*routedWriter{out, logs}, mpb.WithAutoRefresh(), mpb.WithRefreshRate(time.Millisecond))
		obs := executor.Observers{prog, d}
		obs.Observe(executor.Event{Type: executor.EventRunStart, Time: time.Now(), Waves: 2, Summary: &executor.Summary{Total: 40}})
		obs.Observe(executor.Event{Type: executor.EventWaveStart, Wave: 1, Waves: 2})
		logger := slog.New(slog.NewTextHandler(logs, nil))
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					n := g*10 + i
					obs.Observe(instEvent(executor.EventInstanceStart, n))
					fmt.Fprintf(out, "  done    web-%d in 1.0s\n", n)
					logger.Info("instance done", "provider", "kec", "id", fmt.Sprintf("i-%d", n))
					time.Sleep(time.Millisecond)
					if n < 39 { // the last stays in flight: the bar must not complete
						obs.Observe(instEvent(executor.EventInstanceDone, n))
					}
				}
			}()
		}
		wg.Wait()
		time.Sleep(20 * time.Millisecond)
		mid := csi.ReplaceAllString(term.String(), "")
		if !strings.Contains(mid, "wave 1/2") || !strings.Contains(mid, "in flight") {
			t.Errorf("no status line drawn:\n%s", mid)
		}
		d.stop()
		fmt.Fprintf(out, "after the display\n")

		plain := csi.ReplaceAllString(term.String(), "")
		lines := strings.Split(plain, "\n")
		var seen = map[string]int{}
		for _, l := range lines {
			switch {
			case strings.HasPrefix(l, "  done    "), strings.HasPrefix(l, "time="), l == "after the display":
				seen[l]++
			case strings.Contains(l, "wave 1/2"), l == "":
				// the status line, redrawn
			default:
				t.Errorf("garbled line %q", l)
			}
		}
		for n := range 40 {
			if seen[fmt.Sprintf("  done    web-%d in 1.0s", n)] != 1 {
				t.Errorf("line of web-%d missing or repeated", n)
			}
		}
		if !strings.HasSuffix(plain, "after the display\n") {
			t.Errorf("a line written after the display is not last:\n%s", plain[max(0, len(plain)-300):])
		}
	})
}

// TestLogProgressPlain: without a terminal the progress is a log line, with no
// control characters. It runs in a synctest bubble: the ticks come on the
// bubble's clock, so that the lines logged never depend on the machine's load.
func TestLogProgressPlain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		logger := slog.New(slog.NewTextHandler(&buf, nil))
		prog := newRunProgress(nil)
		stop := logProgress(logger, prog, 5*time.Millisecond)
		time.Sleep(20 * time.Millisecond) // before the run starts: nothing to say
		if buf.String() != "" {
			t.Errorf("progress logged before the run started:\n%s", buf.String())
		}
		prog.Observe(executor.Event{Type: executor.EventRunStart, Time: time.Now(), Waves: 3, Summary: &executor.Summary{Total: 5}})
		prog.Observe(executor.Event{Type: executor.EventWaveStart, Wave: 1, Waves: 3})
		prog.Observe(instEvent(executor.EventInstanceStart, 1))
		time.Sleep(30 * time.Millisecond)
		stop()
		got := buf.String()
		if !strings.Contains(got, "msg=progress wave=1 waves=3 total=5 done=0 failed=0 in_flight=1 not_started=4") {
			t.Errorf("no progress line:\n%s", got)
		}
		if strings.ContainsAny(got, "\x1b\r") {
			t.Errorf("control characters in the log:\n%q", got)
		}
	})
}

package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/reimage-dev/reimage/executor"
)

// Progress display modes (-progress).
const (
	progressAuto   = "auto"   // live on a terminal, log lines otherwise
	progressAlways = "always" // live even when stdout does not look like a terminal
	progressNever  = "never"  // log lines only
)

// defaultProgressInterval is how often a run without a live display logs its
// progress: often enough to see a cron run move, rarely enough to read its log.
const defaultProgressInterval = 30 * time.Second

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// liveCapable reports whether w is a terminal a status line can be drawn on:
// one whose size is known (a pseudo-terminal without a size, e.g. under some
// job runners, would get lines it cannot wrap or clear).
func liveCapable(w any) bool {
	if !isTerminal(w) {
		return false
	}
	width, _, err := term.GetSize(int(w.(*os.File).Fd()))
	return err == nil && width > 0
}

// runProgress tallies a run from its events, for the live display and the
// periodic log line alike.
type runProgress struct {
	now func() time.Time

	mu                   sync.Mutex
	started              bool
	start                time.Time
	wave, waves          int
	total, done, failed  int
	inFlight, pending    int
	skipped, resolutions int
}

func newRunProgress(now func() time.Time) *runProgress {
	if now == nil {
		now = time.Now
	}
	return &runProgress{now: now, start: now()}
}

// Observe implements executor.Observer.
func (p *runProgress) Observe(e executor.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Type {
	case executor.EventResolve:
		p.resolutions++
	case executor.EventRunStart:
		p.started = true
		p.start = e.Time
		p.waves, p.total, p.pending, p.skipped = e.Waves, e.Summary.Total, e.Summary.Total, e.Summary.Skipped
	case executor.EventWaveStart:
		p.wave, p.waves = e.Wave, e.Waves
	case executor.EventInstanceStart:
		p.pending--
		p.inFlight++
	case executor.EventInstanceDone:
		p.inFlight--
		p.done++
	case executor.EventInstanceFail:
		p.inFlight--
		p.failed++
	case executor.EventInstanceInterrupted, executor.EventInstanceSkipped:
		p.inFlight--
	}
}

// progressSnapshot is the state of a run at one moment.
type progressSnapshot struct {
	Started                                bool
	Wave, Waves                            int
	Total, Done, Failed, InFlight, Pending int
	Elapsed                                time.Duration
	ETA                                    time.Duration // 0: not known yet
}

func (p *runProgress) snapshot() progressSnapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := progressSnapshot{Started: p.started, Wave: p.wave, Waves: p.waves, Total: p.total, Done: p.done,
		Failed: p.failed, InFlight: p.inFlight, Pending: p.pending, Elapsed: p.now().Sub(p.start)}
	// The rate so far, applied to what is left: waves and pauses make it rough,
	// but it improves as the run goes and needs no model of the cloud.
	if finished := s.Done + s.Failed; finished > 0 && finished < s.Total {
		s.ETA = time.Duration(float64(s.Elapsed) / float64(finished) * float64(s.Total-finished))
	}
	return s
}

// counts renders the instance counts: "12 done, 1 failed, 4 in flight, 30 pending".
func (s progressSnapshot) counts() string {
	return fmt.Sprintf("%d done, %d failed, %d in flight, %d pending", s.Done, s.Failed, s.InFlight, s.Pending)
}

// times renders elapsed time and ETA.
func (s progressSnapshot) times() string {
	eta := "ETA --"
	if s.ETA > 0 {
		eta = "ETA " + s.ETA.Round(time.Second).String()
	}
	return fmt.Sprintf("elapsed %s, %s", s.Elapsed.Round(time.Second), eta)
}

// logProgress logs the run's progress every interval until the returned
// function is called: the display for a run without a terminal (cron), in
// plain log lines with no control characters.
func logProgress(logger *slog.Logger, p *runProgress, interval time.Duration) (stop func()) {
	if interval <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s := p.snapshot()
				if !s.Started {
					continue
				}
				logger.Info("progress", "wave", s.Wave, "waves", s.Waves, "total", s.Total, "done", s.Done,
					"failed", s.Failed, "in_flight", s.InFlight, "pending", s.Pending,
					"elapsed_seconds", int(s.Elapsed.Seconds()), "eta_seconds", int(s.ETA.Seconds()))
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// routedWriter is one output stream (stdout or stderr) that can be routed
// through the live display while it runs, so that every line printed goes
// above the display instead of through it.
type routedWriter struct {
	mu  sync.Mutex
	raw io.Writer
	via io.Writer // the live display, or nil
}

func (w *routedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.via != nil {
		if n, err := w.via.Write(b); err == nil {
			return n, nil
		}
		// The display has stopped on its own (it could not draw): the line
		// must still come out.
	}
	return w.raw.Write(b)
}

// liveDisplay is the progress shown on a terminal: one status line, redrawn
// below whatever the run prints. It uses mpb, whose container is an io.Writer
// that prints lines above its bars and redraws them after; routing the run's
// text and logs through it is what keeps a redraw from ever splitting a line.
type liveDisplay struct {
	p      *mpb.Progress
	prog   *runProgress
	routes []*routedWriter

	mu  sync.Mutex
	bar *mpb.Bar
}

// startLive starts the display on out (the terminal) and routes the given
// streams through it until stop.
func startLive(out io.Writer, prog *runProgress, routes []*routedWriter, opts ...mpb.ContainerOption) *liveDisplay {
	base := []mpb.ContainerOption{mpb.WithOutput(out), mpb.WithRefreshRate(200 * time.Millisecond)}
	if !isTerminal(out) {
		// -progress always on something mpb does not take for a terminal.
		base = append(base, mpb.WithAutoRefresh())
	}
	opts = append(base, opts...)
	d := &liveDisplay{p: mpb.New(opts...), prog: prog, routes: routes}
	for _, r := range routes {
		r.mu.Lock()
		r.via = d.p
		r.mu.Unlock()
	}
	return d
}

// Observe implements executor.Observer: the bar appears when the run starts
// (its total known) and moves when an instance finishes.
func (d *liveDisplay) Observe(e executor.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch e.Type {
	case executor.EventRunStart:
		if e.Summary.Total == 0 || d.bar != nil {
			return
		}
		d.bar = d.p.AddBar(int64(e.Summary.Total),
			mpb.BarWidth(24),
			mpb.BarRemoveOnComplete(),
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
				s := d.prog.snapshot()
				return fmt.Sprintf("wave %d/%d", s.Wave, s.Waves)
			}, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
				s := d.prog.snapshot()
				return " " + s.counts() + "; " + s.times()
			})))
	case executor.EventInstanceDone, executor.EventInstanceFail, executor.EventInstanceInterrupted, executor.EventInstanceSkipped:
		if d.bar != nil {
			d.bar.Increment()
		}
	}
}

// stop removes the display, prints what was written through it, and sends
// the streams straight to their files again. The streams are held while the
// display shuts down, so no line can overtake one still in the display's buffer.
func (d *liveDisplay) stop() {
	for _, r := range d.routes {
		r.mu.Lock()
	}
	d.mu.Lock()
	if d.bar != nil {
		d.bar.Abort(true)
	}
	d.mu.Unlock()
	d.p.Wait()
	for _, r := range d.routes {
		r.via = nil
		r.mu.Unlock()
	}
}

package main

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
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
	// flying holds the instances in flight, by provider/id: what an operator
	// watching a slow run wants to see is where they are and which is oldest.
	flying map[string]*flight
	// finishedTime sums the durations of the finished instances, for the ETA;
	// maxFlying is the most instances seen in flight at once, the concurrency
	// the run actually reaches (the plan's, or less when the rate bounds it).
	finishedTime time.Duration
	maxFlying    int
	// model, when set, gives the ETA from the rollout forecast's model
	// (forecast.go); begun and pauseEnd are what it needs besides flying.
	model    *etaModel
	begun    map[string]bool
	pauseEnd time.Time
}

// flight is one instance in flight.
type flight struct {
	name  string
	since time.Time
	step  string
}

func newRunProgress(now func() time.Time) *runProgress {
	if now == nil {
		now = time.Now
	}
	return &runProgress{now: now, start: now(), flying: map[string]*flight{}, begun: map[string]bool{}}
}

// useModel makes the ETA the forecast model's on the work left.
func (p *runProgress) useModel(m *etaModel) {
	p.mu.Lock()
	p.model = m
	p.mu.Unlock()
}

func flightKey(e executor.Event) string {
	if e.Change == nil || e.Change.Instance == nil {
		return ""
	}
	return e.Change.Instance.Provider + "/" + e.Change.Instance.ID
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
		p.pauseEnd = time.Time{}
	case executor.EventPause:
		p.pauseEnd = e.Time.Add(e.Pause)
	case executor.EventInstanceStart:
		p.begun[flightKey(e)] = true
		p.pending--
		p.inFlight++
		p.maxFlying = max(p.maxFlying, p.inFlight)
		name := e.Change.Instance.Name
		if name == "" {
			name = e.Change.Instance.ID
		}
		t := e.Time
		if t.IsZero() {
			t = p.now()
		}
		p.flying[flightKey(e)] = &flight{name: name, since: t, step: "starting"}
	case executor.EventInstanceStep:
		if f := p.flying[flightKey(e)]; f != nil {
			f.step = e.Step
		}
	case executor.EventInstanceDone:
		p.inFlight--
		p.done++
		p.finishedTime += e.Elapsed
		delete(p.flying, flightKey(e))
	case executor.EventInstanceFail:
		p.inFlight--
		p.failed++
		p.finishedTime += e.Elapsed
		delete(p.flying, flightKey(e))
	case executor.EventInstanceInterrupted, executor.EventInstanceSkipped:
		p.inFlight--
		delete(p.flying, flightKey(e))
	}
}

// progressSnapshot is the state of a run at one moment.
type progressSnapshot struct {
	Started                                bool
	Wave, Waves                            int
	Total, Done, Failed, InFlight, Pending int
	Elapsed                                time.Duration
	ETA                                    time.Duration // 0: not known yet
	// Steps counts the instances in flight by step, most first.
	Steps []stepCount
	// Oldest is the instance longest in flight (empty when none), its step and age.
	Oldest, OldestStep string
	OldestAge          time.Duration
}

// stepCount is how many instances in flight are at one step.
type stepCount struct {
	Step string
	N    int
}

func (p *runProgress) snapshot() progressSnapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	s := progressSnapshot{Started: p.started, Wave: p.wave, Waves: p.waves, Total: p.total, Done: p.done,
		Failed: p.failed, InFlight: p.inFlight, Pending: p.pending, Elapsed: now.Sub(p.start)}
	byStep := map[string]int{}
	var ages time.Duration
	for _, f := range p.flying {
		byStep[f.step]++
		age := now.Sub(f.since)
		ages += age
		if s.Oldest == "" || age > s.OldestAge || (age == s.OldestAge && f.name < s.Oldest) {
			s.Oldest, s.OldestStep, s.OldestAge = f.name, f.step, age
		}
	}
	for step, n := range byStep {
		s.Steps = append(s.Steps, stepCount{step, n})
	}
	slices.SortFunc(s.Steps, func(a, b stepCount) int {
		return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Step, b.Step))
	})
	// The ETA: the forecast's model on what is left, with the durations this
	// run observed (pauses, waves, lanes and rate limits in it).
	if p.model != nil {
		if p.started && s.Done+s.Failed < s.Total {
			s.ETA = max(p.model.eta(now, runState{wave: p.wave, pauseEnd: p.pauseEnd, started: p.begun, flying: p.flying}), time.Second)
		}
		return s
	}
	// Without the model: the mean time of an instance and the concurrency the
	// run reaches: the instances in flight need what is left of a mean each
	// (they run side by side), the pending ones go through in rounds of that
	// many. Pauses between waves are not in it.
	if finished := s.Done + s.Failed; finished > 0 && finished < s.Total {
		mean := p.finishedTime / time.Duration(finished)
		c := max(p.maxFlying, 1)
		var inFlight time.Duration
		if len(p.flying) > 0 {
			inFlight = max(mean-ages/time.Duration(len(p.flying)), 0)
		}
		s.ETA = inFlight + time.Duration(float64(mean)*float64(s.Pending)/float64(c))
		if s.ETA <= 0 {
			s.ETA = time.Second
		}
	}
	return s
}

// counts renders the instance counts: "12 done, 1 failed, 4 in flight, 30 not started".
func (s progressSnapshot) counts() string {
	return fmt.Sprintf("%d done, %d failed, %d in flight, %d not started", s.Done, s.Failed, s.InFlight, s.Pending)
}

// flight renders what is in flight: "3 wait_done, 1 stop; oldest web-3 (wait_done) 4m12s";
// empty when nothing is.
func (s progressSnapshot) flight() string {
	if s.Oldest == "" {
		return ""
	}
	parts := make([]string, len(s.Steps))
	for i, c := range s.Steps {
		parts[i] = fmt.Sprintf("%d %s", c.N, c.Step)
	}
	return fmt.Sprintf("%s; oldest %s (%s) %s", strings.Join(parts, ", "), s.Oldest, s.OldestStep, s.OldestAge.Round(time.Second))
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
				attrs := []any{"wave", s.Wave, "waves", s.Waves, "total", s.Total, "done", s.Done,
					"failed", s.Failed, "in_flight", s.InFlight, "not_started", s.Pending,
					"elapsed_seconds", int(s.Elapsed.Seconds()), "eta_seconds", int(s.ETA.Seconds())}
				if s.Oldest != "" {
					steps := make([]string, len(s.Steps))
					for i, c := range s.Steps {
						steps[i] = fmt.Sprintf("%s=%d", c.Step, c.N)
					}
					attrs = append(attrs, "steps", strings.Join(steps, ","), "oldest", s.Oldest,
						"oldest_step", s.OldestStep, "oldest_seconds", int(s.OldestAge.Seconds()))
				}
				logger.Info("progress", attrs...)
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
				line := " " + s.counts() + "; " + s.times()
				if f := s.flight(); f != "" {
					line += " | " + f
				}
				return line
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

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/reimage-dev/reimage/executor"
)

// textView prints a run for people: a line per wave and per finished instance.
type textView struct {
	mu sync.Mutex
	w  io.Writer
	fc *forecastTally // nil: no forecast
}

func (v *textView) Observe(e executor.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.fc.observe(e)
	switch e.Type {
	case executor.EventRunStart:
		if e.Summary.Total > 0 {
			fmt.Fprintf(v.w, "Applying %s in %s.\n", plural(e.Summary.Total, "change"), plural(e.Waves, "wave"))
		}
	case executor.EventResolve:
		fmt.Fprintf(v.w, "resolving %s: left in doubt by an earlier run; asking the cloud\n", instanceLabel(e.Change.Instance))
	case executor.EventWaveStart:
		fmt.Fprintf(v.w, "\nwave %d/%d: %s\n", e.Wave, e.Waves, plural(e.WaveSize, "instance"))
	case executor.EventInstanceDone:
		fmt.Fprintf(v.w, "  done    %s in %s\n", instanceLabel(e.Change.Instance), e.Elapsed.Round(100*time.Millisecond))
	case executor.EventInstanceFail:
		fmt.Fprintf(v.w, "  FAILED  %s after %s: %v\n", instanceLabel(e.Change.Instance), e.Elapsed.Round(100*time.Millisecond), e.Err)
	case executor.EventInstanceInterrupted:
		fmt.Fprintf(v.w, "  interrupted %s after %s: %v\n", instanceLabel(e.Change.Instance), e.Elapsed.Round(100*time.Millisecond), e.Err)
	case executor.EventInstanceSkipped:
		fmt.Fprintf(v.w, "  %-7s %s: changed since the look-up, not touched: %s\n", e.Change.Action, instanceLabel(e.Change.Instance), e.Change.Reason)
	case executor.EventWaveEnd:
		fmt.Fprintf(v.w, "wave %d/%d finished in %s\n", e.Wave, e.Waves, e.Elapsed.Round(100*time.Millisecond))
	case executor.EventPause:
		fmt.Fprintf(v.w, "pausing %s before wave %d\n", e.Pause, e.Wave+1)
	case executor.EventHalt:
		if e.Wave == 0 { // a rerun's gates, before its first wave
			fmt.Fprintf(v.w, "\nHALTED before wave 1/%d: %v\n", e.Waves, e.Err)
			break
		}
		fmt.Fprintf(v.w, "\nHALTED after wave %d/%d: %v\n", e.Wave, e.Waves, e.Err)
	case executor.EventGate:
		fmt.Fprintf(v.w, "checking the gates before wave %d/%d\n", e.Wave, e.Waves)
	case executor.EventWindow:
		fmt.Fprintf(v.w, "\nWINDOW: %v\n", e.Err)
	case executor.EventRecap:
		writeRecap(v.w, e.Recap)
	case executor.EventRunEnd:
		s := e.Summary
		if s.OnlyOutsideWindow() {
			fmt.Fprintf(v.w, "\nNothing done: outside the maintenance window; %s left for the next one.\n", plural(s.Pending, "change"))
			return
		}
		if s.Total == 0 && s.Resolved == 0 && s.Broken == 0 && s.InDoubt == 0 {
			// Blocked instances differ from the plan: saying the fleet
			// matches it would contradict the count beside it.
			if s.Blocked == 0 {
				fmt.Fprintf(v.w, "No changes: the fleet matches the plan (%d ok or protected).\n", s.Skipped)
			} else {
				fmt.Fprintf(v.w, "No changes possible: %d ok or protected, %d blocked (reimage plan says why).\n", s.Skipped-s.Blocked, s.Blocked)
			}
			return
		}
		verdict := "Apply complete"
		switch {
		case s.Interrupt:
			verdict = "Apply interrupted"
		case s.Halted:
			verdict = "Apply halted"
		case s.WindowClosed:
			verdict = "Apply stopped at the end of the maintenance window"
		case !s.Converged():
			verdict = "Apply finished with failures"
		}
		interrupted := ""
		if s.Interrupted > 0 {
			interrupted = fmt.Sprintf(", %d interrupted (in doubt: the next run resolves them)", s.Interrupted)
		}
		fmt.Fprintf(v.w, "\n%s: %d changed, %d failed%s, %d not started, %d resolved from an earlier run; left alone: %d ok or protected, %d blocked; in %s.\n",
			verdict, s.Done, s.Failed, interrupted, s.Pending, s.Resolved, s.Skipped-s.Blocked, s.Blocked, e.Elapsed.Round(100*time.Millisecond))
		if line := v.fc.line(e); line != "" {
			fmt.Fprintln(v.w, line)
		}
		if s.Broken > 0 || s.InDoubt > 0 {
			fmt.Fprintf(v.w, "Not converged: %d broken by an earlier run, %d in doubt; check them by hand, then run reimage ack PLAN ID|NAME...\n", s.Broken, s.InDoubt)
		}
	}
}

// jsonView writes apply -json: one JSON object per line, each with
// format_version and a type from a closed list (executor.EventType).
type jsonView struct {
	mu  sync.Mutex
	enc *json.Encoder
	fc  *forecastTally // nil: no forecast
}

// newJSONView returns the view; fc compares the run with its forecast (nil: none).
func newJSONView(w io.Writer, fc *forecastTally) *jsonView {
	return &jsonView{enc: json.NewEncoder(w), fc: fc}
}

type jsonEvent struct {
	FormatVersion  string       `json:"format_version"`
	Type           string       `json:"type"`
	Time           string       `json:"time"`
	Wave           int          `json:"wave,omitempty"`
	Waves          int          `json:"waves,omitempty"`
	WaveSize       int          `json:"wave_size,omitempty"`
	Provider       string       `json:"provider,omitempty"`
	ID             string       `json:"id,omitempty"`
	Name           string       `json:"name,omitempty"`
	Action         string       `json:"action,omitempty"`
	Step           string       `json:"step,omitempty"`
	Error          string       `json:"error,omitempty"`
	Reason         string       `json:"reason,omitempty"`
	ElapsedSeconds float64      `json:"elapsed_seconds,omitempty"`
	PauseSeconds   float64      `json:"pause_seconds,omitempty"`
	Summary        *summaryJSON `json:"summary,omitempty"`
	// Recap is set on type recap (always a list, empty when nothing is left).
	Recap *[]executor.RecapEntry `json:"recap,omitempty"`
	// ForecastSeconds and RolloutSeconds are set on run_end when the plan
	// was forecast: the forecast, and the time from the first wave's start.
	ForecastSeconds float64 `json:"forecast_seconds,omitempty"`
	RolloutSeconds  float64 `json:"rollout_seconds,omitempty"`
}

func (v *jsonView) Observe(e executor.Event) {
	je := jsonEvent{FormatVersion: JSONFormatVersion, Type: string(e.Type), Time: e.Time.UTC().Format(time.RFC3339Nano),
		Wave: e.Wave, Waves: e.Waves, WaveSize: e.WaveSize, Step: e.Step,
		ElapsedSeconds: e.Elapsed.Seconds(), PauseSeconds: e.Pause.Seconds()}
	if e.Summary != nil {
		je.Summary = &summaryJSON{Summary: *e.Summary, LeftAlone: e.Summary.Skipped, NotStarted: e.Summary.Pending}
	}
	if c := e.Change; c != nil {
		je.Provider, je.ID, je.Name, je.Action = c.Instance.Provider, c.Instance.ID, c.Instance.Name, c.Action.String()
		if e.Type == executor.EventInstanceSkipped {
			je.Reason = c.Reason
		}
	}
	if e.Err != nil {
		je.Error = e.Err.Error()
	}
	if e.Type == executor.EventRecap {
		r := e.Recap
		if r == nil {
			r = []executor.RecapEntry{}
		}
		je.Recap = &r
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.fc.observe(e)
	if e.Type == executor.EventRunEnd && v.fc != nil && v.fc.forecast > 0 && !v.fc.first.IsZero() {
		je.ForecastSeconds, je.RolloutSeconds = v.fc.forecast.Seconds(), e.Time.Sub(v.fc.first).Seconds()
	}
	_ = v.enc.Encode(je)
}

// summaryJSON is a run's summary in apply -json: the README's words
// (left_alone, not_started) beside skipped and pending, the same counts under
// the words of the reimage_instances states that DESIGN.md fixes (and that
// format_version 1 has always carried).
type summaryJSON struct {
	executor.Summary
	LeftAlone  int `json:"left_alone"`
	NotStarted int `json:"not_started"`
}

// forecastTally compares a run with its forecast: the forecast covers the
// rollout from its first wave's start, so that is what it is compared with.
type forecastTally struct {
	forecast time.Duration
	first    time.Time
}

func (t *forecastTally) observe(e executor.Event) {
	if t == nil {
		return
	}
	if e.Type == executor.EventWaveStart && t.first.IsZero() {
		t.first = e.Time
	}
}

// line is the summary's comparison at run_end e: "Forecast 12m0s, took
// 12m47s (+6.5 %)." Empty without a forecast, or when the run did not go
// through every wave (halted, interrupted, the window closed): the forecast
// was of the whole rollout.
func (t *forecastTally) line(e executor.Event) string {
	if t == nil {
		return ""
	}
	s := e.Summary
	if t.forecast <= 0 || t.first.IsZero() || s.Pending > 0 || s.Halted || s.Interrupt || s.WindowClosed {
		return ""
	}
	took := e.Time.Sub(t.first)
	return fmt.Sprintf("Forecast %s, took %s (%+.1f %%).", fmtDuration(t.forecast), fmtDuration(took), 100*(took.Seconds()-t.forecast.Seconds())/t.forecast.Seconds())
}

// plural renders "1 instance", "2 instances".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// logView logs a run's instance events with slog, each with the instance's
// provider, id and name, for log pipelines (-log-format json, e.g. from cron).
// In text format the text view already tells a person the same on stdout, so
// the records go at debug level (-log-level debug shows them) instead of
// doubling every line.
type logView struct {
	logger           *slog.Logger
	info, warn, fail slog.Level
}

func newLogView(logger *slog.Logger, structured bool) *logView {
	if structured {
		return &logView{logger: logger, info: slog.LevelInfo, warn: slog.LevelWarn, fail: slog.LevelError}
	}
	return &logView{logger: logger, info: slog.LevelDebug, warn: slog.LevelDebug, fail: slog.LevelDebug}
}

// Observe implements executor.Observer.
func (v *logView) Observe(e executor.Event) {
	ctx := context.Background()
	switch e.Type {
	case executor.EventRunStart:
		v.logger.Log(ctx, v.info, "run start", "waves", e.Waves, "changes", e.Summary.Total, "left_alone", e.Summary.Skipped)
	case executor.EventWaveStart:
		v.logger.Log(ctx, v.info, "wave start", "wave", e.Wave, "waves", e.Waves, "size", e.WaveSize)
	case executor.EventWaveEnd:
		v.logger.Log(ctx, v.info, "wave end", "wave", e.Wave, "waves", e.Waves, "elapsed_seconds", e.Elapsed.Seconds())
	case executor.EventResolve:
		v.logger.Log(ctx, v.info, "resolving an instance left in doubt", instanceAttrs(e)...)
	case executor.EventInstanceStart:
		v.logger.Debug("instance start", instanceAttrs(e)...)
	case executor.EventInstanceStep:
		v.logger.Debug("instance step", append(instanceAttrs(e), "step", e.Step)...)
	case executor.EventInstanceDone:
		v.logger.Log(ctx, v.info, "instance done", append(instanceAttrs(e), "elapsed_seconds", e.Elapsed.Seconds())...)
	case executor.EventInstanceFail:
		v.logger.Log(ctx, v.fail, "instance failed", append(instanceAttrs(e), "elapsed_seconds", e.Elapsed.Seconds(), "err", e.Err)...)
	case executor.EventInstanceInterrupted:
		v.logger.Log(ctx, v.warn, "instance interrupted", append(instanceAttrs(e), "elapsed_seconds", e.Elapsed.Seconds(), "err", e.Err)...)
	case executor.EventInstanceSkipped:
		v.logger.Log(ctx, v.warn, "instance changed since the look-up; not touched", append(instanceAttrs(e), "now", e.Change.Action.String(), "reason", e.Change.Reason)...)
	case executor.EventPause:
		v.logger.Log(ctx, v.info, "pause", "wave", e.Wave, "pause_seconds", e.Pause.Seconds())
	case executor.EventHalt:
		v.logger.Log(ctx, v.fail, "halted", "wave", e.Wave, "waves", e.Waves, "err", e.Err)
	case executor.EventGate:
		v.logger.Log(ctx, v.info, "checking gates", "wave", e.Wave, "waves", e.Waves)
	case executor.EventWindow:
		v.logger.Log(ctx, v.warn, "maintenance window closed", "err", e.Err)
	case executor.EventRecap:
		// One record per instance left, so that a log pipeline can alert on each.
		for _, r := range e.Recap {
			v.logger.Log(ctx, v.warn, "not at the plan's image", "provider", r.Provider, "id", r.ID, "name", r.Name,
				"outcome", r.Outcome, "reason", r.Reason, "next", r.Next)
		}
	case executor.EventRunEnd:
		s := e.Summary
		level := v.info
		if !s.Converged() {
			level = v.warn
		}
		v.logger.Log(ctx, level, "run end", "converged", s.Converged(), "done", s.Done, "failed", s.Failed,
			"not_started", s.Pending, "left_alone", s.Skipped, "resolved", s.Resolved, "halted", s.Halted, "interrupted_instances", s.Interrupted,
			"interrupted", s.Interrupt, "elapsed_seconds", e.Elapsed.Seconds())
	}
}

// instanceAttrs are the attributes every instance record carries.
func instanceAttrs(e executor.Event) []any {
	in := e.Change.Instance
	attrs := []any{"provider", in.Provider, "id", in.ID, "name", in.Name}
	if e.Wave > 0 {
		attrs = append(attrs, "wave", e.Wave)
	}
	return attrs
}

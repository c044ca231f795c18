package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/executor/forecast"
	"github.com/reimage-dev/reimage/plan"
)

// The ETA is the forecast model's on what is left: the instances in flight
// with what their step durations leave them, the rest of a pause, the waves
// to come through the slots; and the durations are those this run observed
// as soon as it has (here, changes of 30 s where 60 s were forecast).
func TestRunProgressETAFromModel(t *testing.T) {
	keys := map[string]string{"kec": forecast.Key("ksyun", "cn-beijing-6")}
	fc := &forecaster{keys: keys, rec: forecast.NewRecorder(keys)}
	in := forecast.Input{Concurrency: 2, Waves: []forecast.Wave{{Size: 2, Pause: time.Minute}, {Size: 8}},
		Providers: map[string]forecast.Provider{"kec": {Durations: forecast.Durations{forecast.Change: {D: time.Minute}}}}}
	m := &etaModel{fc: fc, in: in, index: map[string]int{}}
	for i := range 10 {
		m.in.Instances = append(m.in.Instances, forecast.Instance{Provider: "kec"})
		m.index[plan.Key("kec", fmt.Sprintf("i-%d", i))] = i
	}
	t0 := time.Unix(1000, 0)
	now := t0
	p := newRunProgress(func() time.Time { return now })
	p.useModel(m)
	obs := executor.Observers{fc.rec, p}
	at := func(typ executor.EventType, i int, d time.Duration, step string) {
		e := instEvent(typ, i)
		e.Time, e.Step = t0.Add(d), step
		obs.Observe(e)
	}
	obs.Observe(executor.Event{Type: executor.EventRunStart, Time: t0, Waves: 2, Summary: &executor.Summary{Total: 10}})
	obs.Observe(executor.Event{Type: executor.EventWaveStart, Time: t0, Wave: 1, Waves: 2})
	for i := range 2 {
		at(executor.EventInstanceStart, i, 0, "")
		at(executor.EventInstanceStep, i, 0, executor.StepWaitDone)
	}
	for _, tc := range []struct {
		at   time.Duration
		do   func()
		want time.Duration
	}{
		// Two in flight for 20 s of their 60: 40 s; the pause; 8 in 4 rounds of 60 s.
		{20 * time.Second, nil, 40*time.Second + time.Minute + 4*time.Minute},
		// They were done in 30 s: the pause has 50 s left, the rounds take 30 s.
		{40 * time.Second, func() {
			for i := range 2 {
				at(executor.EventInstanceDone, i, 30*time.Second, "")
			}
			obs.Observe(executor.Event{Type: executor.EventWaveEnd, Time: t0.Add(30 * time.Second), Wave: 1, Waves: 2})
			obs.Observe(executor.Event{Type: executor.EventPause, Time: t0.Add(30 * time.Second), Wave: 1, Waves: 2, Pause: time.Minute})
		}, 50*time.Second + 4*30*time.Second},
		// Wave 2 began at 90 s; two started 10 s ago.
		{100 * time.Second, func() {
			obs.Observe(executor.Event{Type: executor.EventWaveStart, Time: t0.Add(90 * time.Second), Wave: 2, Waves: 2})
			for i := 2; i < 4; i++ {
				at(executor.EventInstanceStart, i, 90*time.Second, "")
			}
		}, 20*time.Second + 3*30*time.Second},
	} {
		if tc.do != nil {
			tc.do()
		}
		now = t0.Add(tc.at)
		if got := p.snapshot().ETA; got != tc.want {
			t.Errorf("at %v: ETA %v, want %v", tc.at, got, tc.want)
		}
	}
	// Between two runs of the model the ETA counts down.
	now = now.Add(300 * time.Millisecond)
	if got, want := p.snapshot().ETA, 110*time.Second-300*time.Millisecond; got != want {
		t.Errorf("counted down: ETA %v, want %v", got, want)
	}
}

func TestForecastVsActualLine(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name     string
		forecast time.Duration
		sum      executor.Summary
		took     time.Duration
		want     string
	}{
		{"slower than forecast", 12 * time.Minute, executor.Summary{Total: 5, Done: 5}, 12*time.Minute + 47*time.Second, "Forecast 12m0s, took 12m47s (+6.5 %)."},
		{"faster", 100 * time.Second, executor.Summary{Total: 5, Done: 4, Failed: 1}, 80 * time.Second, "Forecast 1m40s, took 1m20s (-20.0 %)."},
		{"halted: the forecast was of the whole rollout", time.Minute, executor.Summary{Total: 5, Done: 1, Failed: 2, Pending: 2, Halted: true}, 30 * time.Second, ""},
		{"interrupted", time.Minute, executor.Summary{Total: 5, Done: 5, Interrupt: true}, 30 * time.Second, ""},
		{"no forecast", 0, executor.Summary{Total: 5, Done: 5}, 30 * time.Second, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			v := &textView{w: &b, fc: &forecastTally{forecast: tc.forecast}}
			v.Observe(executor.Event{Type: executor.EventWaveStart, Time: t0, Wave: 1, Waves: 1, WaveSize: 5})
			sum := tc.sum
			v.Observe(executor.Event{Type: executor.EventRunEnd, Time: t0.Add(tc.took), Summary: &sum, Elapsed: tc.took})
			got := ""
			for _, l := range strings.Split(b.String(), "\n") {
				if strings.HasPrefix(l, "Forecast") {
					got = l
				}
			}
			if got != tc.want {
				t.Errorf("line %q, want %q\n%s", got, tc.want, b.String())
			}
		})
	}
}

// Every cloud's driver gives the forecast its defaults.
func TestDriversDeclareDurations(t *testing.T) {
	if len(drivers()) == 0 {
		t.Fatal("no driver registered")
	}
	for _, d := range drivers() {
		if d.Durations.Change <= 0 || d.Durations.Stop <= 0 || d.Durations.Start <= 0 || d.Durations.Call <= 0 {
			t.Errorf("driver %s: durations %+v, want every step's", d.Type, d.Durations)
		}
	}
}

// The engine's first poll of a wait comes from the forecast's figures: what
// earlier runs observed, else the cloud's (or a known simulator's) default;
// a guess at a simulator reimage does not know (-sim-url) is no figure.
func TestWaitEstimateFromForecastDurations(t *testing.T) {
	durations := forecast.Durations{
		forecast.Stop:          {D: 30 * time.Second},                // a default
		forecast.ChangeRunning: {D: 90 * time.Second, Runs: 3},       // observed
		forecast.Change:        {D: 4 * time.Minute},                 // a default
		forecast.Start:         {D: 20 * time.Second, Current: true}, // this run's
	}
	for _, tt := range []struct {
		guessed bool
		wait    executor.Wait
		want    time.Duration
	}{
		{false, executor.WaitStop, 30 * time.Second},
		{false, executor.WaitChangeRunning, 90 * time.Second},
		{false, executor.WaitChange, 4 * time.Minute},
		{true, executor.WaitStop, 0},
		{true, executor.WaitChange, 0},
		{true, executor.WaitChangeRunning, 90 * time.Second},
		{true, executor.WaitStart, 20 * time.Second},
	} {
		fc := &forecaster{base: map[string]forecast.Provider{"ecs": {Durations: durations}}, guessed: tt.guessed}
		if got := fc.waitEstimate("ecs", tt.wait); got != tt.want {
			t.Errorf("guessed %t, %s: %v, want %v", tt.guessed, tt.wait, got, tt.want)
		}
		if got := fc.waitEstimate("other", tt.wait); got != 0 {
			t.Errorf("a provider the plan does not have, %s: %v, want 0", tt.wait, got)
		}
	}
	var run forecastRun
	if got := run.waitEstimate("ecs", executor.WaitChange); got != 0 {
		t.Errorf("before the review: %v, want 0", got)
	}
}

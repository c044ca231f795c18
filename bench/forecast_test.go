package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// forecastScenario is issue 16's forecast check: a rollout with waves and
// pauses, both clouds' instances running (KEC's stopped first, in batch
// calls; ECS's inside the change), 20 requests/s per cloud, concurrency 60.
var forecastScenario = scenario{
	kec: 300, ecs: 300,
	rate: 20, concurrency: 60, waves: `[{size: 1, pause: 5s}, {size: "10%", pause: 5s}, {size: "100%"}]`,
	stop: time.Second, rebuild: 3 * time.Second, run: time.Second, jitter: 0.2,
	poll: 250 * time.Millisecond,
}

// forecastResult is what the forecast benchmark measures.
type forecastResult struct {
	// Forecast is plan's, from the durations a first run recorded; Actual the
	// second run's, from its first wave's start to its end.
	Forecast, Actual time.Duration
	Error            float64 // Actual/Forecast - 1
	// Waves: each wave's forecast and measured time (without the pause).
	Waves []forecastWave
	// Recorded is the first run's time, and the forecast it had (of the
	// simulator's durations as reimage sim's defaults, which these are not).
	Recorded, RecordedForecast time.Duration
}

type forecastWave struct {
	Size               int
	Forecast, Measured time.Duration
	Pause              time.Duration
}

// planForecast is the part of plan -json the harness reads.
type planForecast struct {
	Forecast *struct {
		TotalSeconds float64 `json:"total_seconds"`
		Waves        []struct {
			Size            int     `json:"size"`
			DurationSeconds float64 `json:"duration_seconds"`
			PauseSeconds    float64 `json:"pause_seconds"`
		} `json:"waves"`
	} `json:"forecast"`
}

// runEnd is the part of apply -json's events the forecast benchmark reads.
type runEvent struct {
	Type            string  `json:"type"`
	ElapsedSeconds  float64 `json:"elapsed_seconds"`
	ForecastSeconds float64 `json:"forecast_seconds"`
	RolloutSeconds  float64 `json:"rollout_seconds"`
	Summary         *struct {
		Done int `json:"done"`
	} `json:"summary"`
}

// applyForecast applies sc's plan on a fresh simulator with state dir and
// pauses kept, and returns its run_end and wave_end events.
func applyForecast(tb testing.TB, sc scenario, dir string) (runEvent, []time.Duration) {
	tb.Helper()
	s, url := sc.startSim(tb)
	planPath := sc.writePlan(dir)
	r := runReimage(tb, s, "apply", "-sim-url", url, "-sim-pause", "1h", "-poll-interval", sc.poll.String(),
		"-auto-approve", "-json", "-state", filepath.Join(dir, "state"), planPath)
	if r.exit != 0 {
		tb.Fatalf("reimage apply exited %d\n%s", r.exit, tail(r.stderr, 40))
	}
	var end runEvent
	var waves []time.Duration
	lines := bufio.NewScanner(bytes.NewReader(r.stdout))
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	for lines.Scan() {
		var e runEvent
		if json.Unmarshal(lines.Bytes(), &e) != nil {
			continue
		}
		switch e.Type {
		case "wave_end":
			waves = append(waves, time.Duration(e.ElapsedSeconds*float64(time.Second)))
		case "run_end":
			end = e
		}
	}
	if end.Summary == nil || end.Summary.Done != sc.kec+sc.ecs || end.RolloutSeconds <= 0 || end.ForecastSeconds <= 0 {
		tb.Fatalf("apply did not converge with a forecast: %+v\n%s", end, tail(r.stderr, 40))
	}
	return end, waves
}

// runForecast records the step durations with a first run, then forecasts
// a second run on a fresh fleet with plan and measures it.
func runForecast(tb testing.TB, sc scenario) forecastResult {
	tb.Helper()
	dir := tb.TempDir()
	first, _ := applyForecast(tb, sc, dir)
	s, url := sc.startSim(tb)
	p := runReimage(tb, s, "plan", "-sim-url", url, "-sim-pause", "1h", "-poll-interval", sc.poll.String(),
		"-json", "-state", filepath.Join(dir, "state"), sc.writePlan(dir))
	if p.exit != 0 {
		tb.Fatalf("reimage plan exited %d\n%s", p.exit, tail(p.stderr, 20))
	}
	var doc planForecast
	if err := json.Unmarshal(p.stdout, &doc); err != nil || doc.Forecast == nil {
		tb.Fatalf("plan -json: %v (forecast %v)", err, doc.Forecast)
	}
	s.Close()
	second, waves := applyForecast(tb, sc, dir)
	sec := func(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }
	res := forecastResult{Forecast: sec(doc.Forecast.TotalSeconds), Actual: sec(second.RolloutSeconds),
		Recorded: sec(first.RolloutSeconds), RecordedForecast: sec(first.ForecastSeconds)}
	if math.Abs(second.ForecastSeconds-doc.Forecast.TotalSeconds) > 1e-6 {
		tb.Fatalf("apply forecast %.3f s, plan %.3f s: one model, the same durations, want the same", second.ForecastSeconds, doc.Forecast.TotalSeconds)
	}
	res.Error = res.Actual.Seconds()/res.Forecast.Seconds() - 1
	for i, w := range doc.Forecast.Waves {
		fw := forecastWave{Size: w.Size, Forecast: sec(w.DurationSeconds), Pause: sec(w.PauseSeconds)}
		if i < len(waves) {
			fw.Measured = waves[i]
		}
		res.Waves = append(res.Waves, fw)
	}
	return res
}

// TestForecastHarness runs the forecast scenario small, so that the ordinary
// test suite catches a harness that no longer works. It asserts the harness
// and the figures' presence, never the forecast's accuracy.
func TestForecastHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the reimage binary")
	}
	sc := forecastScenario
	sc.kec, sc.ecs, sc.concurrency = 5, 5, 4
	sc.waves = `[{size: 1, pause: 200ms}, {size: "100%"}]`
	sc.stop, sc.rebuild, sc.run = 50*time.Millisecond, 150*time.Millisecond, 50*time.Millisecond
	sc.poll = 50 * time.Millisecond
	r := runForecast(t, sc)
	if r.Forecast <= 0 || r.Actual <= 0 || len(r.Waves) != 2 || r.Waves[0].Pause != 200*time.Millisecond {
		t.Fatalf("result %+v", r)
	}
}

// BenchmarkForecast measures the forecast's error on forecastScenario.
func BenchmarkForecast(b *testing.B) {
	for i := 0; i < b.N; i++ {
		r := runForecast(b, forecastScenario)
		b.ReportMetric(r.Forecast.Seconds(), "forecast-s")
		b.ReportMetric(r.Actual.Seconds(), "actual-s")
		b.ReportMetric(100*r.Error, "error-%")
		for i, w := range r.Waves {
			b.Logf("wave %d: %d instances, forecast %.2f s, measured %.2f s, pause %s", i+1, w.Size, w.Forecast.Seconds(), w.Measured.Seconds(), w.Pause)
		}
		record("forecast", r)
	}
}

// forecastReport renders the forecast scenario's figures.
func forecastReport(sc scenario, r forecastResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Forecast\n\n%d instances (%d KEC, %d ECS, all running), plan order interleaved; simulated stop %s, rebuild %s, start %s (each ±%.0f %%, seeded); simulator and plan both at %g requests/s per provider; concurrency %d; waves %s (pauses kept); poll interval %s (bench/forecast_test.go).\n\n",
		sc.kec+sc.ecs, sc.kec, sc.ecs, sc.stop, sc.rebuild, sc.run, sc.jitter*100, sc.rate, sc.concurrency, sc.waves, sc.poll)
	b.WriteString("A first run records the step durations in its state directory; `reimage plan -json` then forecasts a second run on a fresh fleet from them, and the second run is measured from its first wave's start to its end (`run_end`'s `rollout_seconds`).\n\n")
	b.WriteString("| figure | value | target |\n| --- | --- | --- |\n")
	fmt.Fprintf(&b, "| forecast (plan, durations of the first run) | %.1f s | |\n", r.Forecast.Seconds())
	fmt.Fprintf(&b, "| actual (second run) | %.1f s | |\n", r.Actual.Seconds())
	fmt.Fprintf(&b, "| error = actual / forecast − 1 | %+.1f %% | within ±15 %% |\n", 100*r.Error)
	fmt.Fprintf(&b, "| first run (recording), its forecast from defaults that are not this simulator's | %.1f s, forecast %.1f s | |\n", r.Recorded.Seconds(), r.RecordedForecast.Seconds())
	b.WriteString("\nBy wave:\n\n| wave | instances | forecast | measured | pause after |\n| --- | --- | --- | --- | --- |\n")
	for i, w := range r.Waves {
		fmt.Fprintf(&b, "| %d | %d | %.2f s | %.2f s | %s |\n", i+1, w.Size, w.Forecast.Seconds(), w.Measured.Seconds(), w.Pause)
	}
	b.WriteString(`
The forecast is the model of executor/forecast (the one the lower bound above is computed with,
and apply's ETA): the engine's waves, pauses, slots, per-provider lanes and rate limiters replayed
on a virtual clock with each step's median duration.
`)
	return b.String()
}

package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/executor/forecast"
	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// simStepDurations are the step times of a simulator whose options reimage
// does not know (-sim-url): reimage sim's defaults.
var simStepDurations = simDurations(5*time.Second, 20*time.Second, 5*time.Second)

// simDurations are the simulator's step times as the forecast sees them:
// both simulated clouds boot a rebuilt instance, and changeos stops a running
// one first.
func simDurations(stop, rebuild, start time.Duration) func(providers.Capabilities) providers.StepDurations {
	return func(providers.Capabilities) providers.StepDurations {
		return providers.StepDurations{Stop: stop, Start: start, Change: rebuild + start, ChangeRunning: stop + rebuild + start, Call: 5 * time.Millisecond}
	}
}

// forecaster makes a plan's forecasts: the rollout model (executor/forecast)
// fed with the plan's waves, concurrency and limits, the clouds' capabilities
// and the step durations earlier runs observed in the state directory (the
// clouds' defaults where none did); during a run, what the run observes
// replaces them (the ETA), and at its end they are written back.
type forecaster struct {
	plan  *plan.Plan
	poll  time.Duration
	path  string // the durations file
	store *forecast.Store
	// base: per provider name, the model's provider with its defaults and
	// the stored durations; keys: its region's key in the store.
	base map[string]forecast.Provider
	keys map[string]string
	rec  *forecast.Recorder
	// guessed: the defaults are a guess at a simulator whose options
	// reimage does not know (-sim-url), not a cloud's figures.
	guessed bool
}

// newForecaster loads the durations file of stateDir. A file that cannot be
// read is a warning: the forecast uses the defaults, the run goes on, and its
// end writes the file anew. sim, when not nil, gives a simulator's step times
// instead of the clouds' defaults.
func newForecaster(p *plan.Plan, provs map[string]providers.Provider, poll time.Duration, stateDir string,
	sim func(providers.Capabilities) providers.StepDurations, logger *slog.Logger) *forecaster {
	fc := &forecaster{plan: p, poll: poll, path: filepath.Join(stateDir, forecast.FileName),
		base: map[string]forecast.Provider{}, keys: map[string]string{}}
	store, err := forecast.Load(fc.path)
	if err != nil {
		logger.Warn(err.Error() + "; the forecast uses the default step durations until a run rewrites the file")
	}
	fc.store = store
	for name, pp := range p.Providers {
		var caps providers.Capabilities
		if c := provs[name]; c != nil {
			caps = c.Capabilities()
		}
		var def providers.StepDurations
		if sim != nil {
			def = sim(caps)
		} else if d, ok := providers.Lookup(pp.Type); ok {
			def = d.Durations
		}
		key := forecast.Key(pp.Type, pp.Region)
		fc.keys[name] = key
		fc.base[name] = forecast.Provider{
			Rate: pp.Limits.RequestsPerSecond, Burst: pp.Limits.Burst, ChangeStopsRunning: caps.ChangeStopsRunning,
			Durations: forecast.Merge(defaultDurations(def, p.Rollout), store.Estimates(key), nil),
		}
	}
	fc.rec = forecast.NewRecorder(fc.keys)
	return fc
}

// defaultDurations are a cloud's defaults as the model's estimates, with the
// plan's own for health checks (one check interval) and hooks.
func defaultDurations(d providers.StepDurations, r plan.Rollout) forecast.Durations {
	out := forecast.Durations{
		forecast.Stop: {D: d.Stop}, forecast.Change: {D: d.Change}, forecast.ChangeRunning: {D: d.ChangeRunning},
		forecast.Start: {D: d.Start}, forecast.Call: {D: d.Call},
		forecast.Hooks: {D: time.Second},
	}
	if h := r.Health; h != nil {
		out[forecast.Health] = forecast.Estimate{D: h.Interval}
	}
	return out
}

// input is the model's input for changes (the change set's), in the order
// and waves the engine runs them; order returns each instance's key.
func (fc *forecaster) input(changes []plan.Change, current bool) (forecast.Input, []string) {
	var mutating []*plan.Change
	for i := range changes {
		if changes[i].Action.Mutates() {
			mutating = append(mutating, &changes[i])
		}
	}
	ordered, sizes := fc.plan.WaveOrder(mutating)
	r := fc.plan.Rollout
	in := forecast.Input{Concurrency: r.Concurrency, Poll: fc.poll, Providers: map[string]forecast.Provider{},
		Hooks: r.Hooks.Before != nil || r.Hooks.After != nil}
	if in.Concurrency <= 0 {
		in.Concurrency = plan.DefaultConcurrency
	}
	if h := r.Health; h != nil {
		in.Health, in.Warmup = true, h.Warmup
	}
	for name, p := range fc.base {
		if current {
			p.Durations = forecast.Merge(p.Durations, nil, fc.rec.Current(fc.keys[name]))
		}
		in.Providers[name] = p
	}
	keys := make([]string, len(ordered))
	for i, c := range ordered {
		in.Instances = append(in.Instances, forecast.Instance{Provider: c.Instance.Provider, Running: c.StopFirst, Reinstall: c.Action == plan.ActionReinstall})
		keys[i] = plan.Key(c.Instance.Provider, c.Instance.ID)
	}
	for i, n := range sizes {
		var pause time.Duration
		if len(r.Waves) > 0 {
			pause = r.Waves[min(i, len(r.Waves)-1)].Pause
		}
		in.Waves = append(in.Waves, forecast.Wave{Size: n, Pause: pause})
	}
	return in, keys
}

// rolloutForecast is a forecast with what it was made from.
type rolloutForecast struct {
	forecast.Result
	// Sources: per provider name (sorted), where its durations come from.
	Sources []durationSource
}

// durationSource says where one provider's step durations come from.
type durationSource struct {
	Provider, Region string
	// Steps: the estimates of the steps this rollout needs.
	Steps map[forecast.Step]forecast.Estimate
}

// forecast forecasts the changes with the durations of earlier runs.
func (fc *forecaster) forecast(changes []plan.Change) *rolloutForecast {
	in, _ := fc.input(changes, false)
	if len(in.Instances) == 0 {
		return nil
	}
	return fc.explain(in, forecast.Forecast(in))
}

// explain adds to res the sources of the durations the rollout in needs.
func (fc *forecaster) explain(in forecast.Input, res forecast.Result) *rolloutForecast {
	used := map[string]map[forecast.Step]bool{}
	for _, i := range in.Instances {
		if used[i.Provider] == nil {
			used[i.Provider] = map[forecast.Step]bool{forecast.Call: true}
		}
		p := in.Providers[i.Provider]
		switch {
		case i.Running && p.ChangeStopsRunning:
			used[i.Provider][forecast.ChangeRunning] = true
		case i.Running:
			used[i.Provider][forecast.Stop], used[i.Provider][forecast.Change] = true, true
		default:
			used[i.Provider][forecast.Change] = true
		}
		if in.Health {
			used[i.Provider][forecast.Health] = true
		}
		if in.Hooks {
			used[i.Provider][forecast.Hooks] = true
		}
	}
	out := &rolloutForecast{Result: res}
	for name, steps := range used {
		src := durationSource{Provider: name, Region: fc.keys[name], Steps: map[forecast.Step]forecast.Estimate{}}
		for s := range steps {
			src.Steps[s] = in.Providers[name].Durations[s]
		}
		out.Sources = append(out.Sources, src)
	}
	sort.Slice(out.Sources, func(i, j int) bool { return out.Sources[i].Provider < out.Sources[j].Provider })
	return out
}

// save adds what this run observed to the durations file. A failure is a
// warning: the forecast is advice, never a reason for a run to fail.
func (fc *forecaster) save(logger *slog.Logger) {
	if fc.rec.Empty() {
		return
	}
	fc.rec.AddTo(fc.store, time.Now())
	if err := fc.store.Write(fc.path); err != nil {
		logger.Warn(err.Error() + "; the next forecast will not know this run's step durations")
	}
}

// fmtDuration renders a forecast's duration: whole seconds from a minute
// up, tenths from a second, milliseconds below.
func fmtDuration(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// forecastWaves is the most waves the text forecast lists one by one.
const forecastWaves = 6

// renderForecast prints the forecast's lines of the plan summary: the total
// with the waves (and pauses), then where the step durations come from.
func renderForecast(fc *rolloutForecast) string {
	if fc == nil {
		return ""
	}
	var parts []string
	for i, w := range fc.Waves {
		if i == forecastWaves && len(fc.Waves) > forecastWaves+1 {
			rest := fc.Total - w.Start
			parts = append(parts, fmt.Sprintf("%d more waves in %s", len(fc.Waves)-i, fmtDuration(rest)))
			break
		}
		parts = append(parts, fmtDuration(w.Duration))
		if w.Pause > 0 {
			parts = append(parts, "pause "+fmtDuration(w.Pause))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Forecast: %s (by wave: %s)\n", fmtDuration(fc.Total), strings.Join(parts, ", "))
	var srcs []string
	for _, s := range fc.Sources {
		srcs = append(srcs, fmt.Sprintf("%s %s", s.Provider, describeSteps(s.Steps)))
	}
	fmt.Fprintf(&b, "Step durations: %s\n", strings.Join(srcs, "; "))
	return b.String()
}

// describeSteps renders a provider's step estimates and where they come
// from: "change 4m0s, call 300ms (defaults)"; when some were
// observed and some not, the defaults are marked with a *.
func describeSteps(steps map[forecast.Step]forecast.Estimate) string {
	observed, defaults, runs := 0, 0, 0
	for _, e := range steps {
		if e.Observed() {
			observed++
			runs = max(runs, e.Runs)
		} else {
			defaults++
		}
	}
	var parts []string
	for _, s := range forecast.Steps {
		e, ok := steps[s]
		if !ok {
			continue
		}
		tag := ""
		if !e.Observed() && observed > 0 {
			tag = "*"
		}
		parts = append(parts, fmt.Sprintf("%s %s%s", s, fmtDuration(e.D), tag))
	}
	from := "defaults"
	if observed > 0 {
		from = "observed by " + plural(runs, "earlier run")
		if defaults > 0 {
			from += "; * defaults"
		}
	}
	return strings.Join(parts, ", ") + " (" + from + ")"
}

// forecastJSON is plan -json's forecast object.
type forecastJSON struct {
	TotalSeconds float64              `json:"total_seconds"`
	Waves        []forecastWaveJSON   `json:"waves"`
	Durations    []forecastSourceJSON `json:"durations"`
}

type forecastWaveJSON struct {
	Size            int     `json:"size"`
	StartSeconds    float64 `json:"start_seconds"`
	DurationSeconds float64 `json:"duration_seconds"`
	PauseSeconds    float64 `json:"pause_seconds"`
}

// forecastSourceJSON is one step estimate of one provider.
type forecastSourceJSON struct {
	Provider string  `json:"provider"`
	Region   string  `json:"region"`
	Step     string  `json:"step"`
	Seconds  float64 `json:"seconds"`
	// Source is "observed" (Runs earlier runs) or "default".
	Source string `json:"source"`
	Runs   int    `json:"runs"`
}

func newForecastJSON(fc *rolloutForecast) *forecastJSON {
	if fc == nil {
		return nil
	}
	out := &forecastJSON{TotalSeconds: fc.Total.Seconds(), Waves: []forecastWaveJSON{}, Durations: []forecastSourceJSON{}}
	for _, w := range fc.Waves {
		out.Waves = append(out.Waves, forecastWaveJSON{Size: w.Size, StartSeconds: w.Start.Seconds(), DurationSeconds: w.Duration.Seconds(), PauseSeconds: w.Pause.Seconds()})
	}
	for _, s := range fc.Sources {
		for _, step := range forecast.Steps {
			e, ok := s.Steps[step]
			if !ok {
				continue
			}
			src := "default"
			if e.Observed() {
				src = "observed"
			}
			out.Durations = append(out.Durations, forecastSourceJSON{Provider: s.Provider, Region: s.Region, Step: string(step), Seconds: e.D.Seconds(), Source: src, Runs: e.Runs})
		}
	}
	return out
}

// etaModel is apply's ETA: the forecast's model on the work left, with the
// step durations this run has observed so far in place of the stored ones.
// The model is run again at most every second (longer for a rollout so large
// that one run of it costs more than a fiftieth of that), and counted down in
// between.
type etaModel struct {
	fc    *forecaster
	in    forecast.Input
	index map[string]int // instance key → index in in.Instances

	at    time.Time
	value time.Duration
	cost  time.Duration
}

// newETAModel returns the ETA model of a run of changes.
func (fc *forecaster) etaModel(changes []plan.Change) *etaModel {
	in, keys := fc.input(changes, false)
	m := &etaModel{fc: fc, in: in, index: make(map[string]int, len(keys))}
	for i, k := range keys {
		m.index[k] = i
	}
	return m
}

// runState is where a run stands, as runProgress knows it.
type runState struct {
	// wave: the wave under way, 1-based (0 before the first); pauseEnd: when
	// the pause after it ends (zero when not pausing).
	wave     int
	pauseEnd time.Time
	started  map[string]bool
	flying   map[string]*flight
}

// eta returns the time the rollout has left at now.
func (m *etaModel) eta(now time.Time, st runState) time.Duration {
	if !m.at.IsZero() && now.Sub(m.at) < max(time.Second, 50*m.cost) {
		return max(m.value-now.Sub(m.at), 0)
	}
	t0 := time.Now()
	in := m.in
	in.Providers = map[string]forecast.Provider{}
	for name, p := range m.in.Providers {
		p.Durations = forecast.Merge(p.Durations, nil, m.fc.rec.Current(m.fc.keys[name]))
		in.Providers[name] = p
	}
	p := forecast.Progress{Wave: max(st.wave-1, 0), Started: make([]bool, len(in.Instances))}
	for k := range st.started {
		if i, ok := m.index[k]; ok {
			p.Started[i] = true
		}
	}
	if !st.pauseEnd.IsZero() {
		p.Wave = st.wave // the next one, 0-based
		p.Pause = max(st.pauseEnd.Sub(now), 0)
	}
	for k, f := range st.flying {
		i, ok := m.index[k]
		if !ok {
			continue
		}
		inst := in.Instances[i]
		p.InFlight = append(p.InFlight, forecast.InFlight{Provider: inst.Provider, Left: max(in.Alone(inst)-now.Sub(f.since), 0)})
	}
	m.value = forecast.Forecast(in.Rest(p)).Total
	m.at, m.cost = now, time.Since(t0)
	return m.value
}

// stepDefaults are the fleet's default step times: a simulator's when the
// clouds are simulated, nil for the clouds' own (their drivers').
func (f *fleet) stepDefaults() func(providers.Capabilities) providers.StepDurations {
	switch {
	case f.simulator != nil:
		o := f.simulator.Options()
		return simDurations(o.StopDuration, o.RebuildDuration, o.StartDuration)
	case f.simulated:
		return simStepDurations
	}
	return nil
}

// forecaster returns the forecaster of p (a change set's plan) on the
// fleet's clients, with the durations kept in the state directory of
// journalPath.
func (f *fleet) forecaster(p *plan.Plan, journalPath string, logger *slog.Logger) *forecaster {
	fc := newForecaster(p, f.Providers, f.poll, filepath.Dir(journalPath), f.stepDefaults(), logger)
	fc.guessed = f.simulated && f.simulator == nil
	return fc
}

// waitSteps are the forecast's steps of the engine's waits.
var waitSteps = map[executor.Wait]forecast.Step{
	executor.WaitStop: forecast.Stop, executor.WaitChange: forecast.Change,
	executor.WaitChangeRunning: forecast.ChangeRunning, executor.WaitStart: forecast.Start,
}

// waitEstimate is the engine's first figure of a wait (executor.Options
// WaitEstimate) before the run has seen one end: what earlier runs observed
// in the region, else the cloud's (or the simulator's) default; 0 for a
// guess at a simulator reimage does not know.
func (fc *forecaster) waitEstimate(provider string, w executor.Wait) time.Duration {
	est := fc.base[provider].Durations[waitSteps[w]]
	if fc.guessed && !est.Observed() {
		return 0
	}
	return est.D
}

// waitEstimate is the review's forecaster's (0 before the review).
func (r *forecastRun) waitEstimate(provider string, w executor.Wait) time.Duration {
	if r.fcr == nil {
		return 0
	}
	return r.fcr.waitEstimate(provider, w)
}

// forecastRun is apply's forecast: made when the change set is reviewed,
// fed with the run's events (the durations it observes, the ETA), compared
// with the run in the summary (tally, shared with the views) and saved when
// the run ends, the lock still held.
type forecastRun struct {
	fleet       *fleet
	journalPath string
	logger      *slog.Logger
	metrics     *runMetrics
	prog        *runProgress
	tally       forecastTally

	fcr *forecaster // set at the review
}

// Observe implements executor.Observer: the recorder of step durations.
func (r *forecastRun) Observe(e executor.Event) {
	if r.fcr != nil {
		r.fcr.rec.Observe(e)
	}
}

// review forecasts cs for the review, the summary, the metric and the ETA.
func (r *forecastRun) review(cs plan.ChangeSet) *rolloutForecast {
	r.fcr = r.fleet.forecaster(cs.Plan, r.journalPath, r.logger)
	fc := r.fcr.forecast(cs.Changes)
	r.tally.forecast = fc.total()
	r.metrics.forecast(fc.total())
	r.prog.useModel(r.fcr.etaModel(cs.Changes))
	return fc
}

// finish keeps what the run observed (after an interrupt too).
func (r *forecastRun) finish() {
	if r.fcr != nil {
		r.fcr.save(r.logger)
	}
}

// total is the forecast's total; 0 without a forecast.
func (fc *rolloutForecast) total() time.Duration {
	if fc == nil {
		return 0
	}
	return fc.Total
}

// forecast exports the run's forecast as reimage_run_forecast_seconds (0:
// nothing to forecast), beside reimage_run_duration_seconds for a dashboard
// to compare.
func (m *runMetrics) forecast(d time.Duration) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "reimage", Name: "run_forecast_seconds",
		Help: "The rollout's forecast duration, from the first wave's start to the end, made before the run (plan's forecast)."})
	g.Set(d.Seconds())
	if err := prometheus.WrapRegistererWith(m.labels, m.reg).Register(g); err != nil {
		m.logger.Warn("metrics: " + err.Error())
	}
}

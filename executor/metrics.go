package executor

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Instance states of the reimage_instances gauge.
const (
	StatePending    = "pending"
	StateInProgress = "in_progress"
	StateDone       = "done"
	StateFailed     = "failed"
	StateSkipped    = "skipped"
)

// instanceStates lists every state, so that each is exported from the start:
// a dashboard or a Pushgateway group then never holds a state from an older run.
var instanceStates = []string{StatePending, StateInProgress, StateDone, StateFailed, StateSkipped}

// RunMetrics exports a run's progress and outcome (README.md, "Metrics, alerts and events"). It is
// an Observer: every value derives from the run's events, so the engine knows
// nothing of Prometheus. The plan name (and shard) are not labels here; the
// caller wraps the registerer with them, so that the API metrics carry them too.
//
// The outcome gauges (run duration, last run, last success, converged) are
// exported only once the run has ended: a periodic push to a Pushgateway with
// Add replaces every metric of the same name, so a zero exported mid-run would
// overwrite the previous run's last success.
type RunMetrics struct {
	mu sync.Mutex

	instances   *prometheus.GaugeVec
	changes     *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	wave        prometheus.Gauge
	waves       prometheus.Gauge
	broken      prometheus.Gauge
	inDoubt     prometheus.Gauge
	runStart    *lateGauge
	runDuration *lateGauge
	lastRun     *lateGauge
	lastSuccess *lateGauge
	converged   *lateGauge
}

// NewRunMetrics creates the run metrics and registers them on reg. providers
// are the plan's provider names: their series start at zero, so that rate()
// and a Pushgateway group see every provider and result from the first scrape.
func NewRunMetrics(reg prometheus.Registerer, providers ...string) *RunMetrics {
	m := &RunMetrics{
		instances: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "reimage", Name: "instances",
			Help: "Instances of the run by state: pending (not started), in_progress (in flight), done, failed, skipped (left alone: ok, protected or blocked).",
		}, []string{"state"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reimage", Name: "instance_changes_total",
			Help: "Instance changes (re-images) finished by this run, by provider and result (done, failed).",
		}, []string{"provider", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "reimage", Name: "instance_duration_seconds",
			Help: "Time a successful change took, from the instance's start (stop, re-image, start) to done.",
			// A re-image takes minutes; the buckets span a fast simulator to a slow cloud.
			Buckets: []float64{1, 5, 15, 30, 60, 120, 180, 300, 450, 600, 900, 1200, 1800, 3600},
		}, []string{"provider"}),
		wave: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "reimage", Name: "wave",
			Help: "The wave the run is in (1-based); 0 before the first.",
		}),
		waves: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "reimage", Name: "waves",
			Help: "The number of waves the run planned.",
		}),
		// Exported from the run's start (not 0 before): a dashboard's "running
		// for" is time() minus it, and a zero would read as 56 years.
		runStart: newLateGauge("reimage_run_start_timestamp_seconds", "When the current (or last) run started."),
		broken: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "reimage", Name: "instances_broken",
			Help: "Instances earlier runs left broken (error state, or stopped) and nobody acknowledged: they keep every run from converging.",
		}),
		inDoubt: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "reimage", Name: "instances_in_doubt",
			Help: "Instances blocked because a reinstall may or may not have happened, until reimage ack: they keep every run from converging.",
		}),
		runDuration: newLateGauge("reimage_run_duration_seconds", "Duration of the last run, set when it ends."),
		lastRun:     newLateGauge("reimage_last_run_timestamp_seconds", "When the last run ended, whatever its outcome."),
		lastSuccess: newLateGauge("reimage_last_success_timestamp_seconds", "When the last run that converged ended; never set by a run that did not."),
		converged:   newLateGauge("reimage_last_run_converged", "1 if the last run converged (everything done), 0 if it failed, halted or was interrupted."),
	}
	for _, s := range instanceStates {
		m.instances.WithLabelValues(s)
	}
	for _, p := range providers {
		m.changes.WithLabelValues(p, StateDone)
		m.changes.WithLabelValues(p, StateFailed)
		m.duration.WithLabelValues(p)
	}
	if reg != nil {
		reg.MustRegister(m.instances, m.changes, m.duration, m.wave, m.waves, m.broken, m.inDoubt,
			m.runStart, m.runDuration, m.lastRun, m.lastSuccess, m.converged)
	}
	return m
}

// Observe implements Observer.
func (m *RunMetrics) Observe(e Event) {
	// One lock keeps the state gauges consistent with each other (an instance
	// is never counted in two states by a concurrent scrape's reads of them).
	m.mu.Lock()
	defer m.mu.Unlock()
	switch e.Type {
	case EventRunStart:
		s := e.Summary
		m.instances.WithLabelValues(StatePending).Set(float64(s.Total))
		m.instances.WithLabelValues(StateInProgress).Set(0)
		m.instances.WithLabelValues(StateDone).Set(0)
		m.instances.WithLabelValues(StateFailed).Set(0)
		m.instances.WithLabelValues(StateSkipped).Set(float64(s.Skipped))
		m.waves.Set(float64(e.Waves))
		m.wave.Set(0)
		m.broken.Set(float64(s.Broken))
		m.inDoubt.Set(float64(s.InDoubt))
		if !e.Time.IsZero() {
			m.runStart.set(float64(e.Time.UnixNano()) / 1e9)
		}
	case EventWaveStart:
		m.wave.Set(float64(e.Wave))
	case EventInstanceStart:
		m.instances.WithLabelValues(StatePending).Dec()
		m.instances.WithLabelValues(StateInProgress).Inc()
	case EventInstanceDone:
		m.instances.WithLabelValues(StateInProgress).Dec()
		m.instances.WithLabelValues(StateDone).Inc()
		p := provider(e)
		m.changes.WithLabelValues(p, StateDone).Inc()
		m.duration.WithLabelValues(p).Observe(e.Elapsed.Seconds())
	case EventInstanceFail:
		m.instances.WithLabelValues(StateInProgress).Dec()
		m.instances.WithLabelValues(StateFailed).Inc()
		m.changes.WithLabelValues(provider(e), StateFailed).Inc()
	case EventInstanceInterrupted:
		m.instances.WithLabelValues(StateInProgress).Dec()
		m.instances.WithLabelValues(StatePending).Inc()
	case EventInstanceSkipped:
		m.instances.WithLabelValues(StateInProgress).Dec()
		m.instances.WithLabelValues(StateSkipped).Inc()
	case EventRunEnd:
		// The summary is the engine's own count: it wins over the running
		// tally (which the events of an interrupted instance could skew).
		s := e.Summary
		m.instances.WithLabelValues(StatePending).Set(float64(s.Pending + s.Interrupted))
		m.instances.WithLabelValues(StateInProgress).Set(0)
		m.instances.WithLabelValues(StateDone).Set(float64(s.Done))
		m.instances.WithLabelValues(StateFailed).Set(float64(s.Failed))
		m.instances.WithLabelValues(StateSkipped).Set(float64(s.Skipped))
		m.runDuration.set(e.Elapsed.Seconds())
		m.finish(e.Time, s.Converged())
	}
}

// Aborted records a run that ended in an error before or outside the engine
// (the lock was held, a look-up failed, the journal could not be written): it
// counts as a run that did not converge, so that alerts on failed runs see it.
func (m *RunMetrics) Aborted(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.finish(t, false)
}

func (m *RunMetrics) finish(t time.Time, converged bool) {
	ts := float64(t.UnixNano()) / 1e9
	m.lastRun.set(ts)
	if converged {
		m.lastSuccess.set(ts)
		m.converged.set(1)
	} else {
		m.converged.set(0)
	}
}

// provider is the plan's provider name of an instance event.
func provider(e Event) string {
	if e.Change == nil || e.Change.Instance == nil {
		return ""
	}
	return e.Change.Instance.Provider
}

// lateGauge is a gauge without labels that is exported only once set.
type lateGauge struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	v    float64
	ok   bool
}

func newLateGauge(name, help string) *lateGauge {
	return &lateGauge{desc: prometheus.NewDesc(name, help, nil, nil)}
}

func (g *lateGauge) set(v float64) {
	g.mu.Lock()
	g.v, g.ok = v, true
	g.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (g *lateGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect implements prometheus.Collector.
func (g *lateGauge) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	v, ok := g.v, g.ok
	g.mu.Unlock()
	if ok {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v)
	}
}

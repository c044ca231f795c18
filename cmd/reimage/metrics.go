package main

import (
	"flag"
	"log/slog"
	"os"
	"sort"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/metricsout"
)

// Environment variables with the Pushgateway's basic auth credentials: never
// a flag, so that they stay out of process listings and crontabs.
const (
	envPushUser     = "REIMAGE_PUSHGATEWAY_USERNAME"
	envPushPassword = "REIMAGE_PUSHGATEWAY_PASSWORD"
)

// metricsFlags are apply's flags for the three ways metrics go out.
type metricsFlags struct {
	listen       string
	linger       time.Duration
	pushgateway  string
	pushInterval time.Duration
	textfile     string
}

func (m *metricsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.listen, "metrics-listen", "", "serve Prometheus metrics at http://`ADDR`/metrics while the run lasts, e.g. :9400")
	fs.DurationVar(&m.linger, "metrics-linger", 10*time.Second, "with -metrics-listen, keep serving this long after the run so a scrape catches the final values (a signal cuts it short)")
	fs.StringVar(&m.pushgateway, "pushgateway", "", "push metrics to the Prometheus Pushgateway at `URL` at the end (and every -push-interval), grouped by job=reimage, plan (and shard); basic auth from "+envPushUser+" and "+envPushPassword)
	fs.DurationVar(&m.pushInterval, "push-interval", metricsout.DefaultPushInterval, "with -pushgateway or -metrics-textfile, how often to push or rewrite the file while the run lasts (0: only at the end)")
	fs.StringVar(&m.textfile, "metrics-textfile", "", "write metrics atomically to `PATH` for node_exporter's textfile collector (name it *.prom), every -push-interval and at the end")
}

// runMetrics is a run's registry and the outputs that read it.
type runMetrics struct {
	flags  metricsFlags
	reg    *prometheus.Registry
	run    *executor.RunMetrics
	gates  *executor.GateMetrics
	labels prometheus.Labels
	logger *slog.Logger
	ended  atomic.Bool // the run reported its end (run_end)

	server   *metricsout.Server
	pusher   *metricsout.Pusher
	textfile *metricsout.TextfileWriter
}

// lastSuccessMetric is carried over in the textfile from the run before when
// a run does not export it (it did not converge).
const lastSuccessMetric = "reimage_last_success_timestamp_seconds"

// outcomeMetrics are exported only once a run ends; mid-run rewrites of the
// textfile carry the previous run's values, as the Pushgateway's Add does.
var outcomeMetrics = []string{lastSuccessMetric, "reimage_last_run_timestamp_seconds", "reimage_last_run_converged", "reimage_run_duration_seconds"}

// newRunMetrics registers the run metrics on reg (which openFleet has given
// the API metrics), labelled with the plan (and shard) like the API metrics.
func newRunMetrics(mf metricsFlags, reg *prometheus.Registry, f *fleet, logger *slog.Logger) *runMetrics {
	labels := metricsout.PlanLabels(f.Plan.Name, f.Shard.String())
	wrapped := prometheus.WrapRegistererWith(labels, reg)
	names := make([]string, 0, len(f.Plan.Providers))
	for name := range f.Plan.Providers {
		names = append(names, name)
	}
	sort.Strings(names)
	m := &runMetrics{flags: mf, reg: reg, labels: labels, logger: logger, run: executor.NewRunMetrics(wrapped, names...)}
	m.gates = executor.NewGateMetrics(wrapped)
	metricsout.NewInfo(wrapped, versionString())
	return m
}

// Observe implements executor.Observer.
func (m *runMetrics) Observe(e executor.Event) {
	m.run.Observe(e)
	m.gates.Observe(e)
	if e.Type == executor.EventRunEnd {
		m.ended.Store(true)
	}
}

// start opens the outputs that work while the run lasts. A port that cannot be
// bound is logged, not fatal: the metrics are a view of the run, never a
// reason to skip or fail it.
func (m *runMetrics) start() {
	if m.flags.listen != "" {
		s, err := metricsout.Listen(m.flags.listen, m.reg, m.logger)
		if err != nil {
			m.logger.Error("cannot serve metrics; the run goes on without", "addr", m.flags.listen, "err", err)
		} else {
			m.server = s
			m.logger.Info("serving metrics", "url", "http://"+s.Addr()+"/metrics")
		}
	}
	if m.flags.pushgateway != "" {
		m.pusher = metricsout.NewPusher(metricsout.PushConfig{
			URL: m.flags.pushgateway, Grouping: m.labels,
			Username: os.Getenv(envPushUser), Password: os.Getenv(envPushPassword),
		}, m.reg, m.logger)
		m.pusher.Start(m.flags.pushInterval)
	}
	if m.flags.textfile != "" {
		m.textfile = metricsout.StartTextfile(m.flags.textfile, m.reg, m.flags.pushInterval, m.logger, outcomeMetrics...)
	}
}

// finish records a run that ended in an error outside the engine as one that
// did not converge, then pushes and writes the final values. Failures are
// logged and change nothing of the run's result.
func (m *runMetrics) finish(runErr error) {
	if runErr != nil && !m.ended.Load() {
		m.run.Aborted(time.Now())
	}
	if m.pusher != nil {
		m.pusher.Stop()
	}
	if m.textfile != nil {
		m.textfile.Stop()
	}
	if m.flags.textfile != "" {
		if err := metricsout.WriteTextfile(m.flags.textfile, m.reg, lastSuccessMetric); err != nil {
			m.logger.Error("cannot write the metrics textfile", "path", m.flags.textfile, "err", err)
		}
	}
}

// close stops serving /metrics after the linger (cut short when stop closes).
func (m *runMetrics) close(stop <-chan struct{}) {
	if m.server != nil {
		m.server.Close(m.flags.linger, stop)
	}
}

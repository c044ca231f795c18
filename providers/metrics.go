package providers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// APIMetrics counts the API calls of every provider of a run. One value serves
// all providers; each series carries the provider's plan name. A nil
// *APIMetrics records nothing, so clients need no checks.
type APIMetrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	retries     *prometheus.CounterVec
	limiterWait *prometheus.CounterVec
}

// NewAPIMetrics creates the API metrics and registers them on reg (nil: not
// registered, which tests use). constLabels carries the plan name (and shard).
func NewAPIMetrics(reg prometheus.Registerer, constLabels prometheus.Labels) *APIMetrics {
	m := &APIMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reimage", Subsystem: "api", Name: "requests_total",
			Help:        "API requests sent to the clouds, by provider, operation and HTTP status (or network, timeout).",
			ConstLabels: constLabels,
		}, []string{"provider", "operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "reimage", Subsystem: "api", Name: "request_duration_seconds",
			Help:        "Latency of one API request (one attempt), from sending to the end of the answer.",
			ConstLabels: constLabels,
			Buckets:     []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"provider", "operation"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reimage", Subsystem: "api", Name: "retries_total",
			Help:        "API requests sent again, by reason: throttled, server_error, network, timeout, rejected.",
			ConstLabels: constLabels,
		}, []string{"provider", "reason"}),
		limiterWait: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reimage", Name: "rate_limit_wait_seconds_total",
			Help:        "Time API requests spent waiting for the provider's rate limiter.",
			ConstLabels: constLabels,
		}, []string{"provider"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.retries, m.limiterWait)
	}
	return m
}

// RetryReasons are the values of reimage_api_retries_total's reason label:
// every reason the caller can retry for.
var RetryReasons = []string{"throttled", "server_error", "network", "timeout", "rejected"}

// InitProvider exports provider's retry and rate-limiter series at zero from
// the start, so that a run without retries shows 0 rather than no data, and
// rate() sees the first retry as an increase from 0. Request series carry the
// answer's code and operation, which are not known in advance.
func (m *APIMetrics) InitProvider(provider string) {
	if m == nil {
		return
	}
	for _, r := range RetryReasons {
		m.retries.WithLabelValues(provider, r)
	}
	m.limiterWait.WithLabelValues(provider)
}

// ObserveRequest counts one attempt of an API call by its answer's code
// (an HTTP status, "network" or "timeout") and records how long it took.
func (m *APIMetrics) ObserveRequest(provider, op, code string, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(provider, op, code).Inc()
	m.duration.WithLabelValues(provider, op).Observe(d.Seconds())
}

// ObserveRetry counts a call sent again, by reason (one of RetryReasons).
func (m *APIMetrics) ObserveRetry(provider, reason string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(provider, reason).Inc()
}

// ObserveWait adds the time an attempt waited for the provider's rate limiter.
func (m *APIMetrics) ObserveWait(provider string, d time.Duration) {
	if m == nil {
		return
	}
	m.limiterWait.WithLabelValues(provider).Add(d.Seconds())
}

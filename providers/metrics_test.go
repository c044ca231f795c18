package providers

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Every outcome the caller retries has its reason among RetryReasons, the
// series exported at zero: a reason missing there would appear only on its
// first retry, and a dashboard would show "No data" until then.
func TestRetryReasonsCoverEveryRetriedOutcome(t *testing.T) {
	for o := outcomeThrottled; o <= outcomeTimeout; o++ {
		if r := o.reason(); !slices.Contains(RetryReasons, r) {
			t.Errorf("outcome %d retries with reason %q, missing from RetryReasons %v", o, r, RetryReasons)
		}
	}
}

// A caller's retry and rate-limiter series exist at zero before any call.
func TestCallerExportsZeroRetrySeriesBeforeAnyCall(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewAPIMetrics(reg, prometheus.Labels{"plan": "fleet"})
	NewCaller(Config{Name: "kec", Metrics: m}, testDialect)
	NewCaller(Config{Name: "ecs", Metrics: m}, testDialect)

	if n := testutil.CollectAndCount(m.retries); n != 2*len(RetryReasons) {
		t.Errorf("%d retry series, want %d (every reason of both providers)", n, 2*len(RetryReasons))
	}
	want := `
# HELP reimage_rate_limit_wait_seconds_total Time API requests spent waiting for the provider's rate limiter.
# TYPE reimage_rate_limit_wait_seconds_total counter
reimage_rate_limit_wait_seconds_total{plan="fleet",provider="ecs"} 0
reimage_rate_limit_wait_seconds_total{plan="fleet",provider="kec"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "reimage_rate_limit_wait_seconds_total"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(m.retries.WithLabelValues("ecs", "throttled")); got != 0 {
		t.Errorf("throttled retries of ecs = %v, want 0", got)
	}
}

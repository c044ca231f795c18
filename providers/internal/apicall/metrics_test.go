package apicall

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reimage-dev/reimage/providers"
)

// newTestMetrics returns API metrics registered on a registry of their own,
// which the tests read back through counter.
func newTestMetrics() (*providers.APIMetrics, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	return providers.NewAPIMetrics(reg, nil), reg
}

// counter is the value of the series of metric name whose labels include the
// given name/value pairs; the test fails when there is no such series.
func counter(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

// Every outcome the caller retries has its reason among RetryReasons, the
// series exported at zero: a reason missing there would appear only on its
// first retry, and a dashboard would show "No data" until then.
func TestRetryReasonsCoverEveryRetriedOutcome(t *testing.T) {
	for o := outcomeThrottled; o <= outcomeTimeout; o++ {
		if r := o.reason(); !slices.Contains(providers.RetryReasons, r) {
			t.Errorf("outcome %d retries with reason %q, missing from RetryReasons %v", o, r, providers.RetryReasons)
		}
	}
}

// A caller's retry and rate-limiter series exist at zero before any call.
func TestCallerExportsZeroRetrySeriesBeforeAnyCall(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := providers.NewAPIMetrics(reg, prometheus.Labels{"plan": "fleet"})
	NewCaller(providers.Config{Name: "kec", Metrics: m}, testDialect)
	NewCaller(providers.Config{Name: "ecs", Metrics: m}, testDialect)

	if n, err := testutil.GatherAndCount(reg, "reimage_api_retries_total"); err != nil || n != 2*len(providers.RetryReasons) {
		t.Errorf("%d retry series (%v), want %d (every reason of both providers)", n, err, 2*len(providers.RetryReasons))
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
	if got := counter(t, reg, "reimage_api_retries_total", "provider", "ecs", "reason", "throttled"); got != 0 {
		t.Errorf("throttled retries of ecs = %v, want 0", got)
	}
}

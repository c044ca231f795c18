package providers

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsExposition(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewAPIMetrics(reg, prometheus.Labels{"plan": "web-fleet"})
	m.ObserveRequest("kec-bj", "DescribeInstances", "200", 30*time.Millisecond)
	m.ObserveRetry("kec-bj", "throttled")
	m.ObserveWait("kec-bj", 1500*time.Millisecond)
	want := `
# HELP reimage_api_requests_total API requests sent to the clouds, by provider, operation and HTTP status (or network, timeout).
# TYPE reimage_api_requests_total counter
reimage_api_requests_total{code="200",operation="DescribeInstances",plan="web-fleet",provider="kec-bj"} 1
# HELP reimage_api_retries_total API requests sent again, by reason: throttled, server_error, network, timeout, rejected.
# TYPE reimage_api_retries_total counter
reimage_api_retries_total{plan="web-fleet",provider="kec-bj",reason="throttled"} 1
# HELP reimage_rate_limit_wait_seconds_total Time API requests spent waiting for the provider's rate limiter.
# TYPE reimage_rate_limit_wait_seconds_total counter
reimage_rate_limit_wait_seconds_total{plan="web-fleet",provider="kec-bj"} 1.5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "reimage_api_requests_total", "reimage_api_retries_total", "reimage_rate_limit_wait_seconds_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.duration); n != 1 {
		t.Errorf("%d duration series, want 1", n)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	var nilMetrics *APIMetrics
	nilMetrics.ObserveRequest("p", "op", "200", time.Second) // a nil *APIMetrics records nothing, without panicking
}

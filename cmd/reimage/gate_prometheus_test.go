package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/metricsout/prometheustest"
)

// gatePromScrape is the scrape interval of the test's Prometheus: short, so
// that a flipped gauge shows within a second.
const gatePromScrape = 200 * time.Millisecond

// TestGateAgainstRealPrometheus runs apply -sim with a gate on a real
// Prometheus (Debian's package prometheus, started here on loopback with its
// storage in a temporary directory) that scrapes a target this test controls:
// a gauge of firing alerts. Firing, the gate halts the rollout before wave 2
// (exit 3) and says what the query returned; quiet, the run goes on and
// converges. In CI (CI set) a missing prometheus fails the test.
func TestGateAgainstRealPrometheus(t *testing.T) {
	bin := lookPrometheusServer(t)
	var firing atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# HELP test_alerts_firing Critical alerts firing.\n# TYPE test_alerts_firing gauge\ntest_alerts_firing{severity=\"critical\"} %d\n", firing.Load())
	}))
	defer target.Close()
	prom := prometheustest.Start(t, bin, gatePromScrape, "target", strings.TrimPrefix(target.URL, "http://"))

	const query = `test_alerts_firing{severity="critical"} > 0`
	dir := t.TempDir()
	planPath := filepath.Join(dir, "fleet.yaml")
	plan := fmt.Sprintf(`version: 1
name: gated
providers:
  kec:
    type: ksyun
    region: cn-beijing-6
defaults:
  image: 8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2
  login: {keyIds: [552a0523-b9b4-4868-b8d9-52ad7a38bf89]}
rollout:
  waves: [1, "100%%"]
  gates:
    - prometheus: {url: %q, query: %q, expect: empty}
instances:
  - {id: 98284100-f6d1-4bbf-886a-1b07650247a1, name: web-1}
  - {id: 98284100-f6d1-4bbf-886a-1b07650247a2, name: web-2}
  - {id: 98284100-f6d1-4bbf-886a-1b07650247a3, name: web-3}
`, prom, query)
	if err := os.WriteFile(planPath, []byte(plan), 0o600); err != nil {
		t.Fatal(err)
	}
	apply := func() (int, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"apply", planPath, "-sim", "-auto-approve", "-poll-interval", "50ms", "-sim-pause", "0"},
			Stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
		return code, out.String() + errb.String()
	}

	firing.Store(1)
	waitForPromSamples(t, prom, query, 1)
	code, out := apply()
	if code != ExitNotConverged {
		t.Fatalf("firing: exit %d, want %d\n%s", code, ExitNotConverged, out)
	}
	wantHalt := fmt.Sprintf("HALTED after wave 1/2: gate %q at %s expects empty, got 1 sample: test_alerts_firing{instance=%q,job=\"target\",severity=\"critical\"} 1: wave 2 does not start",
		query, prom, strings.TrimPrefix(target.URL, "http://"))
	for _, want := range []string{"wave 1/2: 1 instance", "checking the gates before wave 2/2", wantHalt,
		"Apply halted: 1 changed, 0 failed, 2 not started", "all: halted by a gate before wave 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("firing: output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "wave 2/2: ") {
		t.Errorf("firing: wave 2 started:\n%s", out)
	}

	firing.Store(0)
	waitForPromSamples(t, prom, query, 0)
	code, out = apply()
	if code != 0 {
		t.Fatalf("quiet: exit %d, want 0\n%s", code, out)
	}
	for _, want := range []string{"checking the gates before wave 2/2", "wave 2/2: 2 instances", "Apply complete: 3 changed, 0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("quiet: output lacks %q:\n%s", want, out)
		}
	}
}

// lookPrometheusServer finds the Prometheus server binary; CI must have it.
func lookPrometheusServer(t *testing.T) string {
	t.Helper()
	for _, b := range []string{"/usr/bin/prometheus", "prometheus"} {
		if p, err := exec.LookPath(b); err == nil {
			return p
		}
	}
	msg := "no Prometheus server (apt-get install prometheus)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI must run this test")
	}
	t.Skip(msg)
	return ""
}

// waitForPromSamples waits (at most 30 s) until query returns n samples: the
// scrape has caught up with the gauge.
func waitForPromSamples(t *testing.T, base, query string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/api/v1/query?" + url.Values{"query": {query}}.Encode())
		if err == nil {
			var body struct {
				Data struct {
					Result []json.RawMessage `json:"result"`
				} `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if err == nil && len(body.Data.Result) == n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus did not return %d samples for %s within 30s (%v)", n, query, err)
		}
		time.Sleep(gatePromScrape)
	}
}

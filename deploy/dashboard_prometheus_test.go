package deploy

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/metricsout/prometheustest"
	_ "github.com/reimage-dev/reimage/providers/drivers" // the simulator's front-ends
	"github.com/reimage-dev/reimage/providers/sim"
)

// prometheusBinaries are where Debian's package prometheus (which .ci/run
// installs) and an upstream tarball put the server.
var prometheusBinaries = []string{"/usr/bin/prometheus", "prometheus"}

// scrapeInterval of the test's Prometheus; rateInterval stands for Grafana's
// $__rate_interval (four scrape intervals, Grafana's own floor).
const (
	scrapeInterval = 500 * time.Millisecond
	rateInterval   = "2s"
)

// TestDashboardQueriesOnRealPrometheus runs applies on the simulator (throttling
// and failing some requests, so that retries and 429s exist) with
// -metrics-listen, has a real Prometheus scrape them, and runs every query of
// the dashboard against that Prometheus: each must parse and return data. The
// first apply has a gate on that Prometheus that halts it before its third
// wave (reimage_run_gate_halted 1), the second converges the rest (0 again).
func TestDashboardQueriesOnRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Prometheus and a rollout on the simulator (about 15s)")
	}
	promBin := lookPrometheus(t)
	bin := release(t)

	// The fleet on the simulator: slower than the plan's rate, so that the
	// client is throttled, and with 5 % server errors, so that it retries.
	s := sim.New(sim.Options{Seed: 7, StopDuration: 300 * time.Millisecond, RebuildDuration: time.Second,
		StartDuration: 300 * time.Millisecond, Jitter: 0.2, ServerErrorRate: 0.05,
		RateLimit: map[string]float64{"ksyun": 4, "huaweicloud": 4}})
	const kecOld, kecNew = "2d3e0c5a-0a3d-4c49-8d2b-0f43b2e1a001", "8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2"
	const ecsOld, ecsNew = "1c0f8d9e-2b3a-4c5d-9e8f-7a6b5c4d3e01", "e215580f-73ad-429d-b6f2-5433947433b0"
	const ecsPrj = "0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e"
	s.AddImage("ksyun", kecNew)
	s.AddImage("huaweicloud", ecsNew)
	// The plan's key pairs exist (pre-flight blocks an instance whose key pair does not).
	if err := s.AddKeyPair(sim.KeyPair{Provider: "ksyun", ID: "552a0523-b9b4-4868-b8d9-52ad7a38bf89", Name: "ops"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddKeyPair(sim.KeyPair{Provider: "huaweicloud", Name: "KeyPair-350b"}); err != nil {
		t.Fatal(err)
	}
	var instances strings.Builder
	for i := range 12 {
		kec := fmt.Sprintf("98284100-f6d1-4bbf-886a-%012x", i)
		ecs := fmt.Sprintf("e0a4c9d2-7b1f-4e35-9a6c-%012x", i)
		if err := s.AddInstance(sim.Instance{Provider: "ksyun", ID: kec, Name: fmt.Sprintf("kec-%d", i), Image: kecOld, State: "running"}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddInstance(sim.Instance{Provider: "huaweicloud", ID: ecs, Name: fmt.Sprintf("ecs-%d", i), Image: ecsOld, State: "running", ProjectID: ecsPrj}); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&instances, "  - {id: %s}\n  - {id: %s, provider: ecs, image: %s, login: {keyName: KeyPair-350b}}\n", kec, ecs, ecsNew)
	}
	simURL, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	dir := t.TempDir()
	planPath := filepath.Join(dir, "fleet.yaml")
	plan := fmt.Sprintf(`version: 1
name: fleet
providers:
  kec: {type: ksyun, region: cn-beijing-6, limits: {requestsPerSecond: 10}}
  ecs: {type: huaweicloud, region: cn-north-4, projectId: %s, limits: {requestsPerSecond: 10}}
defaults:
  provider: kec
  image: %s
  login: {keyIds: [552a0523-b9b4-4868-b8d9-52ad7a38bf89]}
rollout:
  concurrency: 8
  waves: [1, 12, "100%%%%"]
%%s
instances:
%s`, ecsPrj, kecNew, instances.String())

	metricsAddr := freeLoopbackAddr(t)
	promURL := prometheustest.Start(t, promBin, scrapeInterval, "reimage", metricsAddr)

	// The gate (before waves 2 and 3) expects no sample of wave 2 or later in
	// the run's own metrics: it passes before wave 2 and halts before wave 3,
	// since wave 2 (12 instances at concurrency 8, each a stop, a 1s rebuild and
	// a start) lasts many scrape intervals.
	gate := fmt.Sprintf(`  gates:
    - prometheus: {url: %q, query: 'reimage_wave{plan="fleet"} >= 2', expect: empty}`, promURL)
	apply := func(rollout string, wantExit int) {
		t.Helper()
		if err := os.WriteFile(planPath, []byte(fmt.Sprintf(plan, rollout)), 0o600); err != nil {
			t.Fatal(err)
		}
		o := s.Options()
		cmd := exec.Command(bin, "apply", "-sim-url", simURL, "-poll-interval", "100ms", "-auto-approve",
			"-progress", "never", "-state", filepath.Join(dir, "state"),
			"-metrics-listen", metricsAddr, "-metrics-linger", "3s", planPath)
		cmd.Env = append(os.Environ(),
			"KSYUN_ACCESS_KEY="+o.Keys["ksyun"].AccessKey, "KSYUN_SECRET_KEY="+o.Keys["ksyun"].SecretKey,
			"HUAWEICLOUD_SDK_AK="+o.Keys["huaweicloud"].AccessKey, "HUAWEICLOUD_SDK_SK="+o.Keys["huaweicloud"].SecretKey)
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != wantExit {
			t.Fatalf("reimage apply: %v, want exit %d\n%s", err, wantExit, out)
		}
	}
	start := time.Now()
	apply(gate, 3)
	apply("", 0)
	end := time.Now()
	if st := s.Stats(); st.Throttled == 0 {
		t.Fatalf("the simulator throttled nothing (%+v): the 429 query would have nothing to show", st)
	}

	// The plan variable's query (a Grafana function, not PromQL) lists the plan.
	var plans []string
	promGet(t, promURL, "/api/v1/label/plan/values", url.Values{"match[]": {"reimage_instances"}}, &plans)
	if len(plans) != 1 || plans[0] != "fleet" {
		t.Errorf("label_values(reimage_instances, plan) = %v, want [fleet]", plans)
	}

	data, err := os.ReadFile("grafana/reimage.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	// The gate metric shows the halted run, then the converged one.
	var halted struct {
		Result []struct {
			Values [][2]any `json:"values"`
		} `json:"result"`
	}
	promGet(t, promURL, "/api/v1/query_range", url.Values{
		"query": {`max(reimage_run_gate_halted{plan="fleet"})`},
		"start": {strconv.FormatInt(start.Add(-time.Second).Unix(), 10)},
		"end":   {strconv.FormatInt(end.Add(2*time.Second).Unix(), 10)},
		"step":  {"1"},
	}, &halted)
	var seen []string
	if len(halted.Result) == 1 {
		for _, v := range halted.Result[0].Values {
			if f := v[1].(string); len(seen) == 0 || seen[len(seen)-1] != f {
				seen = append(seen, f)
			}
		}
	}
	if strings.Join(seen, " ") != "1 0" {
		t.Errorf("reimage_run_gate_halted over both runs: %v, want 1 (the gate halted the first) then 0", seen)
	}

	var exprs []string
	collect(dash, map[string]bool{"expr": true}, &exprs)
	if len(exprs) < 10 {
		t.Fatalf("only %d panel queries", len(exprs))
	}
	for _, e := range exprs {
		q := strings.NewReplacer(`$plan`, "fleet", `$__rate_interval`, rateInterval).Replace(e)
		var res struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		}
		promGet(t, promURL, "/api/v1/query_range", url.Values{
			"query": {q},
			"start": {strconv.FormatInt(start.Add(-time.Second).Unix(), 10)},
			"end":   {strconv.FormatInt(end.Add(2*time.Second).Unix(), 10)},
			"step":  {"1"},
		}, &res)
		numbers := 0
		for _, r := range res.Result {
			for _, v := range r.Values {
				if f, err := strconv.ParseFloat(v[1].(string), 64); err == nil && !math.IsNaN(f) {
					numbers++
				}
			}
		}
		if numbers == 0 {
			t.Errorf("panel query returns no data after a run: %s\n(%d series)", e, len(res.Result))
		}
	}
}

func lookPrometheus(t *testing.T) string {
	t.Helper()
	for _, b := range prometheusBinaries {
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

// freeLoopbackAddr returns a loopback address with a port free a moment ago
// (the apply binds it later; Prometheus must know it beforehand).
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// promGet calls Prometheus's HTTP API and decodes its data into out, failing
// the test on an error answer (a query that does not parse, for one).
func promGet(t *testing.T, base, path string, q url.Values, out any) {
	t.Helper()
	resp, err := http.Get(base + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if body.Status != "success" {
		t.Fatalf("%s %s: %s", path, q.Get("query"), body.Error)
	}
	if err := json.Unmarshal(body.Data, out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

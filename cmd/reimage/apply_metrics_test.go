package main

import (
	"bytes"
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/reimage-dev/reimage/metricsout/pushgatewaytest"
	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers/sim"
)

// metricsPlan: a canary wave of one KEC instance, then the rest.
const metricsPlan = `version: 1
name: web
providers:
  kec:
    type: ksyun
    region: cn-beijing-6
  ecs:
    type: huaweicloud
    region: cn-north-4
    projectId: 0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e
defaults:
  provider: kec
  image: 8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2
  login: {keyIds: [552a0523-b9b4-4868-b8d9-52ad7a38bf89]}
rollout:
  concurrency: 4
  canary: first # one KEC canary alone (perImage would add an ECS one)
  waves: [1, "100%"]
instances:
  - {id: 98284100-f6d1-4bbf-886a-1b07650247a1, name: web-1}
  - {id: 98284100-f6d1-4bbf-886a-1b07650247a2, name: web-2}
  - {id: 98284100-f6d1-4bbf-886a-1b07650247a3, name: web-3}
  - {id: e0a4c9d2-7b1f-4e35-9a6c-2d8f0b3e5ab1, name: job-1, provider: ecs, image: e215580f-73ad-429d-b6f2-5433947433b0, login: {keyName: KeyPair-350b}}
  - {id: e0a4c9d2-7b1f-4e35-9a6c-2d8f0b3e5ab2, name: job-2, provider: ecs, image: e215580f-73ad-429d-b6f2-5433947433b0, login: {keyName: KeyPair-350b}}
`

const canaryID = "98284100-f6d1-4bbf-886a-1b07650247a1"

// startMetricsSim starts a simulator seeded with the plan's fleet on an older
// image, with the given instances failing, and points reimage at it.
func startMetricsSim(t *testing.T, planPath string, failIDs ...string) string {
	t.Helper()
	p, err := plan.Load(planPath)
	if err != nil {
		t.Fatal(err)
	}
	s := sim.New(sim.Options{Seed: 3, StopDuration: 50 * time.Millisecond, RebuildDuration: 100 * time.Millisecond,
		StartDuration: 50 * time.Millisecond, FailIDs: failIDs})
	if err := s.SeedPlan(p, 0); err != nil {
		t.Fatal(err)
	}
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	o := s.Options()
	t.Setenv("KSYUN_ACCESS_KEY", o.Keys["ksyun"].AccessKey)
	t.Setenv("KSYUN_SECRET_KEY", o.Keys["ksyun"].SecretKey)
	t.Setenv("HUAWEICLOUD_SDK_AK", o.Keys["huaweicloud"].AccessKey)
	t.Setenv("HUAWEICLOUD_SDK_SK", o.Keys["huaweicloud"].SecretKey)
	return url
}

func applyForMetrics(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"apply"}, args...), Stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

// readTextfile parses a textfile and returns a gatherer of its families.
func readTextfile(t *testing.T, path string) (map[string]*dto.MetricFamily, prometheus.Gatherer) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("textfile does not parse: %v", err)
	}
	return mfs, prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		var out []*dto.MetricFamily
		for _, mf := range mfs {
			out = append(out, mf)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
		return out, nil
	})
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-3 }

// TestApplyMetricsPushgateway runs apply on the simulator twice, pushing to a
// real Pushgateway and writing a textfile: a converged run, then one whose
// canary fails. The gateway's group and the textfile hold the counts of each
// run, and the failed run keeps the first one's last success.
func TestApplyMetricsPushgateway(t *testing.T) {
	gw := pushgatewaytest.Start(t)
	dir := t.TempDir()
	planPath := filepath.Join(dir, "web.yaml")
	if err := os.WriteFile(planPath, []byte(metricsPlan), 0o644); err != nil {
		t.Fatal(err)
	}
	textfile := filepath.Join(dir, "reimage-web.prom")
	group := map[string]string{"job": "reimage", "plan": "web"}
	common := []string{"-poll-interval", "50ms", "-sim-pause", "0", "-auto-approve", "-state", filepath.Join(dir, "state"),
		"-pushgateway", gw, "-push-interval", "100ms", "-metrics-textfile", textfile, "-log-format", "json"}

	// A converged run sets everything, the last success included.
	url := startMetricsSim(t, planPath)
	before := float64(time.Now().Unix())
	code, stdout, stderr := applyForMetrics(t, append(append([]string{"-sim-url", url}, common...), planPath)...)
	if code != ExitOK {
		t.Fatalf("first apply exited %d\n%s\n%s", code, stdout, stderr)
	}
	g := pushgatewaytest.Find(t, gw, group)
	success := g.Value(t, "reimage_last_success_timestamp_seconds", nil)
	if success < before {
		t.Fatalf("last success %v, before the run (%v)", success, before)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"reimage_last_run_converged", nil, 1},
		{"reimage_instance_changes_total", map[string]string{"provider": "kec", "result": "done"}, 3},
		{"reimage_instance_changes_total", map[string]string{"provider": "ecs", "result": "done"}, 2},
		{"reimage_instance_changes_total", map[string]string{"provider": "kec", "result": "failed"}, 0},
		{"reimage_instances", map[string]string{"state": "done"}, 5},
		{"reimage_instances", map[string]string{"state": "pending"}, 0},
		{"reimage_wave", nil, 2},
	} {
		if v := g.Value(t, c.name, c.labels); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	if len(g.Series["reimage_api_requests_total"]) == 0 {
		t.Error("no API metrics pushed")
	}
	mfs, gatherer := readTextfile(t, textfile)
	problems, err := testutil.GatherAndLint(gatherer)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName())
				if strings.Contains(l.GetValue(), "98284100") || strings.Contains(l.GetValue(), "e0a4c9d2") {
					t.Errorf("%s: an instance id as a label value: %v", name, m.GetLabel())
				}
			}
			if !strings.Contains(strings.Join(labels, ","), "plan") {
				t.Errorf("%s: no plan label: %v", name, labels)
			}
		}
	}
	if !strings.Contains(stderr, `"msg":"instance done","provider":"kec","id":"98284100-f6d1-4bbf-886a-1b07650247a2","name":"web-2"`) {
		t.Errorf("no JSON log record of an instance with provider, id and name:\n%s", stderr)
	}

	// A failed run: counts replaced, outcome 0, the last success kept.
	url = startMetricsSim(t, planPath, canaryID)
	code, stdout, stderr = applyForMetrics(t, append(append([]string{"-sim-url", url}, common...), planPath)...)
	if code != ExitNotConverged {
		t.Fatalf("second apply exited %d, want %d\n%s\n%s", code, ExitNotConverged, stdout, stderr)
	}
	g = pushgatewaytest.Find(t, gw, group)
	if v := g.Value(t, "reimage_last_success_timestamp_seconds", nil); !near(v, success) {
		t.Errorf("the failed run changed the last success from %v to %v", success, v)
	}
	if v := g.Value(t, "reimage_last_run_timestamp_seconds", nil); v <= success {
		t.Errorf("last run %v, not after the first run's %v", v, success)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"reimage_last_run_converged", nil, 0},
		{"reimage_instance_changes_total", map[string]string{"provider": "kec", "result": "failed"}, 1},
		{"reimage_instance_changes_total", map[string]string{"provider": "kec", "result": "done"}, 0},
		{"reimage_instances", map[string]string{"state": "failed"}, 1},
		{"reimage_instances", map[string]string{"state": "pending"}, 4},
		{"reimage_wave", nil, 1},
	} {
		if v := g.Value(t, c.name, c.labels); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	if !strings.Contains(stderr, `"level":"ERROR","msg":"instance failed","provider":"kec","id":"`+canaryID+`","name":"web-1"`) {
		t.Errorf("no JSON error record of the failed canary:\n%s", stderr)
	}
	mfs, _ = readTextfile(t, textfile)
	if v := mfs["reimage_last_success_timestamp_seconds"].GetMetric()[0].GetGauge().GetValue(); !near(v, success) {
		t.Errorf("textfile: last success %v after a failed run, want the earlier %v", v, success)
	}
	if v := mfs["reimage_last_run_converged"].GetMetric()[0].GetGauge().GetValue(); v != 0 {
		t.Errorf("textfile: converged %v after a failed run", v)
	}
}

// TestApplyMetricsPushFailureKeepsResult: an unreachable gateway and an
// unwritable textfile are logged; the run's exit status and output are those
// of the run.
func TestApplyMetricsPushFailureKeepsResult(t *testing.T) {
	dir := t.TempDir()
	planPath := filepath.Join(dir, "web.yaml")
	if err := os.WriteFile(planPath, []byte(metricsPlan), 0o644); err != nil {
		t.Fatal(err)
	}
	url := startMetricsSim(t, planPath)
	code, stdout, stderr := applyForMetrics(t, "-sim-url", url, "-poll-interval", "50ms", "-sim-pause", "0", "-auto-approve",
		"-state", filepath.Join(dir, "state"), "-pushgateway", "http://127.0.0.1:1", "-metrics-textfile", filepath.Join(dir, "no", "such", "dir", "x.prom"),
		planPath)
	if code != ExitOK {
		t.Fatalf("apply exited %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "Apply complete: 5 changed") {
		t.Errorf("run outcome lost:\n%s", stdout)
	}
	for _, want := range []string{"metrics push failed", "cannot write the metrics textfile"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestApplyMetricsListen: -metrics-listen serves /metrics while the run lasts
// and, for -metrics-linger after it, with the final values; then it stops.
func TestApplyMetricsListen(t *testing.T) {
	dir := t.TempDir()
	planPath := filepath.Join(dir, "web.yaml")
	if err := os.WriteFile(planPath, []byte(metricsPlan), 0o644); err != nil {
		t.Fatal(err)
	}
	url := startMetricsSim(t, planPath)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, stdout, stderr := applyForMetrics(t, "-sim-url", url, "-poll-interval", "50ms", "-sim-pause", "0", "-auto-approve",
			"-state", filepath.Join(dir, "state"), "-metrics-listen", addr, "-metrics-linger", "3s", planPath)
		done <- result{code, stdout, stderr}
	}()
	scrape := func() string {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// During the run, then during the linger: the final values.
	var sawRunning bool
	deadline := time.Now().Add(30 * time.Second)
	for {
		body := scrape()
		if strings.Contains(body, `reimage_instances{plan="web",state="in_progress"} 1`) ||
			strings.Contains(body, `reimage_instances{plan="web",state="pending"} 4`) {
			sawRunning = true
		}
		if strings.Contains(body, `reimage_last_run_converged{plan="web"} 1`) {
			if !strings.Contains(body, `reimage_instances{plan="web",state="done"} 5`) {
				t.Errorf("final values incomplete:\n%s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no final values served within 30s; last scrape:\n%s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawRunning {
		t.Error("never scraped the run in progress")
	}
	r := <-done
	if r.code != ExitOK {
		t.Fatalf("apply exited %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "serving the final metrics before exiting") {
		t.Errorf("no linger logged:\n%s", r.stderr)
	}
	if body := scrape(); body != "" {
		t.Error("still serving after apply returned")
	}
}

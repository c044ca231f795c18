package metricsout

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/metricsout/pushgatewaytest"
	"github.com/reimage-dev/reimage/plan"
)

const lastSuccess = "reimage_last_success_timestamp_seconds"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// runRegistry returns a registry with the run metrics of plan "web" after a
// run that converged or not, ended at end.
func runRegistry(converged bool, end time.Time) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	m := executor.NewRunMetrics(prometheus.WrapRegistererWith(PlanLabels("web", ""), reg), "kec")
	in := &plan.Instance{ID: "i-1", Name: "web-1", Provider: "kec"}
	m.Observe(executor.Event{Type: executor.EventRunStart, Waves: 1, Summary: &executor.Summary{Total: 1}})
	m.Observe(executor.Event{Type: executor.EventWaveStart, Wave: 1, Waves: 1, WaveSize: 1})
	m.Observe(executor.Event{Type: executor.EventInstanceStart, Change: &plan.Change{Instance: in}})
	sum := executor.Summary{Total: 1, Done: 1}
	if converged {
		m.Observe(executor.Event{Type: executor.EventInstanceDone, Change: &plan.Change{Instance: in}, Elapsed: 90 * time.Second})
	} else {
		sum = executor.Summary{Total: 1, Failed: 1}
		m.Observe(executor.Event{Type: executor.EventInstanceFail, Change: &plan.Change{Instance: in}, Elapsed: 90 * time.Second})
	}
	m.Observe(executor.Event{Type: executor.EventRunEnd, Time: end, Elapsed: 2 * time.Minute, Summary: &sum})
	return reg
}

func parseTextfile(t *testing.T, data []byte) map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("textfile does not parse: %v\n%s", err, data)
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		if len(mf.GetMetric()) == 1 && mf.GetMetric()[0].GetGauge() != nil {
			out[name] = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return out
}

// TestTextfileKeepsLastSuccess: the file parses, and a failed run's file still
// holds the last success of the run before it.
func TestTextfileKeepsLastSuccess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reimage.prom")
	ok := time.Unix(1700000000, 0)
	if err := WriteTextfile(path, runRegistry(true, ok), lastSuccess); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if v := parseTextfile(t, data)[lastSuccess]; v != 1700000000 {
		t.Fatalf("last success %v after a converged run", v)
	}
	if err := WriteTextfile(path, runRegistry(false, ok.Add(time.Hour)), lastSuccess); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	vals := parseTextfile(t, data)
	if vals[lastSuccess] != 1700000000 || vals["reimage_last_run_timestamp_seconds"] != 1700003600 || vals["reimage_last_run_converged"] != 0 {
		t.Errorf("after a failed run: %v", vals)
	}
	if !strings.Contains(string(data), `reimage_last_success_timestamp_seconds{plan="web"} 1.7e+09`) {
		t.Errorf("carried series lost its labels:\n%s", data)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// TestTextfileAtomic: a reader polling the path while it is rewritten never
// sees a partial file: every read parses and holds every family.
func TestTextfileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reimage.prom")
	reg := runRegistry(true, time.Unix(1700000000, 0))
	// Padding makes each write large enough that a non-atomic one would be
	// seen half-written.
	pad := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "reimage_test_padding", Help: "Padding."}, []string{"n"})
	for i := range 500 {
		pad.WithLabelValues(strings.Repeat("x", 20) + string(rune('a'+i%26)) + time.Duration(i).String()).Set(float64(i))
	}
	reg.MustRegister(pad)
	if err := WriteTextfile(path, reg); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(path)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads, bad atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			data, err := os.ReadFile(path)
			if err != nil {
				bad.Add(1)
				continue
			}
			reads.Add(1)
			if !bytes.Equal(data, want) {
				bad.Add(1)
			}
		}
	}()
	for range 20 {
		if err := WriteTextfile(path, reg, lastSuccess); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if bad.Load() > 0 {
		t.Errorf("%d of %d reads saw a missing or partial file", bad.Load(), reads.Load()+bad.Load())
	}
	parseTextfile(t, want)
}

// TestPushRequest: Add is a POST to the group's URL with basic auth, and the
// pushed series do not carry the grouping labels (the gateway adds them).
func TestPushRequest(t *testing.T) {
	var got struct {
		method, path, user, pass, body string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.path, got.body = r.Method, r.URL.Path, string(b)
		got.user, got.pass, _ = r.BasicAuth()
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	reg := prometheus.NewRegistry()
	executor.NewRunMetrics(prometheus.WrapRegistererWith(PlanLabels("web", "0/4"), reg), "kec")
	p := NewPusher(PushConfig{URL: srv.URL, Grouping: PlanLabels("web", "0/4"), Username: "ops", Password: "s3cret"}, reg, quiet)
	if err := p.Push(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got.method != http.MethodPost {
		t.Errorf("method %s, want POST (Add)", got.method)
	}
	// A value with a slash is base64-encoded in the path, as the gateway
	// wants. client_golang writes the grouping labels in its map's order.
	if got.path != "/metrics/job/reimage/plan/web/shard@base64/MC80" && got.path != "/metrics/job/reimage/shard@base64/MC80/plan/web" {
		t.Errorf("path %s", got.path)
	}
	if got.user != "ops" || got.pass != "s3cret" {
		t.Errorf("basic auth %q %q", got.user, got.pass)
	}
	if got.body == "" {
		t.Error("empty push")
	}
}

// TestPushLeavesRegistryIntact: stripping the grouping labels for a push must
// not change the registry's own series (client_golang shares the label pairs
// of const labels between gathers), which the textfile and /metrics still read.
func TestPushLeavesRegistryIntact(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reimage_test_total", Help: "Test.",
		ConstLabels: PlanLabels("web", "0/4")}, []string{"provider"})
	reg.MustRegister(c)
	c.WithLabelValues("kec").Inc()
	p := NewPusher(PushConfig{URL: srv.URL, Grouping: PlanLabels("web", "0/4")}, reg, quiet)
	for range 2 {
		if err := p.Push(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	want := "# HELP reimage_test_total Test.\n# TYPE reimage_test_total counter\n" +
		`reimage_test_total{plan="web",provider="kec",shard="0/4"} 1` + "\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestPushFailureLogged: a gateway that refuses is logged (without the
// password of the URL) and nothing panics or blocks.
func TestPushFailureLogged(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	defer srv.Close()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	u := strings.Replace(srv.URL, "http://", "http://ops:hunter2@", 1)
	p := NewPusher(PushConfig{URL: u, Grouping: PlanLabels("web", "")}, runRegistry(true, time.Now()), logger)
	p.Start(5 * time.Millisecond)
	time.Sleep(30 * time.Millisecond)
	p.Stop()
	if !strings.Contains(logs.String(), "metrics push failed") {
		t.Errorf("no warning logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("password logged:\n%s", logs.String())
	}
}

// TestListenLinger: /metrics answers during the run and during the linger,
// and Close returns early when stopped.
func TestListenLinger(t *testing.T) {
	reg := runRegistry(true, time.Unix(1700000000, 0))
	s, err := Listen("127.0.0.1:0", reg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `reimage_last_success_timestamp_seconds{plan="web"} 1.7e+09`) {
		t.Errorf("/metrics:\n%s", body)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { s.Close(time.Minute, stop); close(done) }()
	time.Sleep(50 * time.Millisecond)
	if resp, err := http.Get("http://" + s.Addr() + "/metrics"); err != nil {
		t.Errorf("not served during the linger: %v", err)
	} else {
		resp.Body.Close()
	}
	close(stop)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return when stopped")
	}
	if _, err := http.Get("http://" + s.Addr() + "/metrics"); err == nil {
		t.Error("still served after Close")
	}
}

// TestPushgateway pushes to a real Pushgateway and reads the group back: a
// converged run sets the last success; a failed run after it keeps it, while
// its own outcome replaces the rest.
func TestPushgateway(t *testing.T) {
	url := pushgatewaytest.Start(t)
	group := map[string]string{"job": "reimage", "plan": "web"}
	cfg := PushConfig{URL: url, Grouping: PlanLabels("web", "")}

	ok := time.Unix(1700000000, 0)
	NewPusher(cfg, runRegistry(true, ok), quiet).Stop()
	g := pushgatewaytest.Find(t, url, group)
	if v := g.Value(t, lastSuccess, nil); v != 1700000000 {
		t.Errorf("last success %v", v)
	}
	if v := g.Value(t, "reimage_instance_changes_total", map[string]string{"provider": "kec", "result": "done"}); v != 1 {
		t.Errorf("changes done %v", v)
	}

	p := NewPusher(cfg, runRegistry(false, ok.Add(time.Hour)), quiet)
	if err := p.Push(context.Background()); err != nil {
		t.Fatal(err)
	}
	g = pushgatewaytest.Find(t, url, group)
	if v := g.Value(t, lastSuccess, nil); v != 1700000000 {
		t.Errorf("a failed run changed the last success to %v", v)
	}
	if v := g.Value(t, "reimage_last_run_timestamp_seconds", nil); v != 1700003600 {
		t.Errorf("last run %v", v)
	}
	if v := g.Value(t, "reimage_last_run_converged", nil); v != 0 {
		t.Errorf("converged %v after a failed run", v)
	}
	if v := g.Value(t, "reimage_instance_changes_total", map[string]string{"provider": "kec", "result": "failed"}); v != 1 {
		t.Errorf("changes failed %v", v)
	}
	if v := g.Value(t, "reimage_instance_changes_total", map[string]string{"provider": "kec", "result": "done"}); v != 0 {
		t.Errorf("changes done %v: the earlier run's count was not replaced", v)
	}
	if v := g.Value(t, "reimage_instances", map[string]string{"state": "failed", "plan": "web", "job": "reimage"}); v != 1 {
		t.Errorf("instances failed %v", v)
	}
	problems, err := testutil.GatherAndLint(runRegistry(false, ok))
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestTextfileRewrittenWhileTheRunLasts: the textfile follows the run's
// progress every interval, and keeps the previous run's outcome meanwhile.
func TestTextfileRewrittenWhileTheRunLasts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "reimage.prom")
		if err := WriteTextfile(path, runRegistry(true, time.Unix(1700000000, 0)), lastSuccess); err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		m := executor.NewRunMetrics(prometheus.WrapRegistererWith(PlanLabels("web", ""), reg), "kec")
		m.Observe(executor.Event{Type: executor.EventRunStart, Time: time.Unix(1700003000, 0), Waves: 1, Summary: &executor.Summary{Total: 2}})
		w := StartTextfile(path, reg, 30*time.Second, quiet, lastSuccess, "reimage_last_run_converged")
		defer w.Stop()

		read := func() map[string]float64 {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return parseTextfile(t, data)
		}
		time.Sleep(29 * time.Second)
		synctest.Wait()
		if v := read()["reimage_run_start_timestamp_seconds"]; v != 0 {
			t.Fatalf("textfile rewritten before the interval (run start %v)", v)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		vals := read()
		if vals["reimage_run_start_timestamp_seconds"] != 1700003000 {
			t.Errorf("mid-run textfile has no run start: %v", vals)
		}
		if vals[lastSuccess] != 1700000000 || vals["reimage_last_run_converged"] != 1 {
			t.Errorf("mid-run textfile lost the previous run's outcome: %v", vals)
		}

		in := &plan.Instance{ID: "i-1", Provider: "kec"}
		m.Observe(executor.Event{Type: executor.EventInstanceStart, Change: &plan.Change{Instance: in}})
		time.Sleep(30 * time.Second)
		synctest.Wait()
		data, _ := os.ReadFile(path)
		if !strings.Contains(string(data), `reimage_instances{plan="web",state="in_progress"} 1`) {
			t.Errorf("second rewrite does not show the instance in progress:\n%s", data)
		}
		w.Stop()
		os.Remove(path)
		time.Sleep(time.Minute)
		synctest.Wait()
		if _, err := os.Stat(path); err == nil {
			t.Error("textfile written after Stop")
		}
	})
}

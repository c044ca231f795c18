// Package deploy holds files operators deploy beside reimage (a Grafana
// dashboard, Prometheus rules and scrape examples) and the tests that keep them
// in step with the metrics reimage exports.
package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/metricsout"
	"github.com/reimage-dev/reimage/providers"
)

// recorder is a Registerer that keeps what is registered, so that the names
// come from the real constructors, not from a list typed here.
type recorder struct{ cs []prometheus.Collector }

func (r *recorder) Register(c prometheus.Collector) error   { r.cs = append(r.cs, c); return nil }
func (r *recorder) MustRegister(cs ...prometheus.Collector) { r.cs = append(r.cs, cs...) }
func (r *recorder) Unregister(prometheus.Collector) bool    { return false }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// exported returns every metric name reimage exports: the run metrics, the
// API metrics and reimage_info.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	r := &recorder{}
	executor.NewRunMetrics(r)
	executor.NewGateMetrics(r)
	providers.NewAPIMetrics(r, nil)
	metricsout.NewInfo(r, "test")
	names := map[string]bool{}
	for _, c := range r.cs {
		ch := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			m := fqName.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("no name in %s", d)
			}
			names[m[1]] = true
		}
	}
	if len(names) < 10 {
		t.Fatalf("only %d metric names: %v", len(names), names)
	}
	return names
}

var metricRef = regexp.MustCompile(`\breimage_[a-zA-Z0-9_]+`)

// checkNames fails for every reimage_ name in exprs that reimage does not
// export; a histogram's _bucket, _sum and _count series count as its name.
func checkNames(t *testing.T, where string, exprs []string) {
	t.Helper()
	names := exported(t)
	used := 0
	for _, e := range exprs {
		for _, ref := range metricRef.FindAllString(e, -1) {
			used++
			base := ref
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(ref, suf); ok && names[b] {
					base = b
				}
			}
			if !names[base] {
				t.Errorf("%s: %s is not a metric reimage exports (in %q)", where, ref, e)
			}
		}
	}
	if used == 0 {
		t.Errorf("%s: no reimage metric used", where)
	}
}

// collect walks decoded JSON or YAML and returns the string values of the keys.
func collect(v any, keys map[string]bool, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && keys[k] {
				*out = append(*out, s)
			}
			collect(val, keys, out)
		}
	case []any:
		for _, val := range x {
			collect(val, keys, out)
		}
	}
}

func TestDashboard(t *testing.T) {
	data, err := os.ReadFile("grafana/reimage.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard does not parse: %v", err)
	}
	var exprs []string
	collect(dash, map[string]bool{"expr": true, "query": true, "definition": true}, &exprs)
	checkNames(t, "dashboard", exprs)

	// Importable anywhere: the data source and the plan are variables, and
	// every panel's data source is the variable, never a fixed uid.
	vars := map[string]string{}
	for _, v := range dash["templating"].(map[string]any)["list"].([]any) {
		m := v.(map[string]any)
		vars[m["name"].(string)] = m["type"].(string)
	}
	if vars["datasource"] != "datasource" || vars["plan"] != "query" {
		t.Errorf("variables %v, want datasource (datasource) and plan (query)", vars)
	}
	var uids []string
	collect(dash, map[string]bool{"uid": true}, &uids)
	for _, u := range uids {
		if u != "${datasource}" && u != "reimage" && u != "-- Grafana --" {
			t.Errorf("fixed data source uid %q", u)
		}
	}
	// Every expression filters on the plan variable.
	for _, e := range exprs {
		if strings.Contains(e, "reimage_") && !strings.HasPrefix(e, "label_values") && !strings.Contains(e, `plan=~"$plan"`) {
			t.Errorf("expression ignores the plan variable: %s", e)
		}
	}
	titles := map[string]bool{}
	var ts []string
	collect(dash, map[string]bool{"title": true}, &ts)
	for _, s := range ts {
		titles[s] = true
	}
	for _, want := range []string{"Instances by state", "Progress of the current run", "Wave", "Change rate",
		"Change duration quantiles", "Failed instances", "API requests by code", "Throttling and retries",
		"Rate-limiter wait", "Time since last success", "Last run began outside its window",
		"Window closed during the last run", "Last run halted by a gate"} {
		if !titles[want] {
			t.Errorf("no panel %q", want)
		}
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func TestAlertRules(t *testing.T) {
	data, err := os.ReadFile("prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	// Strict, so that a misspelt key ("anotations") fails here, not at load time.
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("rules do not parse: %v", err)
	}
	var exprs, alerts []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if (r.Alert == "") == (r.Record == "") || strings.TrimSpace(r.Expr) == "" {
				t.Errorf("rule %+v: want one of alert or record, and an expr", r)
			}
			if r.Alert != "" && (r.Labels["severity"] == "" || r.Annotations["summary"] == "") {
				t.Errorf("alert %s: want a severity label and a summary", r.Alert)
			}
			exprs = append(exprs, r.Expr)
			if r.Alert != "" {
				alerts = append(alerts, r.Alert)
			}
		}
	}
	sort.Strings(alerts)
	if strings.Join(alerts, " ") != "ReimageGateHalted ReimageInstancesFailed ReimageNeverSucceeded ReimageNoRecentSuccess ReimageRunNotConverged" {
		t.Errorf("alerts %v", alerts)
	}
	checkNames(t, "alerts", exprs)
	promtool(t, "check", "rules", "prometheus/alerts.yaml")
}

// The alert rules' behaviour, over series as a Pushgateway holds them:
// promtool evaluates alerts_test.yaml against alerts.yaml.
func TestAlertRulesUnitTests(t *testing.T) {
	promtool(t, "test", "rules", "prometheus/alerts_test.yaml")
}

func TestScrapeExample(t *testing.T) {
	data, err := os.ReadFile("prometheus/scrape.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName     string `yaml:"job_name"`
			HonorLabels bool   `yaml:"honor_labels"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("scrape example does not parse: %v", err)
	}
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName == "pushgateway" {
			if !sc.HonorLabels {
				t.Error("the Pushgateway job must set honor_labels: true")
			}
			return
		}
	}
	t.Error("no pushgateway scrape job")
}

// promtool runs Prometheus's own checker (Debian package prometheus, which
// .ci/run installs). Without it the test is skipped, except in CI (CI set),
// where it fails: CI must never pass by skipping it.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not installed (apt-get install prometheus); CI must run it")
		}
		t.Skip("promtool not installed (apt-get install prometheus)")
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

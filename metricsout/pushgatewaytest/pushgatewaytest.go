// Package pushgatewaytest runs a real Prometheus Pushgateway for tests
// (Debian package prometheus-pushgateway, which .ci/run installs) and reads
// its groups back through the gateway's API.
package pushgatewaytest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Binaries are where the gateway is looked for, the Debian path first.
var Binaries = []string{"/usr/bin/prometheus-pushgateway", "pushgateway", "prometheus-pushgateway"}

// Start runs a Pushgateway on a free local port until the test ends and
// returns its URL. Without the binary the test is skipped, except in CI (CI
// set), where it fails: CI must never pass by skipping it.
func Start(t testing.TB) string {
	t.Helper()
	bin := ""
	for _, b := range Binaries {
		if p, err := exec.LookPath(b); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		msg := "no Pushgateway binary (apt-get install prometheus-pushgateway)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + "; CI must run this test")
		}
		t.Skip(msg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	url := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pushgateway at %s not ready after 20s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Series is one series of a group: its labels and value.
type Series struct {
	Labels map[string]string
	Value  float64
}

// Group is one group of the gateway: its grouping labels and its series by
// metric name (a histogram's buckets are not broken out: only the name).
type Group struct {
	Labels map[string]string
	Series map[string][]Series
}

// Groups reads every group through GET /api/v1/metrics.
func Groups(t testing.TB, url string) []Group {
	t.Helper()
	resp, err := http.Get(url + "/api/v1/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string                       `json:"status"`
		Data   []map[string]json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Status != "success" {
		t.Fatalf("pushgateway API status %q", body.Status)
	}
	var groups []Group
	for _, raw := range body.Data {
		g := Group{Series: map[string][]Series{}}
		for k, v := range raw {
			switch k {
			case "labels":
				if err := json.Unmarshal(v, &g.Labels); err != nil {
					t.Fatal(err)
				}
				continue
			case "last_push_successful":
				continue
			}
			var fam struct {
				Metrics []struct {
					Labels map[string]string `json:"labels"`
					Value  string            `json:"value"`
				} `json:"metrics"`
			}
			if err := json.Unmarshal(v, &fam); err != nil {
				continue // not a family
			}
			for _, m := range fam.Metrics {
				s := Series{Labels: m.Labels}
				if m.Value != "" {
					if s.Value, err = strconv.ParseFloat(m.Value, 64); err != nil {
						t.Fatalf("%s: value %q: %v", k, m.Value, err)
					}
				}
				g.Series[k] = append(g.Series[k], s)
			}
		}
		groups = append(groups, g)
	}
	return groups
}

// Find returns the group with exactly these grouping labels.
func Find(t testing.TB, url string, labels map[string]string) Group {
	t.Helper()
	for _, g := range Groups(t, url) {
		if fmt.Sprint(g.Labels) == fmt.Sprint(labels) {
			return g
		}
	}
	t.Fatalf("no group %v on the gateway", labels)
	return Group{}
}

// Value returns the value of the one series of name whose labels include want.
func (g Group) Value(t testing.TB, name string, want map[string]string) float64 {
	t.Helper()
	var found []float64
	for _, s := range g.Series[name] {
		ok := true
		for k, v := range want {
			if s.Labels[k] != v {
				ok = false
			}
		}
		if ok {
			found = append(found, s.Value)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: %d series in the group, want 1", name, want, len(found))
	}
	return found[0]
}

package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/plan"
)

func mustTemplates(t *testing.T, args ...string) []*plan.Template {
	t.Helper()
	var out []*plan.Template
	for _, a := range args {
		tm, err := plan.ParseTemplate(a)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tm)
	}
	return out
}

// TestHealthCheckWithoutAnswerSaysSo: a check that gets no answer within its
// bound (a server that hangs, a command that hangs) fails with "no answer
// within", naming the check, not with "context deadline exceeded".
func TestHealthCheckWithoutAnswerSaysSo(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-hang:
		}
	}))
	defer srv.Close()
	defer close(hang)
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	tests := []struct {
		name  string
		check plan.Health
		want  string
	}{
		{"http", plan.Health{HTTP: &plan.HTTPCheck{URL: mustTemplates(t, "http://{{.PrivateIP}}:"+port+"/healthz")[0], Status: 200}},
			"GET http://" + host + ":" + port + "/healthz: no answer within 500ms"},
		{"exec", plan.Health{Exec: &plan.ExecCheck{Command: mustTemplates(t, "sleep", "5")}},
			"sleep: no answer within 500ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.check
			h.Interval, h.Timeout = 100*time.Millisecond, 200*time.Millisecond
			err := AwaitHealthy(context.Background(), &h, plan.TemplateVars{PrivateIP: host})
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "deadline exceeded") {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}

// TestHealthTCP: a TCP check passes on a listening port and fails on a closed one.
func TestHealthTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	tests := []struct {
		name string
		port int
		ok   bool
	}{
		{"listening", ln.Addr().(*net.TCPAddr).Port, true},
		{"closed", closedPort, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &plan.Health{Timeout: 50 * time.Millisecond, Interval: 10 * time.Millisecond, TCP: &plan.TCPCheck{Port: tt.port}}
			err := AwaitHealthy(context.Background(), h, plan.TemplateVars{ID: "i", PrivateIP: "127.0.0.1"})
			if (err == nil) != tt.ok {
				t.Errorf("awaitHealthy = %v, want ok %v", err, tt.ok)
			}
		})
	}
	h := &plan.Health{Timeout: time.Millisecond, Interval: time.Millisecond, TCP: &plan.TCPCheck{Port: 22}}
	if err := AwaitHealthy(context.Background(), h, plan.TemplateVars{ID: "i"}); err == nil || !strings.Contains(err.Error(), "no private address") {
		t.Errorf("without a private address: %v", err)
	}
}

// TestHookTimeout: a hook that outlives its timeout is killed and fails.
func TestHookTimeout(t *testing.T) {
	hk := &plan.Hook{Command: mustTemplates(t, "sleep", "10"), Timeout: 50 * time.Millisecond}
	start := time.Now()
	err := RunHook(context.Background(), hk, plan.TemplateVars{})
	if err == nil || !strings.Contains(err.Error(), "killed after 50ms (hook timeout)") {
		t.Errorf("runHook = %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the hook was not killed at its timeout")
	}
}

package executor

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
			err := awaitHealthy(context.Background(), &h, plan.TemplateVars{PrivateIP: host})
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "deadline exceeded") {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}

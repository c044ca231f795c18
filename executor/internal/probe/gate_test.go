package probe

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/plan"
)

// TestGateResults: comparisons, empty results, errors and an unreachable server.
func TestGateResults(t *testing.T) {
	answer := ""
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(answer, "HTTP ") {
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, strings.TrimPrefix(answer, "HTTP "))
			return
		}
		fmt.Fprint(w, answer)
	}))
	defer prom.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	vec := func(vals ...string) string {
		var parts []string
		for i, v := range vals {
			parts = append(parts, fmt.Sprintf(`{"metric":{"job":"j%d"},"value":[1,%q]}`, i, v))
		}
		return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(parts, ",") + `]}}`
	}
	tests := []struct {
		name, answer, url, expect string
		wantErr                   string
	}{
		{"below", vec("0.5"), "", "< 1", ""},
		{"one above", vec("0.5", "2"), "", "< 1", `got 2 samples: {job="j0"} 0.5, {job="j1"} 2`},
		{"no data for a comparison", vec(), "", "< 1", "got no sample (nothing to compare)"},
		{"scalar", `{"status":"success","data":{"resultType":"scalar","result":[1,"0"]}}`, "", "== 0", ""},
		{"query error", `{"status":"error","errorType":"bad_data","error":"parse error"}`, "", "empty", "got an error: bad_data: parse error"},
		{"not prometheus", "HTTP <html>bad gateway</html>", "", "empty", "got HTTP 502, not a Prometheus API answer"},
		{"unreachable", "", deadURL, "empty", "got no answer (unreachable: connect: connection refused)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer = tt.answer
			u := prom.URL
			if tt.url != "" {
				u = tt.url
			}
			exp, err := plan.ParseExpectation(tt.expect)
			if err != nil {
				t.Fatal(err)
			}
			err = checkPrometheus(context.Background(), &plan.PrometheusGate{URL: u, Query: "q", Expect: exp})
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("gate failed: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("gate error %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

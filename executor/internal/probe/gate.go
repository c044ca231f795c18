package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/reimage-dev/reimage/plan"
)

// gateTimeout bounds one gate query: an unreachable Prometheus halts the run
// rather than hang it.
const gateTimeout = 30 * time.Second

// gateClient asks Prometheus; no proxy from the environment decides where a
// gate's query goes.
var gateClient = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: gateTimeout}

// GateError says which gate failed and what its query returned.
type GateError struct {
	URL, Query string
	Expect     plan.Expectation
	// Got is what the query returned, for people ("3 samples: ALERTS{…} 1, …",
	// "no sample", or why it could not be asked).
	Got string
}

func (e *GateError) Error() string {
	return fmt.Sprintf("gate %s at %s expects %s, got %s", strconv.Quote(e.Query), e.URL, e.Expect, e.Got)
}

// Gates asks every gate in order; the first failing or unreachable one is
// the error.
func Gates(ctx context.Context, gates []plan.Gate) error {
	for _, g := range gates {
		if g.Prometheus == nil {
			continue
		}
		if err := checkPrometheus(ctx, g.Prometheus); err != nil {
			return err
		}
	}
	return nil
}

// promResponse is the Prometheus HTTP API's answer to /api/v1/query.
type promResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// checkPrometheus runs one instant query and compares its result.
func checkPrometheus(ctx context.Context, g *plan.PrometheusGate) error {
	fail := func(format string, args ...any) error {
		return &GateError{URL: g.URL, Query: g.Query, Expect: g.Expect, Got: fmt.Sprintf(format, args...)}
	}
	ctx, cancel := context.WithTimeout(ctx, gateTimeout)
	defer cancel()
	form := url.Values{"query": {g.Query}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(g.URL, "/")+"/api/v1/query", strings.NewReader(form.Encode()))
	if err != nil {
		return fail("no answer: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := gateClient.Do(req)
	if err != nil {
		return fail("no answer (unreachable: %v)", unwrapURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fail("no answer (reading it: %v)", err)
	}
	var pr promResponse
	if err := json.Unmarshal(body, &pr); err != nil {
		return fail("HTTP %d, not a Prometheus API answer: %.200q", resp.StatusCode, body)
	}
	if pr.Status != "success" {
		return fail("an error: %s: %s", pr.ErrorType, pr.Error)
	}
	var samples []promSample
	switch pr.Data.ResultType {
	case "vector":
		if err := json.Unmarshal(pr.Data.Result, &samples); err != nil {
			return fail("an unreadable vector: %v", err)
		}
	case "scalar":
		var s promSample
		if err := json.Unmarshal(pr.Data.Result, &s.Value); err != nil {
			return fail("an unreadable scalar: %v", err)
		}
		samples = []promSample{s}
	default:
		return fail("a %s (want an instant vector or a scalar)", pr.Data.ResultType)
	}
	if g.Expect.Empty {
		if len(samples) == 0 {
			return nil
		}
		return fail("%s", describeSamples(samples))
	}
	if len(samples) == 0 {
		return fail("no sample (nothing to compare)")
	}
	for _, s := range samples {
		v, ok := sampleValue(s)
		if !ok || !g.Expect.Holds(v) {
			return fail("%s", describeSamples(samples))
		}
	}
	return nil
}

func sampleValue(s promSample) (float64, bool) {
	str, ok := s.Value[1].(string)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(str, 64)
	return v, err == nil
}

// describeSamples renders up to three samples in the exposition format.
func describeSamples(samples []promSample) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d sample", len(samples))
	if len(samples) != 1 {
		b.WriteString("s")
	}
	for i, s := range samples {
		if i == 3 {
			b.WriteString(", …")
			break
		}
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(seriesName(s.Metric))
		if str, ok := s.Value[1].(string); ok {
			b.WriteString(" " + str)
		}
	}
	return b.String()
}

func seriesName(m map[string]string) string {
	name := m["__name__"]
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		if name == "" {
			return "{}"
		}
		return name
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(m[k])
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

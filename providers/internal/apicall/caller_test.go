package apicall

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/reimage-dev/reimage/providers"
)

// testDialect reads an error answer's body as its code.
var testDialect = Dialect{
	Type:    "test",
	Prepare: func(*http.Request, []byte, time.Time) error { return nil },
	ParseError: func(status int, _ http.Header, body []byte) *providers.APIError {
		if status < 300 {
			return nil
		}
		return &providers.APIError{Code: strings.TrimSpace(string(body)), Message: "refused"}
	},
	ThrottleCodes:    map[string]bool{"SlowDown": true},
	RejectedCodes:    map[string]bool{"RequestExpired": true},
	ServerErrorCodes: map[string]bool{"InternalError": true},
}

// script answers the i-th request with answers[i] (the last one repeats).
type script struct {
	mu      sync.Mutex
	n       int
	answers []func(w http.ResponseWriter, r *http.Request)
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := min(s.n, len(s.answers)-1)
	s.n++
	s.mu.Unlock()
	s.answers[i](w, r)
}

func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func status(code int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		w.Write([]byte(body))
	}
}

func throttled(retryAfter string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", retryAfter)
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte("Throttled"))
	}
}

// newTestCaller returns a caller with recorded, instant sleeps.
func newTestCaller(t *testing.T, cfg providers.Config) (*Caller, *[]time.Duration) {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "p1"
	}
	c := NewCaller(cfg, testDialect)
	var mu sync.Mutex
	var slept []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		return ctx.Err()
	}
	return c, &slept
}

func TestReadRetriedOnServerError(t *testing.T) {
	s := &script{answers: []func(http.ResponseWriter, *http.Request){status(500, "Oops"), status(503, "InternalError"), status(200, "{}")}}
	ts := httptest.NewServer(s)
	defer ts.Close()
	m, reg := newTestMetrics()
	c, _ := newTestCaller(t, providers.Config{Metrics: m})
	resp, err := c.Do(context.Background(), Request{Operation: "Describe", Method: "GET", URL: ts.URL})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("Do: %v, %v", resp, err)
	}
	if s.count() != 3 {
		t.Errorf("%d requests, want 3", s.count())
	}
	if got := counter(t, reg, "reimage_api_retries_total", "provider", "p1", "reason", "server_error"); got != 2 {
		t.Errorf("retries{server_error} = %v, want 2", got)
	}
	if got := counter(t, reg, "reimage_api_requests_total", "provider", "p1", "operation", "Describe", "code", "500"); got != 1 {
		t.Errorf("requests{code=500} = %v, want 1", got)
	}
}

func TestWriteInDoubtOnServerError(t *testing.T) {
	for _, ans := range []func(http.ResponseWriter, *http.Request){status(500, "Oops"), status(400, "InternalError")} {
		s := &script{answers: []func(http.ResponseWriter, *http.Request){ans, status(200, "{}")}}
		ts := httptest.NewServer(s)
		c, _ := newTestCaller(t, providers.Config{})
		_, err := c.Do(context.Background(), Request{Operation: "Modify", Write: true, Resource: "i-1", Method: "GET", URL: ts.URL})
		ts.Close()
		if !providers.IsInDoubt(err) {
			t.Fatalf("Do: %v, want in doubt", err)
		}
		var apiErr *providers.APIError
		if !errors.As(err, &apiErr) {
			t.Errorf("in-doubt error does not wrap the cloud's answer: %v", err)
		}
		if s.count() != 1 {
			t.Errorf("%d requests, want 1: a write in doubt is never sent again", s.count())
		}
	}
}

func TestWriteRetriedWhenThrottledHonouringRetryAfter(t *testing.T) {
	s := &script{answers: []func(http.ResponseWriter, *http.Request){throttled("3"), status(429, "SlowDown"), status(403, "RequestExpired"), status(200, "{}")}}
	ts := httptest.NewServer(s)
	defer ts.Close()
	m, reg := newTestMetrics()
	c, slept := newTestCaller(t, providers.Config{Metrics: m})
	_, err := c.Do(context.Background(), Request{Operation: "Modify", Write: true, Method: "GET", URL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	if s.count() != 4 {
		t.Errorf("%d requests, want 4", s.count())
	}
	if len(*slept) != 3 || (*slept)[0] < 3*time.Second {
		t.Errorf("slept %v, want 3 waits, the first at least Retry-After (3s)", *slept)
	}
	if got := counter(t, reg, "reimage_api_retries_total", "provider", "p1", "reason", "throttled"); got != 2 {
		t.Errorf("retries{throttled} = %v, want 2", got)
	}
	if got := counter(t, reg, "reimage_api_retries_total", "provider", "p1", "reason", "rejected"); got != 1 {
		t.Errorf("retries{rejected} = %v, want 1", got)
	}
}

func TestThrottledToTheEndIsNotInDoubt(t *testing.T) {
	s := &script{answers: []func(http.ResponseWriter, *http.Request){throttled("0")}}
	ts := httptest.NewServer(s)
	defer ts.Close()
	c, _ := newTestCaller(t, providers.Config{Retry: providers.RetryPolicy{MaxThrottledAttempts: 5}})
	_, err := c.Do(context.Background(), Request{Operation: "Modify", Write: true, Method: "GET", URL: ts.URL})
	if providers.IsInDoubt(err) || !providers.IsThrottled(err) {
		t.Fatalf("Do: %v, want a throttling *APIError", err)
	}
	if s.count() != 5 {
		t.Errorf("%d requests, want 5", s.count())
	}
}

func TestFinalErrorNotRetried(t *testing.T) {
	s := &script{answers: []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Request-Id", "req-42")
		w.WriteHeader(400)
		w.Write([]byte("InvalidParameter"))
	}}}
	ts := httptest.NewServer(s)
	defer ts.Close()
	c, _ := newTestCaller(t, providers.Config{Name: "kec-bj"})
	_, err := c.Do(context.Background(), Request{Operation: "Describe", Resource: "i-1", Method: "GET", URL: ts.URL})
	var apiErr *providers.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("Do: %v", err)
	}
	want := providers.APIError{Type: "test", Provider: "kec-bj", Operation: "Describe", Resource: "i-1", Code: "InvalidParameter", Message: "refused", HTTPStatus: 400, RequestID: "req-42"}
	if *apiErr != want {
		t.Errorf("got %+v, want %+v", *apiErr, want)
	}
	if got := err.Error(); got != "test kec-bj: Describe i-1: InvalidParameter (HTTP 400, request req-42): refused" {
		t.Errorf("Error() = %q", got)
	}
	if s.count() != 1 {
		t.Errorf("%d requests, want 1", s.count())
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestWriteRetriedWhenConnectionRefused(t *testing.T) {
	c, slept := newTestCaller(t, providers.Config{Retry: providers.RetryPolicy{MaxAttempts: 3}})
	url := "http://" + closedPort(t) + "/?Action=Modify&InstancePassword=Sup3rSecret"
	_, err := c.Do(context.Background(), Request{Operation: "Modify", Write: true, Method: "GET", URL: url})
	if err == nil || providers.IsInDoubt(err) {
		t.Fatalf("Do: %v, want a network error that is not in doubt (nothing was sent)", err)
	}
	if len(*slept) != 2 {
		t.Errorf("%d retries, want 2", len(*slept))
	}
	if strings.Contains(err.Error(), "Sup3rSecret") {
		t.Errorf("the error shows the query's password: %v", err)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Write([]byte("{}"))
	}))
	defer ts.Close()
	defer close(release)
	m, reg := newTestMetrics()
	c, _ := newTestCaller(t, providers.Config{RequestTimeout: 50 * time.Millisecond, Metrics: m})
	if _, err := c.Do(context.Background(), Request{Operation: "Describe", Method: "GET", URL: ts.URL}); err != nil {
		t.Fatalf("a read that timed out once: %v", err)
	}
	if got := counter(t, reg, "reimage_api_retries_total", "provider", "p1", "reason", "timeout"); got != 1 {
		t.Errorf("retries{timeout} = %v, want 1", got)
	}
	n.Store(0)
	_, err := c.Do(context.Background(), Request{Operation: "Modify", Write: true, Method: "GET", URL: ts.URL})
	if !providers.IsInDoubt(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a write that timed out: %v, want in doubt", err)
	}
	if n.Load() != 1 {
		t.Errorf("%d write requests, want 1", n.Load())
	}
}

// TestWriteNotReplayedByTransport: net/http resends a GET by itself when a
// reused connection breaks after the request was written; KEC writes are
// GETs, and that would send a change twice.
func TestWriteNotReplayedByTransport(t *testing.T) {
	var writes atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("Action") != "Modify" {
			w.Write([]byte("{}"))
			return
		}
		writes.Add(1)
		// Take the request, then drop the connection without an answer.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer ts.Close()
	c, _ := newTestCaller(t, providers.Config{})
	// A read first, so that the write goes out on a reused connection.
	if _, err := c.Do(context.Background(), Request{Operation: "Describe", Method: "GET", URL: ts.URL + "/?Action=Describe"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Do(context.Background(), Request{Operation: "Modify", Write: true, Method: "GET", URL: ts.URL + "/?Action=Modify"})
	if !providers.IsInDoubt(err) {
		t.Fatalf("Do: %v, want in doubt", err)
	}
	if writes.Load() != 1 {
		t.Errorf("the write reached the server %d times, want 1", writes.Load())
	}
}

// TestContextEndsRetries: a context that ends during a retry's backoff ends
// the call then, not after the backoff (on a synctest bubble's clock: exactly
// when the context ends).
func TestContextEndsRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The backoff is full jitter (uniform in [0, 1s]), so a retry may
		// come before the deadline; what must hold is that no call is made
		// after it and that Do returns when it passes, not when a backoff ends.
		var mu sync.Mutex
		var at []time.Duration
		start := time.Now()
		oops := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			at = append(at, time.Since(start))
			mu.Unlock()
			return &http.Response{StatusCode: http.StatusInternalServerError, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("Oops")), Request: r}, nil
		})
		c := NewCaller(providers.Config{Retry: providers.RetryPolicy{BaseDelay: time.Second, MaxDelay: time.Second}, HTTPClient: &http.Client{Transport: oops}}, testDialect)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := c.Do(ctx, Request{Operation: "Describe", Method: "GET", URL: "http://cloud.invalid/"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Do: %v, want the context's error", err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("Do returned after %v, want when the context ended (100ms), not when a backoff ended", d)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(at) == 0 || at[0] != 0 {
			t.Fatalf("calls at %v, want the first at once", at)
		}
		for _, d := range at {
			if d >= 100*time.Millisecond {
				t.Errorf("a call at %v, after the context ended (calls at %v)", d, at)
			}
		}
	})
}

// TestLimiterWaitCounted: the waits for the rate limiter's tokens are counted,
// exactly, on a synctest bubble's clock (the transport answers in memory: a
// socket's goroutines would keep the bubble's clock from moving).
func TestLimiterWaitCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		answer := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
		})
		m, reg := newTestMetrics()
		c, _ := newTestCaller(t, providers.Config{Metrics: m, RequestsPerSecond: 20, Burst: 1, HTTPClient: &http.Client{Transport: answer}})
		start := time.Now()
		for range 5 {
			if _, err := c.Do(context.Background(), Request{Operation: "Describe", Method: "GET", URL: "http://cloud.invalid/"}); err != nil {
				t.Fatal(err)
			}
		}
		// The first call takes the burst; each of the other four waits 50ms.
		if d := time.Since(start); d != 200*time.Millisecond {
			t.Errorf("5 calls at 20/s with burst 1 took %v, want 200ms", d)
		}
		if got := counter(t, reg, "reimage_rate_limit_wait_seconds_total", "provider", "p1"); got != 0.2 {
			t.Errorf("rate_limit_wait_seconds_total = %v, want 0.2", got)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "2": 2 * time.Second, "-1": 0, "junk": 0, "3600": time.Minute,
		now.Add(5 * time.Second).Format(http.TimeFormat): 5 * time.Second,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestBackoffFullJitterCapped(t *testing.T) {
	p := withDefaults(providers.RetryPolicy{})
	for n := range 40 {
		for range 20 {
			d := backoff(p, n)
			if d < 0 || d > p.MaxDelay || d > p.BaseDelay<<min(n, 20) {
				t.Fatalf("backoff(%d) = %v", n, d)
			}
		}
	}
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestWriteBodyNotRewindable: a write with a body reaches the transport with no GetBody, so that
// neither HTTP/1 nor HTTP/2 (which replays a request after GOAWAY or a refused stream when it can
// rewind the body) sends it a second time by itself; a read keeps GetBody.
func TestWriteBodyNotRewindable(t *testing.T) {
	for _, write := range []bool{true, false} {
		var rewindable atomic.Bool
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			rewindable.Store(r.GetBody != nil)
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
		})
		c, _ := newTestCaller(t, providers.Config{HTTPClient: &http.Client{Transport: rt}})
		_, err := c.Do(context.Background(), Request{Operation: "ChangeOS", Write: write, Method: "POST", URL: "http://127.0.0.1:1/x", Body: []byte(`{"os-change":{}}`)})
		if err != nil {
			t.Fatal(err)
		}
		if rewindable.Load() == write {
			t.Errorf("write=%v: GetBody set=%v", write, rewindable.Load())
		}
	}
}

// TestGarbledAnswerToWriteIsInDoubt: a 2xx answer that cannot be read is in doubt for a write
// (the cloud said yes; what it did is unknown) and a plain error for a read.
func TestGarbledAnswerToWriteIsInDoubt(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(status(200, `{"job_id": "0a1b`)))
	defer ts.Close()
	c, _ := newTestCaller(t, providers.Config{})
	for _, write := range []bool{true, false} {
		r := Request{Operation: "ChangeOS", Write: write, Resource: "i-1", Method: "POST", URL: ts.URL}
		resp, err := c.Do(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ JobID string }
		err = c.Decode(r, resp, &out)
		if err == nil {
			t.Fatal("a garbled answer decoded")
		}
		if providers.IsInDoubt(err) != write {
			t.Errorf("write=%v: %v, in doubt=%v", write, err, providers.IsInDoubt(err))
		}
		if !strings.Contains(err.Error(), "ChangeOS i-1") || !strings.Contains(err.Error(), "reading the answer (HTTP 200)") {
			t.Errorf("error does not say what and where: %v", err)
		}
	}
}

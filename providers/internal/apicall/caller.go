// Package apicall sends a driver's API calls: rate limited, signed afresh
// for every attempt, and retried by the write-safety rule (a write is sent
// again only when the answer proves the cloud did not accept it).
package apicall

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/internal/ratelimit"
)

// withDefaults fills in the defaults of what p leaves unset.
func withDefaults(p providers.RetryPolicy) providers.RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 8
	}
	if p.MaxThrottledAttempts <= 0 {
		p.MaxThrottledAttempts = 40
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 200 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 10 * time.Second
	}
	return p
}

// backoff is "full jitter": a uniform random delay in [0, min(cap, base·2^n)),
// which spreads the retries of many callers hit by the same outage.
func backoff(p providers.RetryPolicy, retry int) time.Duration {
	d := p.MaxDelay
	if retry < 30 {
		if e := p.BaseDelay << retry; e > 0 && e < d {
			d = e
		}
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// Dialect is what the shared plumbing needs to know of one cloud's API.
type Dialect struct {
	// Type is the provider type, the driver's Type.
	Type string
	// Prepare sets the cloud's headers and signs req (at time now); body is
	// the exact bytes req sends. It runs for every attempt so that each
	// carries a fresh signature date.
	Prepare func(req *http.Request, body []byte, now time.Time) error
	// ParseError returns the cloud's error in an answer, or nil when the answer
	// is a success. Type, Provider, Operation, Resource and HTTPStatus are
	// filled in by the caller when left empty.
	ParseError func(status int, header http.Header, body []byte) *providers.APIError
	// ThrottleCodes are error codes that mean "slow down": the call was not accepted.
	ThrottleCodes map[string]bool
	// RejectedCodes are error codes that prove the call was refused before it
	// was processed and that may pass on a new attempt (signature date errors).
	RejectedCodes map[string]bool
	// ServerErrorCodes are error codes of a failure on the cloud's side,
	// retried like a 5xx: reads again, writes reported in doubt.
	ServerErrorCodes map[string]bool
}

// Request is one API call.
type Request struct {
	// Operation names the call in metrics, errors and the simulator's stats.
	Operation string
	// Write marks a call that changes something. A write is sent again only
	// when the answer proves the cloud did not accept it.
	Write bool
	// Resource names what the call is about (an instance id, "12 instances"), for errors.
	Resource string
	Method   string
	URL      string
	Header   http.Header
	Body     []byte
}

// Response is a successful answer, read in full.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Caller sends API calls for one provider: every attempt waits on the
// provider's limiter, is prepared and signed afresh, runs under the per-request
// timeout, and is retried according to the write-safety rule.
//
// The layers are those of a round-tripper stack (retry, then rate limit, then
// sign, then the transport), written as one loop because the retry decision
// needs the cloud's parsed error and whether the request left this process.
type Caller struct {
	provider string
	dialect  Dialect
	limiter  *ratelimit.Limiter
	metrics  *providers.APIMetrics
	client   *http.Client
	timeout  time.Duration
	policy   providers.RetryPolicy
	logger   *slog.Logger
	// sleep waits between attempts; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewCaller builds the caller of one provider from its Config.
func NewCaller(cfg providers.Config, d Dialect) *Caller {
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Transport: defaultTransport()}
	}
	// Never follow redirects: a signed call answered elsewhere is an error to
	// report, not something to replay to another host.
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	timeout := cfg.RequestTimeout
	if timeout <= 0 {
		timeout = providers.DefaultRequestTimeout
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg.Metrics.InitProvider(cfg.Name)
	return &Caller{
		provider: cfg.Name,
		dialect:  d,
		limiter:  ratelimit.NewLimiter(cfg.RequestsPerSecond, cfg.Burst),
		metrics:  cfg.Metrics,
		client:   &c,
		timeout:  timeout,
		policy:   withDefaults(cfg.Retry),
		logger:   logger,
		sleep:    sleepCtx,
	}
}

// Limiter returns the provider's token bucket.
func (c *Caller) Limiter() *ratelimit.Limiter { return c.limiter }

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// outcome classifies one attempt.
type outcome int

const (
	outcomeOK outcome = iota
	outcomeFinal
	outcomeThrottled
	outcomeRejected
	outcomeServerError
	outcomeNetwork
	outcomeTimeout
)

// reason is the retry metric's label of an outcome.
func (o outcome) reason() string {
	switch o {
	case outcomeThrottled:
		return "throttled"
	case outcomeRejected:
		return "rejected"
	case outcomeServerError:
		return "server_error"
	case outcomeNetwork:
		return "network"
	case outcomeTimeout:
		return "timeout"
	}
	return "none"
}

type attemptResult struct {
	outcome    outcome
	resp       *Response
	err        error
	sent       bool // the request (at least its headers) left this process
	retryAfter time.Duration
}

// Do sends r, retrying as the write-safety rule allows, and returns the answer
// of the first successful attempt. Errors: *providers.APIError when the cloud refused
// the call, *providers.InDoubtError when a write may have been accepted, otherwise a
// network or context error (never containing the request's query or body).
func (c *Caller) Do(ctx context.Context, r Request) (*Response, error) {
	var last attemptResult
	throttled, others := 0, 0
	for {
		wait, err := c.limiter.Wait(ctx, r.Write)
		c.metrics.ObserveWait(c.provider, wait)
		if err != nil {
			return nil, c.giveUp(r, last, fmt.Errorf("waiting for the rate limiter: %w", contextErr(ctx, err)))
		}
		res := c.attempt(ctx, r)
		switch res.outcome {
		case outcomeOK:
			c.limiter.Succeeded()
			return res.resp, nil
		case outcomeFinal:
			return nil, res.err
		case outcomeThrottled:
			c.limiter.Throttled()
			throttled++
		default:
			others++
		}
		if ctx.Err() != nil {
			// The caller gave up; a sent write is in doubt whatever the attempt said.
			if r.Write && res.sent && res.outcome != outcomeThrottled && res.outcome != outcomeRejected {
				return nil, c.inDoubt(r, res.err)
			}
			return nil, c.giveUp(r, res, ctx.Err())
		}
		if r.Write && res.sent && (res.outcome == outcomeServerError || res.outcome == outcomeNetwork || res.outcome == outcomeTimeout) {
			return nil, c.inDoubt(r, res.err)
		}
		last = res
		if throttled >= c.policy.MaxThrottledAttempts || others >= c.policy.MaxAttempts ||
			(res.outcome == outcomeRejected && others >= 3) {
			return nil, res.err
		}
		delay := backoff(c.policy, throttled+others-1)
		if res.retryAfter > delay {
			delay = res.retryAfter
		}
		c.metrics.ObserveRetry(c.provider, res.outcome.reason())
		c.logger.Debug("retrying API call", "provider", c.provider, "operation", r.Operation,
			"reason", res.outcome.reason(), "attempt", throttled+others, "delay", delay, "error", res.err)
		if err := c.sleep(ctx, delay); err != nil {
			return nil, c.giveUp(r, res, err)
		}
	}
}

// Decode unmarshals the JSON answer of r into out. An answer that says 2xx
// but cannot be read (cut short, garbled by a proxy) is, for a write, in
// doubt: the cloud may have acted on it. For a read it is an error.
func (c *Caller) Decode(r Request, resp *Response, out any) error {
	if err := json.Unmarshal(resp.Body, out); err != nil {
		err = fmt.Errorf("reading the answer (HTTP %d): %w", resp.StatusCode, err)
		if r.Write {
			return c.inDoubt(r, err)
		}
		return fmt.Errorf("%s: %w", providers.ErrorPrefix(c.dialect.Type, c.provider, r.Operation, r.Resource), err)
	}
	return nil
}

// giveUp returns the error of a call abandoned for cause (the context ended),
// keeping the last attempt's error for people.
func (c *Caller) giveUp(r Request, last attemptResult, cause error) error {
	if last.err == nil {
		return fmt.Errorf("%s: %w", providers.ErrorPrefix(c.dialect.Type, c.provider, r.Operation, r.Resource), cause)
	}
	return fmt.Errorf("%w (last attempt: %v)", cause, last.err)
}

func (c *Caller) inDoubt(r Request, cause error) error {
	return &providers.InDoubtError{Type: c.dialect.Type, Provider: c.provider, Operation: r.Operation, Resource: r.Resource, Cause: cause}
}

func contextErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// noReplayBody is the body of a write without one (a cloud whose writes are GETs): a
// non-nil body without GetBody makes net/http treat the request as not
// replayable, so the transport never resends it by itself on a reused
// connection that broke after the request was written. It reads as empty, and
// the transport sends no body for it.
type noReplayBody struct{}

func (noReplayBody) Read([]byte) (int, error) { return 0, io.EOF }
func (noReplayBody) Close() error             { return nil }

func (c *Caller) attempt(ctx context.Context, r Request) attemptResult {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var sent atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		WroteHeaders: func() { sent.Store(true) },
	})
	var body io.Reader
	if len(r.Body) > 0 {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(actx, r.Method, r.URL, body)
	if err != nil {
		return attemptResult{outcome: outcomeFinal, err: fmt.Errorf("%s: building the request: %w",
			providers.ErrorPrefix(c.dialect.Type, c.provider, r.Operation, r.Resource), redactURLError(err))}
	}
	for k, vs := range r.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if err := c.dialect.Prepare(req, r.Body, time.Now()); err != nil {
		return attemptResult{outcome: outcomeFinal, err: fmt.Errorf("%s: signing the request: %w",
			providers.ErrorPrefix(c.dialect.Type, c.provider, r.Operation, r.Resource), err)}
	}
	if r.Write {
		// A write is never resent by net/http itself: without GetBody neither
		// transport can rewind the body, and HTTP/2 would otherwise replay it
		// on a new connection after a GOAWAY or a reset stream, when the
		// first copy may have been processed. Resending is decided here only.
		req.GetBody = nil
		if req.Body == nil {
			req.Body = noReplayBody{}
		}
	}

	start := time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		out, code := outcomeNetwork, "network"
		if actx.Err() != nil && ctx.Err() == nil {
			out, code = outcomeTimeout, "timeout"
		}
		c.metrics.ObserveRequest(c.provider, r.Operation, code, time.Since(start))
		return attemptResult{outcome: out, sent: sent.Load(), err: fmt.Errorf("%s: %w",
			providers.ErrorPrefix(c.dialect.Type, c.provider, r.Operation, r.Resource), redactURLError(err))}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	resp.Body.Close()
	if err != nil {
		out, code := outcomeNetwork, "network"
		if actx.Err() != nil && ctx.Err() == nil {
			out, code = outcomeTimeout, "timeout"
		}
		c.metrics.ObserveRequest(c.provider, r.Operation, code, time.Since(start))
		return attemptResult{outcome: out, sent: true, err: fmt.Errorf("%s: reading the answer (HTTP %d): %w",
			providers.ErrorPrefix(c.dialect.Type, c.provider, r.Operation, r.Resource), resp.StatusCode, err)}
	}
	c.metrics.ObserveRequest(c.provider, r.Operation, strconv.Itoa(resp.StatusCode), time.Since(start))

	apiErr := c.dialect.ParseError(resp.StatusCode, resp.Header, data)
	if apiErr == nil {
		return attemptResult{outcome: outcomeOK, sent: true, resp: &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: data}}
	}
	if apiErr.Type == "" {
		apiErr.Type = c.dialect.Type
	}
	if apiErr.Provider == "" {
		apiErr.Provider = c.provider
	}
	if apiErr.Operation == "" {
		apiErr.Operation = r.Operation
	}
	if apiErr.Resource == "" {
		apiErr.Resource = r.Resource
	}
	if apiErr.HTTPStatus == 0 {
		apiErr.HTTPStatus = resp.StatusCode
	}
	if apiErr.RequestID == "" {
		apiErr.RequestID = resp.Header.Get("X-Request-Id")
	}
	res := attemptResult{outcome: outcomeFinal, sent: true, err: apiErr}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || c.dialect.ThrottleCodes[apiErr.Code]:
		apiErr.Throttled = true
		res.outcome = outcomeThrottled
		res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	case c.dialect.RejectedCodes[apiErr.Code]:
		res.outcome = outcomeRejected
	case resp.StatusCode >= 500 || c.dialect.ServerErrorCodes[apiErr.Code]:
		res.outcome = outcomeServerError
		res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return res
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date; it caps the
// wait at a minute so that a wild header cannot stall a run.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(v); err == nil {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d < 0 {
		return 0
	}
	return min(d, time.Minute)
}

// redactURLError drops the URL from a *url.Error: a write sent as a GET carries
// every parameter, the instance password included, in its query.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// defaultTransport has timeouts on every phase of a connection; the total
// time of an attempt is bounded by the per-request context instead.
func defaultTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
}

package providers

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config is what a cloud client needs: where to call, with which credentials,
// how fast, and where to report.
type Config struct {
	// Name is the plan's provider name; it is the "provider" label of the API metrics.
	Name     string
	Region   string
	Endpoint string // "" = the cloud's default; http only to loopback (error otherwise)
	// Settings are the plan's provider fields only this cloud takes
	// (plan.Provider.Settings), by name.
	Settings map[string]string
	// AccessKey and SecretKey are the resolved credentials; they never appear in errors or logs.
	AccessKey, SecretKey string
	// RequestsPerSecond and Burst size the provider's one token bucket (0: the plan's default).
	RequestsPerSecond float64
	Burst             int
	Metrics           *APIMetrics  // may be nil
	HTTPClient        *http.Client // nil = a sensible default with timeouts
	// RequestTimeout bounds one attempt of one request; default 30s.
	RequestTimeout time.Duration
	Logger         *slog.Logger // may be nil; never logs secrets
	// Retry tunes retries and backoff; the zero value means the defaults.
	Retry RetryPolicy
	// BatchWindow is how long concurrent single-instance calls are gathered
	// into one batch call; default 30ms.
	BatchWindow time.Duration
	// StatusWindow is the gathering window of status polls; default 5ms. The
	// engine polls on shared ticks, so a tick's polls arrive together and a
	// short window gathers them without delaying every poll by BatchWindow.
	StatusWindow time.Duration
}

// RetryPolicy tunes retries. The zero value means the defaults (the
// caller's, providers/internal/apicall).
type RetryPolicy struct {
	// MaxAttempts bounds the attempts of a call that keeps failing with a
	// retryable error other than throttling (default 8).
	MaxAttempts int
	// MaxThrottledAttempts bounds the attempts of a call the cloud keeps
	// throttling (default 40): throttling says nothing is wrong, only that we
	// must wait, so it gets more patience. The context bounds both.
	MaxThrottledAttempts int
	// BaseDelay and MaxDelay shape the capped exponential backoff (200ms, 10s).
	BaseDelay, MaxDelay time.Duration
}

// ProjectSetting is the setting of a cloud whose API is scoped to a project
// as well as a region (Driver.NeedsProject): the plan's projectId.
const ProjectSetting = "projectId"

// DefaultStatusWindow is the gathering window of status polls.
const DefaultStatusWindow = 5 * time.Millisecond

// StatusWindowOrDefault is StatusWindow, or DefaultStatusWindow when unset.
func (c Config) StatusWindowOrDefault() time.Duration {
	if c.StatusWindow > 0 {
		return c.StatusWindow
	}
	return DefaultStatusWindow
}

// DefaultRequestTimeout bounds one attempt of one request when Config sets none.
const DefaultRequestTimeout = 30 * time.Second

// DefaultBatchWindow is the gathering window of the coalescers.
const DefaultBatchWindow = 30 * time.Millisecond

// CheckEndpoint parses an endpoint URL and refuses plain http except to a
// loopback address (the simulator): credentials and passwords must not cross a
// network in clear text.
func CheckEndpoint(endpoint string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("endpoint %q: want an absolute URL like https://host", endpoint)
	}
	if u.User != nil {
		return nil, fmt.Errorf("endpoint %s: must not carry user information", u.Redacted())
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopback(u.Hostname()) {
			return nil, fmt.Errorf("endpoint %s: plain http is allowed only to a loopback address; use https", u.Redacted())
		}
	default:
		return nil, fmt.Errorf("endpoint %s: scheme must be https", u.Redacted())
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// IsLoopback reports whether host names this machine only: "localhost" or a
// loopback IP address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

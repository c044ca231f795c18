package providers

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// APIError is an answer in which the cloud refused a call. It keeps what the
// cloud said so that people (and the journal) can quote it.
type APIError struct {
	// Type is the provider type (the driver's Type); Provider the plan's name for it.
	Type, Provider string
	// Operation is the API operation, named as the cloud's API or official SDK names it.
	Operation string
	// Resource is the instance (or job) the error is about, when there is one.
	Resource string
	// Code and Message are the cloud's error code and message.
	Code, Message string
	// HTTPStatus is the HTTP status of the answer (200 for a failed entry of a batch).
	HTTPStatus int
	// RequestID is the cloud's request id (body or X-Request-Id).
	RequestID string
	// Throttled says the cloud refused the call for its rate limit.
	Throttled bool
}

// Error reads like "TYPE PROVIDER: OPERATION 9828…: CODE (HTTP 400, request 1a2b…): message".
func (e *APIError) Error() string {
	var b strings.Builder
	if p := ErrorPrefix(e.Type, e.Provider, e.Operation, e.Resource); p != "" {
		b.WriteString(p)
		b.WriteString(": ")
	}
	if e.Code != "" {
		b.WriteString(e.Code)
		b.WriteByte(' ')
	}
	fmt.Fprintf(&b, "(HTTP %d", e.HTTPStatus)
	if e.RequestID != "" {
		fmt.Fprintf(&b, ", request %s", e.RequestID)
	}
	b.WriteByte(')')
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// prefix renders "type name: Operation resource", leaving out what is empty.
func ErrorPrefix(typ, name, op, resource string) string {
	var parts []string
	for _, s := range []string{typ, name} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	head := strings.Join(parts, " ")
	tail := strings.TrimSpace(op + " " + resource)
	switch {
	case head == "":
		return tail
	case tail == "":
		return head
	}
	return head + ": " + tail
}

// InDoubtError says a write may or may not have been accepted by the cloud: the
// request was sent but no conclusive answer came back (timeout, 5xx, connection
// lost). It must not be retried blindly; ask the cloud (Progress, Status) first.
type InDoubtError struct {
	Type, Provider, Operation, Resource string
	// Cause is what went wrong: a network error, a timeout, an *APIError with a 5xx status…
	Cause error
}

// Error explains that the outcome is unknown and why.
func (e *InDoubtError) Error() string {
	return fmt.Sprintf("%s: outcome unknown, the cloud may have accepted it: %v",
		ErrorPrefix(e.Type, e.Provider, e.Operation, e.Resource), e.Cause)
}

// Unwrap returns the cause.
func (e *InDoubtError) Unwrap() error { return e.Cause }

// IsInDoubt reports whether err says a write may have been accepted.
func IsInDoubt(err error) bool {
	var d *InDoubtError
	return errors.As(err, &d)
}

// IsThrottled reports whether err is the cloud refusing a call for its rate limit.
func IsThrottled(err error) bool {
	var a *APIError
	return errors.As(err, &a) && a.Throttled
}

// ErrorCode returns the cloud's error code in err, or "" when err carries none.
func ErrorCode(err error) string {
	var a *APIError
	if errors.As(err, &a) {
		return a.Code
	}
	return ""
}

// WithResource returns err with its Resource set to id when err is (or wraps at
// its top) an *APIError or *InDoubtError; a batch error is copied per caller so
// that every caller's error names its own instance. Other errors are wrapped.
func WithResource(err error, id string) error {
	switch e := err.(type) {
	case nil:
		return nil
	case *APIError:
		c := *e
		c.Resource = id
		return &c
	case *InDoubtError:
		c := *e
		c.Resource = id
		return &c
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%s: %w", id, err)
}

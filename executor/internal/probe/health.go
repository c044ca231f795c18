// Package probe asks, from outside the cloud, whether an instance and the
// service may go on: an instance's health check (HTTP, TCP or a command) and
// its hooks, with the instance's fields in their templates, and the rollout's
// Prometheus gates. What the engine does with the answers is its own.
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/reimage-dev/reimage/plan"
)

// healthClient makes the HTTP health checks: no redirects followed (a health
// endpoint that redirects answers its own status), no keep-alive between checks
// (a fresh boot must accept a new connection).
var healthClient = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// AwaitHealthy checks every interval until a check passes or timeout has passed
// since the first one; the error names the last check's failure.
func AwaitHealthy(ctx context.Context, h *plan.Health, v plan.TemplateVars) error {
	deadline := time.Now().Add(h.Timeout)
	checks := 0
	for {
		// One check may take at most an interval (and never past the deadline by much):
		// a check that hangs is a failed one.
		bound := max(h.Interval, 500*time.Millisecond)
		cctx, cancel := context.WithTimeout(ctx, bound)
		err := Check(cctx, h, v)
		if err != nil && errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			// "context deadline exceeded" would not tell an operator that the
			// instance never answered.
			err = &noAnswerError{check: checkName(h, v), bound: bound, err: err}
		}
		cancel()
		checks++
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while unhealthy: %w", err)
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			checksText := fmt.Sprintf("%d checks", checks)
			if checks == 1 {
				checksText = "1 check"
			}
			return fmt.Errorf("unhealthy after %s (health timeout, %s): %w", h.Timeout, checksText, err)
		}
		if !sleep(ctx, min(h.Interval, wait)) {
			return fmt.Errorf("interrupted while unhealthy: %w", err)
		}
	}
}

// Check runs one health check of the instance of v.
func Check(ctx context.Context, h *plan.Health, v plan.TemplateVars) error {
	switch {
	case h.HTTP != nil:
		u, err := h.HTTP.URL.Render(v)
		if err != nil {
			return err
		}
		if v.PrivateIP == "" && strings.Contains(h.HTTP.URL.Text, ".PrivateIP") {
			return errors.New("the cloud reported no private address for the instance")
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return fmt.Errorf("health URL: %w", err)
		}
		resp, err := healthClient.Do(req)
		if err != nil {
			return fmt.Errorf("GET %s: %w", u, unwrapURL(err))
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode != h.HTTP.Status {
			return fmt.Errorf("GET %s answered %d, want %d", u, resp.StatusCode, h.HTTP.Status)
		}
		return nil
	case h.TCP != nil:
		if v.PrivateIP == "" {
			return errors.New("the cloud reported no private address for the instance")
		}
		addr := net.JoinHostPort(v.PrivateIP, strconv.Itoa(h.TCP.Port))
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("connect %s: %w", addr, unwrapOp(err))
		}
		c.Close()
		return nil
	case h.Exec != nil:
		return runCommand(ctx, h.Exec.Command, v)
	}
	return errors.New("no health check configured")
}

// noAnswerError is a check that got no answer within its bound (a machine
// down, a service that accepts nothing, a command that hangs).
type noAnswerError struct {
	check string
	bound time.Duration
	err   error
}

func (e *noAnswerError) Error() string {
	return fmt.Sprintf("%s: no answer within %s (each check is bounded by the health interval, at least 500ms)", e.check, e.bound)
}
func (e *noAnswerError) Unwrap() error { return e.err }

// checkName names a check for its errors: GET URL, connect ADDR, or the command.
func checkName(h *plan.Health, v plan.TemplateVars) string {
	switch {
	case h.HTTP != nil:
		if u, err := h.HTTP.URL.Render(v); err == nil {
			return "GET " + u
		}
		return "GET " + h.HTTP.URL.Text
	case h.TCP != nil:
		return "connect " + net.JoinHostPort(v.PrivateIP, strconv.Itoa(h.TCP.Port))
	case h.Exec != nil && len(h.Exec.Command) > 0:
		if args, err := plan.RenderAll(h.Exec.Command, v); err == nil {
			return args[0]
		}
		return h.Exec.Command[0].Text
	}
	return "health check"
}

// unwrapURL drops the *url.Error wrapper, whose text repeats the method and URL.
func unwrapURL(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return unwrapOp(inner)
		}
	}
	return err
}

// unwrapOp drops the *net.OpError wrapper, whose text repeats the address.
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// RunHook runs a hook with its timeout.
func RunHook(ctx context.Context, hk *plan.Hook, v plan.TemplateVars) error {
	hctx, cancel := context.WithTimeout(ctx, hk.Timeout)
	defer cancel()
	err := runCommand(hctx, hk.Command, v)
	if err != nil && errors.Is(hctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("%s: killed after %s (hook timeout)", hk.Command[0].Text, hk.Timeout)
	}
	return err
}

// runCommand runs a templated command (no shell) with the REIMAGE_* variables
// added to reimage's environment; its error quotes the end of its output.
func runCommand(ctx context.Context, argv []*plan.Template, v plan.TemplateVars) error {
	args, err := plan.RenderAll(argv, v)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(cmd.Environ(), v.Env()...)
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A command that leaves a child holding its output must not hold the run.
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if s := out.String(); s != "" {
			return fmt.Errorf("%s: %v: %s", args[0], err, s)
		}
		return fmt.Errorf("%s: %v", args[0], err)
	}
	return nil
}

// tailBuffer keeps the last bytes a command wrote, for its error message.
type tailBuffer struct{ b []byte }

const tailMax = 512

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = append(t.b[:0], t.b[len(t.b)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	s := string(t.b)
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}

// sleep waits d, or less when ctx ends first; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

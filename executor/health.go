package executor

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
	"github.com/reimage-dev/reimage/providers"
)

// Steps of the rollout gates an instance goes through (events, journal reasons).
const (
	StepBeforeHook = "before_hook"
	StepWarmup     = "warmup"
	StepHealth     = "health"
	StepAfterHook  = "after_hook"
)

// healthClient makes the HTTP health checks: no redirects followed (a health
// endpoint that redirects answers its own status), no keep-alive between checks
// (a fresh boot must accept a new connection).
var healthClient = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// vars returns the template fields of an instance, asking the cloud for its
// private address when the rollout's gates need one.
func (e *Executor) vars(ctx context.Context, prov providers.Provider, in *plan.Instance, known providers.Instance) plan.TemplateVars {
	v := plan.TemplateVars{ID: in.ID, Name: in.Name, Provider: in.Provider, Image: in.Image, PrivateIP: known.PrivateIP}
	if v.PrivateIP == "" {
		if st, err := prov.Status(ctx, in.ID); err == nil {
			v.PrivateIP = st.PrivateIP
		}
	}
	return v
}

// needsVars reports whether the rollout runs anything per instance that uses its fields.
func needsVars(r plan.Rollout) bool {
	return r.Health != nil || r.Hooks.Before != nil || r.Hooks.After != nil
}

// afterChange proves a changed instance: health (warmup, then checks until
// healthy or timeout), then the after hook. Its error fails the instance, which
// was changed and is left as it is.
func (e *Executor) afterChange(ctx context.Context, prov providers.Provider, in *plan.Instance, known providers.Instance, step func(string)) error {
	r := e.opts.Plan.Rollout
	if !needsVars(r) || r.Health == nil && r.Hooks.After == nil {
		return nil
	}
	v := e.vars(ctx, prov, in, known)
	if h := r.Health; h != nil {
		if h.Warmup > 0 {
			step(StepWarmup)
			if !sleep(ctx, h.Warmup, nil) {
				return &stepError{StepWarmup, ctx.Err()}
			}
		}
		step(StepHealth)
		if err := awaitHealthy(ctx, h, v); err != nil {
			return &stepError{StepHealth, err}
		}
	}
	if hk := r.Hooks.After; hk != nil {
		step(StepAfterHook)
		if err := runHook(ctx, hk, v); err != nil {
			return &stepError{StepAfterHook, err}
		}
	}
	return nil
}

// beforeChange runs the before hook; its error leaves the instance untouched.
func (e *Executor) beforeChange(ctx context.Context, prov providers.Provider, in *plan.Instance, step func(string)) error {
	hk := e.opts.Plan.Rollout.Hooks.Before
	if hk == nil {
		return nil
	}
	step(StepBeforeHook)
	if err := runHook(ctx, hk, e.vars(ctx, prov, in, providers.Instance{})); err != nil {
		return &stepError{StepBeforeHook, fmt.Errorf("%w; the instance was not touched", err)}
	}
	return nil
}

// awaitHealthy checks every interval until a check passes or timeout has passed
// since the first one; the error names the last check's failure.
func awaitHealthy(ctx context.Context, h *plan.Health, v plan.TemplateVars) error {
	deadline := time.Now().Add(h.Timeout)
	checks := 0
	for {
		// One check may take at most an interval (and never past the deadline by much):
		// a check that hangs is a failed one.
		bound := max(h.Interval, 500*time.Millisecond)
		cctx, cancel := context.WithTimeout(ctx, bound)
		err := checkOnce(cctx, h, v)
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
		if !sleep(ctx, min(h.Interval, wait), nil) {
			return fmt.Errorf("interrupted while unhealthy: %w", err)
		}
	}
}

// checkOnce runs one health check.
func checkOnce(ctx context.Context, h *plan.Health, v plan.TemplateVars) error {
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

// runHook runs a hook with its timeout.
func runHook(ctx context.Context, hk *plan.Hook, v plan.TemplateVars) error {
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

// failChanged records an instance that was changed but then failed its health
// check or after hook: a failure against the budget, left as it is.
func (e *Executor) failChanged(it *item, w, waves int, err error, elapsed time.Duration) error {
	in := it.c.Instance
	if jerr := e.journal(Record{Event: EventFailed, Provider: in.Provider, ID: in.ID, Image: in.Image, Reason: err.Error()}); jerr != nil {
		return jerr
	}
	// It runs its target, so the next look-up calls it ok: the journal keeps
	// it broken, so that a rerun neither forgets the failure nor converges over
	// it, until a health check passes (provenHealthy) or, after a failed after
	// hook, whose work only a person can finish, until reimage ack.
	step, why := StepHealth, "unhealthy after its change: "
	if lastStep(err) == StepAfterHook {
		step, why = StepAfterHook, "its after hook failed: "
	} else if s := lastStep(err); s != StepHealth && s != StepWarmup {
		step = ""
	}
	if step != "" {
		if jerr := e.journal(Record{Event: EventBroken, Provider: in.Provider, ID: in.ID, Image: in.Image, Step: step,
			WasRunning: it.wasRunning, Reason: why + err.Error()}); jerr != nil {
			return jerr
		}
	}
	e.mu.Lock()
	e.sum.Failed++
	e.failures++
	e.mu.Unlock()
	e.emit(Event{Type: EventInstanceFail, Wave: w, Waves: waves, Change: it.c, Err: err, Elapsed: elapsed})
	return nil
}

// provenHealthy reports whether an instance recorded broken may be called
// healed, beyond what the look-up shows: one its health check found unhealthy
// must pass one check now (the plan's check; with none left in the plan,
// there is nothing to prove); one whose after hook failed never is (only
// reimage ack clears it).
func (e *Executor) provenHealthy(ctx context.Context, c *plan.Change, broken *Record) bool {
	if broken.Step == StepAfterHook {
		return false
	}
	h := e.opts.Plan.Rollout.Health
	if broken.Step != StepHealth || h == nil {
		return true
	}
	prov := e.opts.Providers[c.Instance.Provider]
	if prov == nil {
		return false
	}
	bound := max(h.Interval, 500*time.Millisecond)
	cctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	return checkOnce(cctx, h, e.vars(cctx, prov, c.Instance, providers.Instance{})) == nil
}

package plan

import (
	"fmt"
	"strings"
	"text/template"
	"time"
)

// Health is rollout.health: how an instance is proven healthy after its change.
// Exactly one of HTTP, TCP or Exec is set.
type Health struct {
	// Warmup is waited after the cloud reports the instance running on its target image.
	Warmup time.Duration
	// Timeout bounds the checks after the warmup; unhealthy by then = failed.
	Timeout time.Duration
	// Interval between checks.
	Interval time.Duration
	HTTP     *HTTPCheck
	TCP      *TCPCheck
	Exec     *ExecCheck
}

// Default health timings when the plan does not set them.
const (
	DefaultHealthTimeout  = 5 * time.Minute
	DefaultHealthInterval = 5 * time.Second
	DefaultHookTimeout    = 2 * time.Minute
)

// HTTPCheck: a GET of URL answers Status.
type HTTPCheck struct {
	URL    *Template
	Status int
}

// TCPCheck: a TCP connection to the instance's private address on Port succeeds.
type TCPCheck struct {
	Port int
}

// ExecCheck: Command exits 0.
type ExecCheck struct {
	Command []*Template
}

// Gate is one entry of rollout.gates, checked before every wave after the first.
type Gate struct {
	Prometheus *PrometheusGate
}

// PrometheusGate is an instant query against a Prometheus HTTP API.
type PrometheusGate struct {
	// URL is the server's base URL (the query goes to URL/api/v1/query).
	URL   string
	Query string
	// Expect is what the result must be: ExpectEmpty, or a comparison every sample
	// of the result must satisfy (a comparison on an empty result fails: no data is
	// no proof).
	Expect Expectation
}

// Expectation is a gate's expect: empty, or Op Value.
type Expectation struct {
	Empty bool
	Op    string // one of < <= > >= == !=
	Value float64
}

// String renders the expectation as written in a plan.
func (e Expectation) String() string {
	if e.Empty {
		return "empty"
	}
	return fmt.Sprintf("%s %g", e.Op, e.Value)
}

// Holds reports whether v satisfies the comparison.
func (e Expectation) Holds(v float64) bool {
	switch e.Op {
	case "<":
		return v < e.Value
	case "<=":
		return v <= e.Value
	case ">":
		return v > e.Value
	case ">=":
		return v >= e.Value
	case "==":
		return v == e.Value
	case "!=":
		return v != e.Value
	}
	return false
}

// ParseExpectation reads "empty" or a comparison like "< 1".
func ParseExpectation(s string) (Expectation, error) {
	s = strings.TrimSpace(s)
	if s == "empty" || s == "" {
		return Expectation{Empty: true}, nil
	}
	for _, op := range []string{"<=", ">=", "==", "!=", "<", ">"} {
		if rest, ok := strings.CutPrefix(s, op); ok {
			var v float64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest)+"\n", "%g\n", &v); err != nil {
				break
			}
			return Expectation{Op: op, Value: v}, nil
		}
	}
	return Expectation{}, fmt.Errorf("want empty or a comparison like \"< 1\" (operators < <= > >= == !=), found %q", s)
}

// Window is rollout.window: when instances may start.
type Window struct {
	// Days on which a window opens (at Start, in Location); all days when empty.
	Days []time.Weekday
	// Start and End are times of day; an End at or before Start ends the next day.
	Start, End ClockTime
	// Location is the time zone (TimeZone loaded from the tz database).
	Location *time.Location
	TimeZone string
}

// ClockTime is a time of day, "HH:MM".
type ClockTime struct{ Hour, Minute int }

func (c ClockTime) String() string { return fmt.Sprintf("%02d:%02d", c.Hour, c.Minute) }

// ParseClockTime reads "HH:MM" (00:00 to 24:00).
func ParseClockTime(s string) (ClockTime, error) {
	var c ClockTime
	if len(s) != 5 || s[2] != ':' {
		return c, fmt.Errorf("want a time of day like \"01:30\", found %q", s)
	}
	if _, err := fmt.Sscanf(s, "%2d:%2d", &c.Hour, &c.Minute); err != nil || c.Hour > 24 || c.Minute > 59 || c.Hour == 24 && c.Minute != 0 {
		return ClockTime{}, fmt.Errorf("want a time of day like \"01:30\", found %q", s)
	}
	return c, nil
}

// Open reports whether t falls inside the window and, if so, when the window
// closes. A window opens on each of Days at Start and closes at End (the next day
// when End is not after Start); times are wall-clock times in Location, so a window
// keeps its local hours across daylight saving changes (the tz database decides:
// a Start that does not exist on a spring-forward day is read as time.Date does).
func (w *Window) Open(t time.Time) (bool, time.Time) {
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	// The window that may contain t opened today or (when it crosses midnight) yesterday.
	for back := 0; back <= 1; back++ {
		day := time.Date(lt.Year(), lt.Month(), lt.Day()-back, 0, 0, 0, 0, loc)
		if !w.onDay(day.Weekday()) {
			continue
		}
		start := time.Date(day.Year(), day.Month(), day.Day(), w.Start.Hour, w.Start.Minute, 0, 0, loc)
		endDay := day.Day()
		if !w.End.after(w.Start) {
			endDay++
		}
		end := time.Date(day.Year(), day.Month(), endDay, w.End.Hour, w.End.Minute, 0, 0, loc)
		if !t.Before(start) && t.Before(end) {
			return true, end
		}
	}
	return false, time.Time{}
}

// Next returns when the window next opens at or after t (within a week and a day).
func (w *Window) Next(t time.Time) time.Time {
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	for d := 0; d <= 8; d++ {
		day := time.Date(lt.Year(), lt.Month(), lt.Day()+d, 0, 0, 0, 0, loc)
		if !w.onDay(day.Weekday()) {
			continue
		}
		start := time.Date(day.Year(), day.Month(), day.Day(), w.Start.Hour, w.Start.Minute, 0, 0, loc)
		if !start.Before(t) {
			return start
		}
	}
	return time.Time{}
}

// String renders the window for people: "mon,tue 01:00-05:00 Asia/Shanghai".
func (w *Window) String() string {
	days := "every day"
	if len(w.Days) > 0 {
		names := make([]string, len(w.Days))
		for i, d := range w.Days {
			names[i] = dayNames[d]
		}
		days = strings.Join(names, ",")
	}
	tz := w.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	return fmt.Sprintf("%s %s-%s %s", days, w.Start, w.End, tz)
}

func (w *Window) onDay(d time.Weekday) bool {
	if len(w.Days) == 0 {
		return true
	}
	for _, x := range w.Days {
		if x == d {
			return true
		}
	}
	return false
}

func (c ClockTime) after(o ClockTime) bool {
	return c.Hour*60+c.Minute > o.Hour*60+o.Minute
}

var dayNames = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseWeekday reads a day as written in a plan: mon, tue, … sun.
func ParseWeekday(s string) (time.Weekday, bool) {
	for i, n := range dayNames {
		if n == s {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// Hooks is rollout.hooks: commands run per instance before and after its change.
type Hooks struct {
	Before *Hook
	After  *Hook
}

// Hook is one command with its timeout.
type Hook struct {
	Command []*Template
	Timeout time.Duration
}

// Template is a string with {{.ID}}-style fields (TemplateVars), parsed and
// checked when the plan is loaded.
type Template struct {
	Text string
	t    *template.Template
}

// TemplateVars are the fields a template can use; commands also get them as
// REIMAGE_* environment variables (Env).
type TemplateVars struct {
	ID, Name, Provider, PrivateIP, Image string
}

// TemplateFields lists the fields, for messages.
const TemplateFields = "{{.ID}}, {{.Name}}, {{.Provider}}, {{.PrivateIP}}, {{.Image}}"

// ParseTemplate parses s and checks that it uses only TemplateVars' fields.
func ParseTemplate(s string) (*Template, error) {
	t, err := template.New("").Option("missingkey=error").Parse(s)
	if err != nil {
		return nil, fmt.Errorf("bad template %q: %s", s, strings.TrimPrefix(err.Error(), "template: :"))
	}
	// Executing on zero values finds any field that TemplateVars lacks.
	if err := t.Execute(discard{}, TemplateVars{}); err != nil {
		return nil, fmt.Errorf("bad template %q: only %s can be used", s, TemplateFields)
	}
	return &Template{Text: s, t: t}, nil
}

// Render expands the template for one instance.
func (t *Template) Render(v TemplateVars) (string, error) {
	var b strings.Builder
	if err := t.t.Execute(&b, v); err != nil {
		return "", fmt.Errorf("template %q: %w", t.Text, err)
	}
	return b.String(), nil
}

// RenderAll expands every template of a command.
func RenderAll(ts []*Template, v TemplateVars) ([]string, error) {
	out := make([]string, len(ts))
	for i, t := range ts {
		s, err := t.Render(v)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// Env returns the variables as REIMAGE_* environment entries.
func (v TemplateVars) Env() []string {
	return []string{
		"REIMAGE_INSTANCE_ID=" + v.ID,
		"REIMAGE_INSTANCE_NAME=" + v.Name,
		"REIMAGE_PROVIDER=" + v.Provider,
		"REIMAGE_PRIVATE_IP=" + v.PrivateIP,
		"REIMAGE_IMAGE=" + v.Image,
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

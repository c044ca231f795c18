package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/reimage-dev/reimage/plan"
)

// renderGates prints the rollout gates of a plan for the reviewer: what proves
// each instance, what is asked between waves, when instances may start (and
// whether they may now), and the hooks. Nothing when the plan has none.
func renderGates(w io.Writer, r plan.Rollout, now time.Time) {
	if h := r.Health; h != nil {
		check := ""
		switch {
		case h.HTTP != nil:
			check = fmt.Sprintf("GET %s answers %d", h.HTTP.URL.Text, h.HTTP.Status)
		case h.TCP != nil:
			check = fmt.Sprintf("TCP port %d accepts", h.TCP.Port)
		case h.Exec != nil:
			check = "exit 0 of " + templatesText(h.Exec.Command)
		}
		fmt.Fprintf(w, "Health: %s (warmup %s, every %s, timeout %s)\n", check, h.Warmup, h.Interval, h.Timeout)
	}
	for _, g := range r.Gates {
		if g.Prometheus != nil {
			fmt.Fprintf(w, "Gate before every wave after the first (and the first too once the rollout is under way): %s at %s expects %s\n", g.Prometheus.Query, g.Prometheus.URL, g.Prometheus.Expect)
		}
	}
	if win := r.Window; win != nil {
		state := "closed now"
		if open, end := win.Open(now); open {
			state = "open now, until " + end.In(win.Location).Format("15:04 MST")
		} else if next := win.Next(now); !next.IsZero() {
			state += ", opens " + next.In(win.Location).Format("Mon 2006-01-02 15:04 MST")
		}
		fmt.Fprintf(w, "Window: %s (%s)\n", win, state)
	}
	for _, hk := range []struct {
		name string
		h    *plan.Hook
	}{{"before", r.Hooks.Before}, {"after", r.Hooks.After}} {
		if hk.h != nil {
			fmt.Fprintf(w, "Hook %s each instance: %s (timeout %s)\n", hk.name, templatesText(hk.h.Command), hk.h.Timeout)
		}
	}
}

func templatesText(ts []*plan.Template) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Text
	}
	return strings.Join(parts, " ")
}

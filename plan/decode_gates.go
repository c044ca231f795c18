package plan

import (
	"net/url"
	"strings"
	"time"

	"github.com/reimage-dev/reimage/schema"
	"gopkg.in/yaml.v3"
)

// rolloutGates decodes rollout.health, gates, window and hooks. The schema has
// reported values of the wrong shape; this reports what it cannot express:
// exactly one check, templates, expectations, time zones and URLs.
func (l *loader) rolloutGates(n *yaml.Node, r *Rollout) {
	if h := get(n, "health"); h != nil && h.Kind == yaml.MappingNode {
		r.Health = l.health(h)
	}
	if gs := get(n, "gates"); gs != nil && gs.Kind == yaml.SequenceNode {
		for i, g := range gs.Content {
			if g = deref(g); g.Kind != yaml.MappingNode {
				continue
			}
			if pg := l.prometheusGate(get(g, "prometheus"), schema.Field(schema.Index("rollout.gates", i), "prometheus")); pg != nil {
				r.Gates = append(r.Gates, Gate{Prometheus: pg})
			}
		}
	}
	if w := get(n, "window"); w != nil && w.Kind == yaml.MappingNode {
		r.Window = l.window(w)
	}
	if h := get(n, "hooks"); h != nil && h.Kind == yaml.MappingNode {
		r.Hooks.Before = l.hook(get(h, "before"), "rollout.hooks.before")
		r.Hooks.After = l.hook(get(h, "after"), "rollout.hooks.after")
	}
}

func (l *loader) health(n *yaml.Node) *Health {
	const path = "rollout.health"
	h := &Health{Timeout: DefaultHealthTimeout, Interval: DefaultHealthInterval}
	if v := get(n, "warmup"); v != nil {
		h.Warmup, _ = l.duration(v, path+".warmup", false)
	}
	if v := get(n, "timeout"); v != nil {
		if d, ok := l.duration(v, path+".timeout", true); ok {
			h.Timeout = d
		}
	}
	if v := get(n, "interval"); v != nil {
		if d, ok := l.duration(v, path+".interval", true); ok {
			h.Interval = d
		}
	}
	var kinds []string
	if v := get(n, "http"); v != nil {
		kinds = append(kinds, "http")
		if v.Kind == yaml.MappingNode {
			c := &HTTPCheck{Status: 200}
			if u := get(v, "url"); u != nil {
				c.URL = l.template(u, path+".http.url")
				if c.URL != nil {
					l.checkURLTemplate(u, path+".http.url", c.URL)
				}
			}
			if s, ok := intValue(get(v, "status")); ok {
				c.Status = s
			}
			h.HTTP = c
		}
	}
	if v := get(n, "tcp"); v != nil {
		kinds = append(kinds, "tcp")
		if v.Kind == yaml.MappingNode {
			p, _ := intValue(get(v, "port"))
			h.TCP = &TCPCheck{Port: p}
		}
	}
	if v := get(n, "exec"); v != nil {
		kinds = append(kinds, "exec")
		if v.Kind == yaml.MappingNode {
			h.Exec = &ExecCheck{Command: l.command(get(v, "command"), path+".exec.command")}
		}
	}
	switch {
	case len(kinds) == 0:
		l.errorf(n, path, "no check: set exactly one of http, tcp or exec")
		return nil
	case len(kinds) > 1:
		l.errorf(n, path, "exactly one check is allowed, found %s", strings.Join(kinds, " and "))
		return nil
	}
	if h.HTTP == nil && h.TCP == nil && h.Exec == nil {
		return nil // of the wrong shape, reported by the schema
	}
	return h
}

// checkURLTemplate renders a URL template with sample values and checks the result is an http(s) URL.
func (l *loader) checkURLTemplate(n *yaml.Node, path string, t *Template) {
	s, err := t.Render(TemplateVars{ID: "i", Name: "n", Provider: "p", PrivateIP: "10.0.0.1", Image: "img"})
	if err != nil {
		return
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.errorf(n, path, "want an http:// or https:// URL, found %q", t.Text)
	}
}

func (l *loader) prometheusGate(n *yaml.Node, path string) *PrometheusGate {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	g := &PrometheusGate{Expect: Expectation{Empty: true}}
	if v := get(n, "url"); v != nil {
		g.URL, _ = stringValue(v)
		if u, err := url.Parse(g.URL); g.URL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			l.errorf(v, path+".url", "want the Prometheus server's http:// or https:// URL, found %q", g.URL)
		}
	}
	g.Query, _ = stringValue(get(n, "query"))
	if v := get(n, "expect"); v != nil {
		if s, ok := stringValue(v); ok {
			e, err := ParseExpectation(s)
			if err != nil {
				l.errorf(v, path+".expect", "%v", err)
			}
			g.Expect = e
		}
	}
	return g
}

func (l *loader) window(n *yaml.Node) *Window {
	const path = "rollout.window"
	w := &Window{Location: time.UTC, TimeZone: "UTC"}
	if v := get(n, "days"); v != nil && v.Kind == yaml.SequenceNode {
		for _, d := range v.Content {
			if s, ok := stringValue(d); ok {
				if wd, ok := ParseWeekday(s); ok {
					w.Days = append(w.Days, wd)
				}
			}
		}
	}
	ok := true
	for _, f := range []struct {
		name string
		to   *ClockTime
	}{{"start", &w.Start}, {"end", &w.End}} {
		v := get(n, f.name)
		s, isStr := stringValue(v)
		if !isStr {
			ok = false
			continue
		}
		c, err := ParseClockTime(s)
		if err != nil {
			ok = false // the schema's pattern reported it
		}
		*f.to = c
	}
	if v := get(n, "timeZone"); v != nil {
		if s, isStr := stringValue(v); isStr {
			loc, err := time.LoadLocation(s)
			if err != nil || s == "" || s == "Local" {
				l.errorf(v, path+".timeZone", "unknown time zone %q: want a tz database name like Asia/Shanghai or UTC", s)
				ok = false
			} else {
				w.Location, w.TimeZone = loc, s
			}
		}
	}
	if !ok {
		return nil
	}
	if w.Start == w.End {
		l.errorf(n, path, "start and end are both %s: the window would never open (or always be open); leave window out to allow any time", w.Start)
		return nil
	}
	return w
}

func (l *loader) hook(n *yaml.Node, path string) *Hook {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	h := &Hook{Command: l.command(get(n, "command"), path+".command"), Timeout: DefaultHookTimeout}
	if v := get(n, "timeout"); v != nil {
		if d, ok := l.duration(v, path+".timeout", true); ok {
			h.Timeout = d
		}
	}
	if len(h.Command) == 0 {
		return nil
	}
	return h
}

// command decodes a command list (program and arguments), each a template.
func (l *loader) command(n *yaml.Node, path string) []*Template {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	var out []*Template
	for i, a := range n.Content {
		t := l.template(a, schema.Index(path, i))
		if t == nil {
			return nil
		}
		out = append(out, t)
	}
	return out
}

func (l *loader) template(n *yaml.Node, path string) *Template {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		return nil
	}
	// A number is an argument too (a port, a count).
	t, err := ParseTemplate(n.Value)
	if err != nil {
		l.errorf(n, path, "%v", err)
		return nil
	}
	return t
}

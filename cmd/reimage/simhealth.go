package main

import (
	"net/url"
	"strconv"

	"github.com/reimage-dev/reimage/plan"
)

// simHealthPort is the port an in-process simulator (-sim) answers health
// checks on: the plan's own (rollout.health tcp port, or the port of its http
// URL), so that a rehearsal of a plan with health checks sees healthy
// instances. 0 when the plan checks nothing the simulator can answer (no
// health, an exec check, or a URL not on the instance's private address).
func simHealthPort(p *plan.Plan) int {
	h := p.Rollout.Health
	switch {
	case h == nil:
		return 0
	case h.TCP != nil:
		return h.TCP.Port
	case h.HTTP != nil:
		const marker = "127.255.255.254"
		s, err := h.HTTP.URL.Render(plan.TemplateVars{PrivateIP: marker})
		if err != nil {
			return 0
		}
		u, err := url.Parse(s)
		if err != nil || u.Hostname() != marker {
			return 0
		}
		port, err := strconv.Atoi(u.Port())
		if err != nil {
			if u.Scheme == "http" {
				return 80
			}
			return 0
		}
		return port
	}
	return 0
}

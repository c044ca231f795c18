package plan

import "fmt"

// serverOf names the server an instance entry acts on. Instance ids are UUIDs
// unique within a cloud (each cloud's instance or server id), whatever the
// region, account or endpoint of the provider entry that lists them, so two
// provider entries of one cloud type listing one id are one server.
func (p *Plan) serverOf(provider, id string) string {
	if pr := p.Providers[provider]; pr != nil {
		return pr.Type + "/" + id
	}
	return provider + "/" + id
}

// oneServer ends the error for an instance two provider entries reach.
func (p *Plan) oneServer(provider string) string {
	typ := provider
	if pr := p.Providers[provider]; pr != nil {
		typ = pr.Type
	}
	return fmt.Sprintf("both are %s, where an instance id names one server, so both would re-image it", typ)
}

// origin is the entry of the plan that put a server in it: an explicit
// instances[N] or a selector.
type origin struct {
	provider string
	path     string
	line     int
}

// servers records which entry put each server in the plan, so that Resolve
// refuses a selected instance another provider entry of the same cloud already
// has (explicitly or by its own selector): the same server twice.
type servers struct {
	p    *Plan
	seen map[string]origin
}

// explicitServers starts from the explicit instances (decode's uniqueIDs has
// already refused one server listed twice among them).
func explicitServers(p *Plan) *servers {
	s := &servers{p: p, seen: make(map[string]origin, len(p.Instances))}
	for i, in := range p.Instances {
		s.seen[p.serverOf(in.Provider, in.ID)] = origin{in.Provider, fmt.Sprintf("instances[%d]", i), in.Line}
	}
	return s
}

// claim records that selector sel chose instance f of provider prov; it
// reports an error in d (at the selector) and false when another provider
// entry's explicit entry or selector has the same server. An explicit entry of
// the same provider, or another selector of it, is the caller's rule.
func (s *servers) claim(d *Diagnostics, sel *Selector, prov string, f Found) bool {
	id := s.p.serverOf(prov, f.ID)
	if o, ok := s.seen[id]; ok {
		if o.provider == prov {
			return true
		}
		d.add(s.p.File, sel.Line, sel.Col, sel.Path(), "instance %s of provider %q is also %s (line %d) of provider %q: %s",
			foundLabel(f), prov, o.path, o.line, o.provider, s.p.oneServer(prov))
		return false
	}
	s.seen[id] = origin{prov, sel.Path(), sel.Line}
	return true
}

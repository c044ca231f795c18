package plan

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"
	"gopkg.in/yaml.v3"

	"github.com/reimage-dev/reimage/schema"
)

// Selector is one entry of select: instances chosen by what the cloud knows, all
// given the selector's instance fields.
type Selector struct {
	// Index is the entry's position in select; Path renders it ("select[0]").
	Index int
	Where Where
	// Template holds the instance fields every selected instance gets (defaults
	// merged); its ID and Name are empty.
	Template *Instance
	// Line and Col locate the entry in the plan file (1-based).
	Line, Col int
	// Matched is what the catalog returned for the selector, set by Resolve:
	// explicit entries of the same id included, for a saved plan to freeze.
	Matched []Found
}

// Path names the selector as diagnostics and plan -json do: select[N].
func (s *Selector) Path() string { return schema.Index("select", s.Index) }

// Where is what the instances of a selector have in common; every field that is
// set must match.
type Where struct {
	// Tags: every key present on the instance with exactly this value.
	Tags map[string]string
	// Name is a glob (path.Match syntax) on the instance's name.
	Name string
	// Zone is the availability zone, exactly.
	Zone string
}

// String renders the conditions for people: tags role=web, name "web-*", zone cn-north-4a.
func (w Where) String() string {
	var parts []string
	if len(w.Tags) > 0 {
		keys := make([]string, 0, len(w.Tags))
		for k := range w.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		tags := make([]string, len(keys))
		for i, k := range keys {
			tags[i] = k + "=" + w.Tags[k]
		}
		parts = append(parts, "tags "+strings.Join(tags, ","))
	}
	if w.Name != "" {
		parts = append(parts, "name "+strconv.Quote(w.Name))
	}
	if w.Zone != "" {
		parts = append(parts, "zone "+w.Zone)
	}
	return strings.Join(parts, ", ")
}

// ImageByName is an image given by its name in the plan: `image: {name: …}`.
// Resolve looks the name up and sets the instance's Image to the one id.
type ImageByName struct {
	Name string
	// Path, Line and Col locate the field the name was written in.
	Path      string
	Line, Col int
}

// selector decodes select[i]: where, plus instance fields decoded as an instance
// (id and name are not allowed; the schema says so).
func (l *loader) selector(i int, n, defaults *yaml.Node) *Selector {
	path := schema.Index("select", i)
	s := &Selector{Index: i, Line: n.Line, Col: n.Column}
	s.Template = l.instance(path, n, defaults)
	s.Template.Line, s.Template.Col = n.Line, n.Column
	s.Template.SelectedBy = path
	w := get(n, "where")
	if w == nil || w.Kind != yaml.MappingNode {
		return s
	}
	if tags := get(w, "tags"); tags != nil && tags.Kind == yaml.MappingNode {
		s.Where.Tags = map[string]string{}
		for j := 0; j+1 < len(tags.Content); j += 2 {
			if v, ok := stringValue(tags.Content[j+1]); ok {
				s.Where.Tags[keyOf(tags.Content[j])] = v
			}
		}
	}
	if k, v := field(w, "name"); v != nil {
		s.Where.Name, _ = stringValue(v)
		if _, err := matchName(s.Where.Name, ""); err != nil {
			l.errorf(k, schema.Field(schema.Field(path, "where"), "name"), "not a valid glob %q: %v", s.Where.Name, err)
		}
	}
	s.Where.Zone, _ = stringValue(get(w, "zone"))
	return s
}

// ResolvedImage is an image name Resolve turned into an id.
type ResolvedImage struct {
	Provider string `json:"provider"`
	Name     string `json:"name"`
	ID       string `json:"id"`
}

// Found is one instance a cloud's listing returned for a selector.
type Found struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Catalog is what resolving a plan asks the clouds; List may be called for
// several selectors at once: the instances a selector
// matches and the images of a name. The clouds answer it when planning; a saved
// plan answers it with what it froze.
type Catalog interface {
	// List returns the instances of the selector's provider matching its Where.
	List(ctx context.Context, provider string, s *Selector) ([]Found, error)
	// ImagesByName returns the ids of every image of that exact name the
	// provider's account can use in its region.
	ImagesByName(ctx context.Context, provider, name string) ([]string, error)
}

// NeedsResolve reports whether the plan has selectors or images by name, which
// Resolve must turn into instances and image ids before the plan is looked up.
func (p *Plan) NeedsResolve() bool {
	if len(p.Selectors) > 0 {
		return true
	}
	for _, in := range p.Instances {
		if in.ImageByName != nil {
			return true
		}
	}
	return false
}

// Resolve adds the instances the selectors match (after the explicit ones, each
// selector's sorted by name and id) and sets the id of every image given by
// name. An explicit entry wins over a selected instance of the same provider
// and id; under another provider entry of the same cloud it is the same server
// twice, an error. A
// selector matching nothing, an instance two selectors match, and an image
// name that names no image or more than one are errors at their position in the
// plan (a *Diagnostics); an error of the catalog itself is returned as it is.
func (p *Plan) Resolve(ctx context.Context, c Catalog) error {
	d := &Diagnostics{}
	explicit := make(map[string]bool, len(p.Instances))
	for _, in := range p.Instances {
		explicit[Key(in.Provider, in.ID)] = true
	}
	// The listings run at once (each provider has its own rate limit); their
	// results are taken in plan order, so that the outcome does not depend on
	// which answers first.
	listed := make([][]Found, len(p.Selectors))
	g, gctx := errgroup.WithContext(ctx)
	for i, s := range p.Selectors {
		g.Go(func() error {
			found, err := c.List(gctx, s.Template.Provider, s)
			if err != nil {
				return fmt.Errorf("%s: %w", s.Path(), err)
			}
			listed[i] = found
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	chosen := map[string]*Selector{}
	servers := explicitServers(p)
	var selected []*Instance
	for i, s := range p.Selectors {
		prov := s.Template.Provider
		found := listed[i]
		if len(found) == 0 {
			d.add(p.File, s.Line, s.Col, s.Path(), "matches no instance of provider %q (%s)", prov, s.Where)
			continue
		}
		sort.Slice(found, func(i, j int) bool {
			if found[i].Name != found[j].Name {
				return found[i].Name < found[j].Name
			}
			return found[i].ID < found[j].ID
		})
		s.Matched = found
		for _, f := range found {
			k := Key(prov, f.ID)
			if explicit[k] || !servers.claim(d, s, prov, f) {
				continue
			}
			if first := chosen[k]; first != nil {
				if first != s {
					d.add(p.File, s.Line, s.Col, s.Path(), "instance %s also matches %s (line %d); narrow the selectors' where, or list the instance under instances",
						foundLabel(f), first.Path(), first.Line)
				}
				continue
			}
			chosen[k] = s
			in := *s.Template
			in.ID, in.Name = f.ID, f.Name
			selected = append(selected, &in)
		}
	}
	p.Instances = append(p.Instances, selected...)
	if err := p.resolveImages(ctx, c, d); err != nil {
		return err
	}
	return d.err()
}

func foundLabel(f Found) string {
	if f.Name == "" {
		return f.ID
	}
	return fmt.Sprintf("%s (%s)", f.Name, f.ID)
}

// resolveImages looks every image name up once per provider.
func (p *Plan) resolveImages(ctx context.Context, c Catalog, d *Diagnostics) error {
	type key struct{ provider, name string }
	ids := map[key][]string{}
	for _, in := range p.Instances {
		ref := in.ImageByName
		if ref == nil {
			continue
		}
		k := key{in.Provider, ref.Name}
		got, ok := ids[k]
		if !ok {
			var err error
			if got, err = c.ImagesByName(ctx, in.Provider, ref.Name); err != nil {
				return fmt.Errorf("%s: image %q: %w", ref.Path, ref.Name, err)
			}
			sort.Strings(got)
			ids[k] = got
			if len(got) == 1 {
				p.ImageIDs = append(p.ImageIDs, ResolvedImage{Provider: in.Provider, Name: ref.Name, ID: got[0]})
			}
			switch {
			case len(got) == 0:
				d.add(p.File, ref.Line, ref.Col, ref.Path, "no image named %q in provider %q", ref.Name, in.Provider)
			case len(got) > 1:
				d.add(p.File, ref.Line, ref.Col, ref.Path, "%d images are named %q in provider %q (%s); give the id instead",
					len(got), ref.Name, in.Provider, strings.Join(got, ", "))
			}
		}
		if len(got) == 1 {
			in.Image = got[0]
		}
	}
	return nil
}

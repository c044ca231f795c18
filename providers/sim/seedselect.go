package sim

import (
	"crypto/sha256"
	"fmt"
	"path"
	"strings"

	"github.com/reimage-dev/reimage/plan"
)

// SeedSelection makes what a plan chooses through the clouds exist on the
// simulator, so that `-sim` rehearses a plan with select and images by name:
// every image the plan gives by name is catalogued under that name (with an id
// derived from it), and every selector gets perSelector instances that match
// it (names from its glob, its tags and zone), on an older image, a
// stoppedFraction of them stopped. The same plan always gives the same fleet.
func (s *Server) SeedSelection(p *plan.Plan, perSelector int, stoppedFraction float64) error {
	named := map[[2]string]bool{}
	nameImage := func(in *plan.Instance) error {
		if in.ImageByName == nil {
			return nil
		}
		prov := p.Providers[in.Provider]
		if prov == nil {
			return fmt.Errorf("sim: %s: provider %q is not in the plan", in.ImageByName.Path, in.Provider)
		}
		k := [2]string{prov.Type, in.ImageByName.Name}
		if named[k] {
			return nil
		}
		named[k] = true
		return s.AddImageInfo(Image{Provider: prov.Type, ID: NamedImageID(prov.Type, k[1]), Name: k[1]})
	}
	for _, in := range p.Instances {
		if err := nameImage(in); err != nil {
			return err
		}
	}
	for _, sel := range p.Selectors {
		t := sel.Template
		if err := nameImage(t); err != nil {
			return err
		}
		prov := p.Providers[t.Provider]
		if prov == nil {
			return fmt.Errorf("sim: %s: provider %q is not in the plan", sel.Path(), t.Provider)
		}
		target := t.Image
		if t.ImageByName != nil {
			target = NamedImageID(prov.Type, t.ImageByName.Name)
		}
		for k := range perSelector {
			name, err := nameFor(sel.Where.Name, fmt.Sprintf("%s-%d", prov.Name, sel.Index), k)
			if err != nil {
				return fmt.Errorf("sim: %s: %w", sel.Path(), err)
			}
			id := s.mintInstanceID(prov.Type, derived16(fmt.Sprintf("reimage-sim %s %s %d", p.Name, sel.Path(), k)))
			st := "running"
			if unitHash(s.opts.Seed, prov.Type, id) < stoppedFraction {
				st = "stopped"
			}
			in := Instance{Provider: prov.Type, ID: id, Name: name, Image: OlderImage(target), State: st,
				Region: prov.Region, Zone: sel.Where.Zone, Tags: CopyTags(sel.Where.Tags)}
			if err := s.addFromPlan(prov, in); err != nil {
				return err
			}
		}
	}
	return nil
}

// NamedImageID is the id SeedSelection gives the image named name.
func NamedImageID(providerType, name string) string {
	return derivedUUID("reimage-sim image " + providerType + " " + name)
}

// derivedUUID is a version-4-shaped UUID derived from seed.
func derivedUUID(seed string) string { return uuidOf(derived16(seed)) }

// derived16 is 16 bytes derived from seed.
func derived16(seed string) [16]byte {
	sum := sha256.Sum256([]byte(seed))
	return [16]byte(sum[:16])
}

// nameFor makes the k-th instance name that matches glob: a wildcard run
// becomes a number, a class its first member; without a glob, prefix-NN.
func nameFor(glob, prefix string, k int) (string, error) {
	num := fmt.Sprintf("%02d", k+1)
	if glob == "" {
		return prefix + "-" + num, nil
	}
	var b strings.Builder
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; c {
		case '*':
			b.WriteString(num)
		case '?':
			b.WriteByte('x')
		case '\\':
			if i+1 < len(glob) {
				i++
				b.WriteByte(glob[i])
			}
		case '[':
			end := strings.IndexByte(glob[i+1:], ']')
			if end < 0 {
				return "", fmt.Errorf("name glob %q has an unclosed class", glob)
			}
			class := glob[i+1 : i+1+end]
			i += end + 1
			if class == "" || class[0] == '^' || class[0] == '!' {
				return "", fmt.Errorf("cannot make a name matching %q (negated class)", glob)
			}
			b.WriteByte(class[0])
		default:
			b.WriteByte(c)
		}
	}
	name := b.String()
	if ok, _ := path.Match(glob, name); !ok {
		return "", fmt.Errorf("cannot make a name matching %q", glob)
	}
	return name, nil
}

// addFromPlan adds in, an instance a selector finds, with what its provider
// says in the cloud's words (Frontend.FromPlan, without an instance of the
// plan: a selector's template logs in as the instances it finds do).
func (s *Server) addFromPlan(prov *plan.Provider, in Instance) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.byType[prov.Type]
	if f == nil {
		return fmt.Errorf("sim: provider %s: type %q is not simulated (want %s)", prov.Name, prov.Type, s.typeList())
	}
	f.FromPlan(prov, nil, &in)
	return s.addInstance(in)
}

package plan

import (
	"context"
	"fmt"
)

// Frozen is what a saved plan keeps of how the plan was resolved and narrowed,
// so that apply of the saved plan acts on exactly the instances and image ids
// that were reviewed, whatever the clouds' listings say by then.
type Frozen struct {
	// Selected holds, per selector, the instances its look-up returned.
	Selected []FrozenSelector `json:"selected,omitempty"`
	// Images are the image names and the ids they were pinned to.
	Images []ResolvedImage `json:"images,omitempty"`
	// Target and Exclude are the -target and -exclude patterns of the plan.
	Target  []string `json:"target,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
	// Concurrency and MaxFailures are the overrides of the plan ("" and 0: none).
	Concurrency int    `json:"concurrency,omitempty"`
	MaxFailures string `json:"max_failures,omitempty"`
}

// FrozenSelector is what one selector matched.
type FrozenSelector struct {
	Selector string  `json:"selector"`
	Matched  []Found `json:"matched"`
}

// FreezeResolution records the selectors' matches and the image ids of a
// resolved plan.
func (f *Frozen) FreezeResolution(p *Plan) {
	f.Selected = nil
	for _, s := range p.Selectors {
		f.Selected = append(f.Selected, FrozenSelector{Selector: s.Path(), Matched: s.Matched})
	}
	f.Images = append([]ResolvedImage(nil), p.ImageIDs...)
}

// Catalog answers Resolve with what was frozen: the plan resolves to the same
// instances and image ids, without asking the clouds.
func (f *Frozen) Catalog() Catalog { return frozenCatalog{f} }

type frozenCatalog struct{ f *Frozen }

func (c frozenCatalog) List(_ context.Context, _ string, s *Selector) ([]Found, error) {
	for _, fs := range c.f.Selected {
		if fs.Selector == s.Path() {
			return fs.Matched, nil
		}
	}
	return nil, fmt.Errorf("the saved plan has no instances for %s; run reimage plan -out again", s.Path())
}

func (c frozenCatalog) ImagesByName(_ context.Context, provider, name string) ([]string, error) {
	for _, im := range c.f.Images {
		if im.Provider == provider && im.Name == name {
			return []string{im.ID}, nil
		}
	}
	return nil, fmt.Errorf("the saved plan pinned no id for image %q of provider %q; run reimage plan -out again", name, provider)
}

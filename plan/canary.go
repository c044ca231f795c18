package plan

import "gopkg.in/yaml.v3"

// Canary policies (rollout.canary).
const (
	// CanaryPerImage: the first wave holds one instance of every (provider,
	// target image) pair, so that each new image is proven on one instance
	// before it spreads; the default.
	CanaryPerImage = "perImage"
	// CanaryFirst: the first wave holds the first instances in plan order.
	CanaryFirst = "first"
)

// canary reads rollout.canary; the schema has checked its value.
func canary(n *yaml.Node) string {
	if s, ok := stringValue(n); ok && s == CanaryFirst {
		return CanaryFirst
	}
	return CanaryPerImage
}

// WaveOrder puts the changes in the order apply makes them and cuts them into
// waves (sizes, as Waves). With rollout.canary perImage, the first instance
// (in plan order) of every (provider, target image) pair comes first, and the
// first wave grows to hold them all if it is smaller; the rest keep plan
// order. With first, the order is the plan's.
func (p *Plan) WaveOrder(changes []*Change) ([]*Change, []int) {
	if p.Rollout.Canary == CanaryFirst || len(changes) == 0 {
		return changes, p.Waves(len(changes))
	}
	type pair struct{ provider, image string }
	seen := map[pair]bool{}
	ordered := make([]*Change, 0, len(changes))
	var rest []*Change
	for _, c := range changes {
		k := pair{c.Instance.Provider, c.Instance.Image}
		if seen[k] {
			rest = append(rest, c)
			continue
		}
		seen[k] = true
		ordered = append(ordered, c)
	}
	canaries := len(ordered)
	ordered = append(ordered, rest...)
	sizes := p.Waves(len(changes))
	if sizes[0] >= canaries {
		return ordered, sizes
	}
	// The first wave holds every canary; the later waves keep their sizes
	// (of the whole), the last one taking what is left.
	out := []int{canaries}
	left := len(changes) - canaries
	for _, s := range sizes[1:] {
		if left == 0 {
			break
		}
		s = min(s, left)
		out = append(out, s)
		left -= s
	}
	if left > 0 {
		out = append(out, left)
	}
	return ordered, out
}

// Canaries returns the instances of the first wave that are there to prove an
// image: with perImage, the first of every (provider, target image) pair
// among the changes; with first, none are singled out.
func (p *Plan) Canaries(changes []*Change) []*Change {
	if p.Rollout.Canary == CanaryFirst || len(changes) == 0 {
		return nil
	}
	ordered, sizes := p.WaveOrder(changes)
	seen := map[[2]string]bool{}
	var out []*Change
	for _, c := range ordered[:sizes[0]] {
		k := [2]string{c.Instance.Provider, c.Instance.Image}
		if !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	return out
}

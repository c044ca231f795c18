package plan

import "strconv"

// String renders a size as written in a plan: "3" or "25%".
func (s Size) String() string {
	if s.IsPercent {
		return strconv.Itoa(s.Percent) + "%"
	}
	return strconv.Itoa(s.Count)
}

// Of is the size of a wave out of n changes, with Ansible's serial semantics: a percentage rounds
// up and is at least 1, so that "10%" of 5 instances is one instance, not none; a count is taken
// as is.
func (s Size) Of(n int) int {
	if !s.IsPercent {
		return s.Count
	}
	return max((n*s.Percent+99)/100, 1)
}

// Budget is the number of failures tolerated out of n changes: a percentage rounds down, so that
// "10%" of 5 instances tolerates none; a count is taken as is. The run halts when failures
// strictly exceed the budget.
func (s Size) Budget(n int) int {
	if !s.IsPercent {
		return s.Count
	}
	return n * s.Percent / 100
}

// Waves cuts n changes into waves following Rollout.Waves: each entry gives one wave's size (its
// Of(n)), the last entry repeats until all n are covered, and the last wave takes only what is
// left. The pause after wave i is Rollout.Waves[min(i, len-1)].Pause.
func (p *Plan) Waves(n int) []int {
	waves := p.Rollout.Waves
	if len(waves) == 0 {
		waves = DefaultWaves()
	}
	var out []int
	for i, left := 0, n; left > 0; i++ {
		size := max(waves[min(i, len(waves)-1)].Size.Of(n), 1)
		size = min(size, left)
		out = append(out, size)
		left -= size
	}
	return out
}

// Summary counts the instances of each provider, by provider name.
func (p *Plan) Summary() map[string]int {
	m := make(map[string]int, len(p.Providers))
	for _, inst := range p.Instances {
		m[inst.Provider]++
	}
	return m
}

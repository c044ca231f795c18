package plan

import (
	"fmt"
	"testing"
)

func TestWaveOrder(t *testing.T) {
	changes := func(spec ...string) []*Change {
		var out []*Change
		for i, s := range spec {
			out = append(out, &Change{Instance: &Instance{ID: fmt.Sprint(i), Provider: s[:1], Image: s[1:]}})
		}
		return out
	}
	pct := func(p int) Wave { return Wave{Size: Size{Percent: p, IsPercent: true}} }
	one := Wave{Size: Size{Count: 1}}
	tests := []struct {
		name      string
		canary    string
		waves     []Wave
		changes   []*Change
		wantOrder string
		wantSizes string
	}{
		{"one pair", CanaryPerImage, []Wave{one, pct(50)}, changes("ax", "ax", "ax", "ax"), "[0 1 2 3]", "[1 2 1]"},
		{"two providers, bad image later in the plan", CanaryPerImage, []Wave{one, pct(50)},
			changes("ax", "ax", "ax", "bx", "bx"), "[0 3 1 2 4]", "[2 3]"},
		{"two images on one provider", CanaryPerImage, []Wave{one, pct(100)}, changes("ax", "ay", "ax", "ay"), "[0 1 2 3]", "[2 2]"},
		{"first wave already holds every pair", CanaryPerImage, []Wave{Wave{Size: Size{Count: 3}}, pct(100)},
			changes("ax", "ax", "ax", "bx", "bx"), "[0 3 1 2 4]", "[3 2]"},
		{"more pairs than instances left", CanaryPerImage, []Wave{one, one}, changes("ax", "bx", "cx"), "[0 1 2]", "[3]"},
		{"first", CanaryFirst, []Wave{one, pct(50)}, changes("ax", "ax", "ax", "bx", "bx"), "[0 1 2 3 4]", "[1 3 1]"},
		{"none", CanaryPerImage, []Wave{one}, nil, "[]", "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Plan{Rollout: Rollout{Canary: tt.canary, Waves: tt.waves}}
			order, sizes := p.WaveOrder(tt.changes)
			ids := []string{}
			for _, c := range order {
				ids = append(ids, c.Instance.ID)
			}
			if len(tt.changes) == 0 && p.Canaries(tt.changes) != nil {
				t.Error("canaries of no changes")
			}
			if fmt.Sprint(ids) != tt.wantOrder || fmt.Sprint(sizes) != tt.wantSizes {
				t.Errorf("order %v sizes %v, want %s %s", ids, sizes, tt.wantOrder, tt.wantSizes)
			}
		})
	}
}

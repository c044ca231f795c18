package plan

import (
	"reflect"
	"testing"
)

func TestSizeOfAndBudget(t *testing.T) {
	pct := func(p int) Size { return Size{Percent: p, IsPercent: true} }
	tests := []struct {
		size         Size
		n            int
		of, budget   int
		renderedWant string
	}{
		{Size{Count: 1}, 100, 1, 1, "1"},
		{Size{Count: 0}, 100, 0, 0, "0"},
		{Size{Count: 7}, 3, 7, 7, "7"},
		{pct(10), 5, 1, 0, "10%"},      // rounds up for waves, down for the budget
		{pct(10), 100, 10, 10, "10%"},  // exact
		{pct(10), 101, 11, 10, "10%"},  // 10.1
		{pct(25), 10, 3, 2, "25%"},     // 2.5
		{pct(100), 67, 67, 67, "100%"}, // all
		{pct(1), 0, 1, 0, "1%"},        // at least one even of none
		{pct(0), 50, 1, 0, "0%"},
	}
	for _, tt := range tests {
		if got := tt.size.Of(tt.n); got != tt.of {
			t.Errorf("%v.Of(%d) = %d, want %d", tt.size, tt.n, got, tt.of)
		}
		if got := tt.size.Budget(tt.n); got != tt.budget {
			t.Errorf("%v.Budget(%d) = %d, want %d", tt.size, tt.n, got, tt.budget)
		}
		if got := tt.size.String(); got != tt.renderedWant {
			t.Errorf("String() = %q, want %q", got, tt.renderedWant)
		}
	}
}

func TestWaves(t *testing.T) {
	pct := func(p int) Wave { return Wave{Size: Size{Percent: p, IsPercent: true}} }
	count := func(c int) Wave { return Wave{Size: Size{Count: c}} }
	tests := []struct {
		name  string
		waves []Wave
		n     int
		want  []int
	}{
		{"default", nil, 10, []int{1, 9}},
		{"default of one", nil, 1, []int{1}},
		{"none to do", nil, 0, nil},
		{"canary then percents", []Wave{count(1), pct(10), pct(25)}, 40, []int{1, 4, 10, 10, 10, 5}},
		{"last repeats", []Wave{count(2)}, 5, []int{2, 2, 1}},
		{"ansible mix", []Wave{count(1), count(5), pct(20)}, 20, []int{1, 5, 4, 4, 4, 2}},
		{"percent of few", []Wave{pct(10)}, 3, []int{1, 1, 1}},
		{"bigger than all", []Wave{count(100)}, 7, []int{7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Plan{Rollout: Rollout{Waves: tt.waves}}
			if tt.waves == nil {
				p.Rollout.Waves = DefaultWaves()
			}
			got := p.Waves(tt.n)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Waves(%d) = %v, want %v", tt.n, got, tt.want)
			}
			sum := 0
			for _, w := range got {
				sum += w
			}
			if sum != tt.n {
				t.Errorf("waves cover %d of %d", sum, tt.n)
			}
		})
	}
}

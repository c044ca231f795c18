package plan

import "testing"

func TestMisindentedLine(t *testing.T) {
	for _, tc := range []struct {
		name     string
		text     string
		reported int
		want     int
	}{
		{"field between a list's dashes and its items' fields",
			"a:\n  - x: 1\n    y: 2\n   z: 3\n  - x: 4\n", 2, 4},
		{"after a blank line and a comment", "a:\n  - x: 1\n\n  # note\n   z: 3\n", 2, 5},
		{"the reported line is the culprit", "a:\n  b: 1\n c: 2\n", 3, 0},
		{"nothing wrong below", "a:\n  - x: 1\n", 2, 0},
		{"reported past the end", "a: 1\n", 7, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := misindentedLine([]byte(tc.text), tc.reported); got != tc.want {
				t.Errorf("misindentedLine(%q, %d) = %d, want %d", tc.text, tc.reported, got, tc.want)
			}
		})
	}
}

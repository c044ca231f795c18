package sim

import (
	"path"
	"testing"
)

func TestNameForMatchesItsGlob(t *testing.T) {
	tests := []struct {
		glob string
		want string
		err  bool
	}{
		{"", "kec-0-02", false},
		{"web-*", "web-02", false},
		{"web-??-[a-c]*", "web-xx-a02", false},
		{`db\*-*`, "db*-02", false},
		{"web-[!a]", "", true},
		{"web-[a", "", true},
	}
	for _, tt := range tests {
		got, err := nameFor(tt.glob, "kec-0", 1)
		if tt.err {
			if err == nil {
				t.Errorf("%q: got %q, want an error", tt.glob, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %q, %v, want %q", tt.glob, got, err, tt.want)
		}
		if ok, _ := path.Match(tt.glob, got); tt.glob != "" && !ok {
			t.Errorf("%q does not match %q", got, tt.glob)
		}
	}
}

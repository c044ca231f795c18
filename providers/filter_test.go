package providers

import "testing"

func TestFilterNameLiteral(t *testing.T) {
	for _, tt := range []struct {
		glob  string
		run   string
		exact bool
	}{
		{"", "", false},
		{"web-0001", "web-0001", true},
		{"web-*", "web-", false},
		{"*-prod-*", "-prod-", false},
		{"a[bc]defg?h", "defg", false},
		{`ab\*cdef`, "cdef", false},
	} {
		run, exact := Filter{Name: tt.glob}.NameLiteral()
		if run != tt.run || exact != tt.exact {
			t.Errorf("%q: %q %v, want %q %v", tt.glob, run, exact, tt.run, tt.exact)
		}
	}
}

func TestFilterMatches(t *testing.T) {
	inst := Instance{Name: "web-0001", Zone: "z-a", Tags: map[string]string{"role": "web", "env": ""}}
	for _, tt := range []struct {
		f    Filter
		want bool
	}{
		{Filter{}, true},
		{Filter{Name: "web-*", Zone: "z-a"}, true},
		{Filter{Name: "web-*", Zone: "z-b"}, false},
		{Filter{Name: "web"}, false},
		{Filter{Tags: map[string]string{"env": ""}}, true},
		{Filter{Tags: map[string]string{"team": ""}}, false},
		{Filter{Tags: map[string]string{"role": "db"}}, false},
	} {
		if got := tt.f.Matches(inst); got != tt.want {
			t.Errorf("%+v: %v, want %v", tt.f, got, tt.want)
		}
	}
	if (Filter{Name: "["}).Check() == nil {
		t.Error("a malformed glob passes Check")
	}
}

package cloudid

import (
	"regexp"
	"testing"
)

// An upper-case UUID is lowered into the form the pattern takes; what is no
// UUID in any case is not of the form.
func TestUUIDNormalisesUpperCaseIntoItsPattern(t *testing.T) {
	re := regexp.MustCompile(UUID.Pattern)
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"98284100-f6d1-4bbf-886a-1b0765024738", true},
		{"98284100-F6D1-4BBF-886A-1B0765024738", true},
		{UUID.Example, true},
		{"i-0abc1234", false},
		{"98284100f6d14bbf886a1b0765024738", false},
	} {
		if got := re.MatchString(UUID.Normalise(tc.in)); got != tc.want {
			t.Errorf("%q normalised to %q: of the form %v, want %v", tc.in, UUID.Normalise(tc.in), got, tc.want)
		}
	}
}

package providers

import (
	"fmt"
	"path"
	"strings"
)

// Check reports a Filter that cannot match as meant: a malformed name glob.
func (f Filter) Check() error {
	if f.Name != "" {
		if _, err := path.Match(f.Name, ""); err != nil {
			return fmt.Errorf("name pattern %q: %w", f.Name, err)
		}
	}
	return nil
}

// Matches reports whether inst matches every field of f that is set, exactly:
// what a Lister checks on the client whatever the cloud filtered already.
func (f Filter) Matches(inst Instance) bool {
	if f.Zone != "" && inst.Zone != f.Zone {
		return false
	}
	if f.Name != "" {
		if ok, _ := path.Match(f.Name, inst.Name); !ok {
			return false
		}
	}
	for k, v := range f.Tags {
		if got, ok := inst.Tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// NameLiteral returns the longest run of the name glob that any matching name
// contains as it is (no wildcard, class or escape in it), for a cloud's fuzzy
// name search to narrow a listing; "" when there is none worth sending.
// Exact is true when the glob has no wildcard at all, so that the run is the
// whole name.
func (f Filter) NameLiteral() (run string, exact bool) {
	if f.Name == "" {
		return "", false
	}
	if !strings.ContainsAny(f.Name, `*?[\`) {
		return f.Name, true
	}
	best, cur := "", strings.Builder{}
	inClass := false
	for i := 0; i < len(f.Name); i++ {
		c := f.Name[i]
		switch {
		case inClass:
			inClass = c != ']'
			continue
		case c == '[':
			inClass = true
		case c == '*' || c == '?' || c == '\\':
		default:
			cur.WriteByte(c)
			if cur.Len() > len(best) {
				best = cur.String()
			}
			continue
		}
		cur.Reset()
	}
	return best, false
}

// UserTags returns tags without reimage's markers (a cloud may keep markers as
// tags): what Instance.Tags shows.
func UserTags(tags map[string]string) map[string]string {
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		if !strings.HasPrefix(k, MarkPrefix) {
			out[k] = v
		}
	}
	return out
}

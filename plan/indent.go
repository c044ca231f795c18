package plan

import (
	"bytes"
	"sort"

	"gopkg.in/yaml.v3"
)

// misindentedLine finds the line that breaks the document's structure when
// yaml.v3 reports a block's start instead: "did not find expected '-'
// indicator" at the list's first item, when the line that is wrong (indented
// between the item's fields and the list's dashes) is further down. It is the
// first line whose addition makes the text up to it unparsable: the text
// before it parses, the text with it does not. Prefixes are tried by binary
// search, a few parses even for a plan of 100,000 lines. It returns 0 when no
// later line is found so (the error is where yaml.v3 says).
func misindentedLine(data []byte, reported int) int {
	starts := []int{0} // byte offset of each line's start; starts[i] is line i+1
	for i, c := range data {
		if c == '\n' && i+1 < len(data) {
			starts = append(starts, i+1)
		}
	}
	n := len(starts)
	if reported >= n {
		return 0
	}
	prefix := func(lines int) []byte {
		if lines >= n {
			return data
		}
		return data[:starts[lines]]
	}
	parses := func(lines int) bool {
		var doc yaml.Node
		return yaml.Unmarshal(prefix(lines), &doc) == nil
	}
	// The smallest k in (reported, n] such that the first k lines do not parse.
	k := reported + 1 + sort.Search(n-reported, func(i int) bool { return !parses(reported + 1 + i) })
	if k > n || k <= reported || !parses(k-1) {
		return 0
	}
	// A blank or comment line never breaks a structure: the culprit is the
	// next line with content.
	line := bytes.TrimSpace(prefix(k)[starts[k-1]:])
	if len(line) == 0 || line[0] == '#' {
		return 0
	}
	return k
}

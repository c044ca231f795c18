package plan

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/reimage-dev/reimage/schema"
	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest plan accepted: far above any real fleet (a 100,000-instance plan is
// about 10 MiB), low enough that a wrong file cannot exhaust memory.
const MaxFileSize = 64 << 20

// Load reads the plan file at path, checks it against the schema and the semantic rules, merges
// the defaults into every instance and returns the plan. An invalid plan yields a *Diagnostics
// listing every problem; a file that cannot be read yields the I/O error.
func Load(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fileError(path, "is a directory, not a plan file")
	}
	// Refuse before reading: the size of a regular file is known, and reading a huge one whole
	// is exactly what must not happen.
	if fi.Mode().IsRegular() && fi.Size() > MaxFileSize {
		return nil, tooBig(path, fi.Size())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, tooBig(path, -1)
	}
	p, err := Parse(path, data)
	if p != nil {
		p.SHA256 = Sum(data)
	}
	return p, err
}

func fileError(file, format string, args ...any) error {
	d := &Diagnostics{}
	d.add(file, 0, 0, "", format, args...)
	return d.err()
}

func tooBig(file string, size int64) error {
	if size < 0 {
		return fileError(file, "the plan is larger than 64 MiB, the most reimage reads")
	}
	return fileError(file, "the plan is %d bytes, larger than 64 MiB, the most reimage reads", size)
}

// Parse is Load for a plan already in memory; file names it in diagnostics, and relative
// files the plan names are resolved against its directory.
func Parse(file string, data []byte) (p *Plan, err error) {
	defer func() {
		// yaml.v3 has panicked on hostile input before; a crash must never be the answer.
		if r := recover(); r != nil {
			p, err = nil, fileError(file, "internal error reading the plan (please report it): %v", r)
		}
	}()
	if len(data) > MaxFileSize {
		return nil, tooBig(file, int64(len(data)))
	}
	d := &Diagnostics{}
	checkText(file, data, d)
	if len(d.List) > 0 {
		return nil, d.err()
	}
	root := parseYAML(file, data, d)
	if root == nil {
		return nil, d.err()
	}
	if root.Kind != yaml.MappingNode {
		d.add(file, root.Line, root.Column, "", "the plan must be a mapping of fields (version, name, providers, instances), found %s", kindWords(root))
		return nil, d.err()
	}
	if !checkStructure(file, root, d) {
		return nil, d.err()
	}
	normaliseIDs(root)
	for _, e := range schema.Validate(root) {
		d.add(file, e.Line, e.Col, e.Path, "%s", e.Message)
	}
	l := &loader{file: file, d: d}
	p = l.plan(root)
	if err := d.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// checkText refuses bytes that are not text YAML can carry: invalid UTF-8, and tabs in
// indentation, which YAML forbids and which yaml.v3 reports only as an obscure token error.
func checkText(file string, data []byte, d *Diagnostics) {
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, size := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		line, col := position(data, off)
		d.add(file, line, col, "", "the plan is not valid UTF-8 (byte 0x%02x); save it as UTF-8", data[off])
		return
	}
	line := 1
	for start := 0; start < len(data); line++ {
		end := bytes.IndexByte(data[start:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += start
		}
		text := data[start:end]
		indent := len(text) - len(bytes.TrimLeft(text, " \t"))
		rest := bytes.TrimSpace(text)
		if i := bytes.IndexByte(text[:indent], '\t'); i >= 0 && len(rest) > 0 && rest[0] != '#' {
			d.add(file, line, i+1, "", "tab character in indentation; YAML indents with spaces only")
		}
		start = end + 1
	}
}

// position turns a byte offset into a 1-based line and column (in characters).
func position(data []byte, off int) (line, col int) {
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	lineStart := bytes.LastIndexByte(data[:off], '\n') + 1
	return line, utf8.RuneCount(data[lineStart:off]) + 1
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses exactly one YAML document into a node tree (aliases are not expanded here) and
// returns its root, or nil after recording why there is none.
func parseYAML(file string, data []byte, d *Diagnostics) *yaml.Node {
	if root := parseSplit(data); root != nil {
		return root
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.add(file, 1, 1, "", "the plan is empty")
			return nil
		}
		syntaxError(file, data, err, d)
		return nil
	}
	if len(doc.Content) == 0 {
		d.add(file, 1, 1, "", "the plan is empty")
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		syntaxError(file, data, err, d)
		return nil
	default:
		d.add(file, next.Line, next.Column, "", "a plan file holds one YAML document; found a second one (remove the '---' line)")
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		d.add(file, root.Line, root.Column, "", "the plan is empty")
		return nil
	}
	return root
}

// syntaxError records a yaml.v3 parse error at its line. yaml.v3 gives no column, so the column
// is the line's first character. Its parser (not scanner) errors give the 0-based line of the
// enclosing block's start, so those are shifted to point at that block.
func syntaxError(file string, data []byte, err error, d *Diagnostics) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		msg = m[2]
		for _, p := range parserErrors {
			if strings.HasPrefix(msg, p) {
				line++
				break
			}
		}
		line = min(max(line, 1), bytes.Count(data, []byte{'\n'})+1)
		if indentationError(msg) {
			if bad := misindentedLine(data, line); bad > line {
				d.add(file, bad, firstColumn(data, bad), "", "YAML syntax error: this line's indentation matches no block above it (yaml.v3: %s at line %d)", msg, line)
				return
			}
		}
		d.add(file, line, firstColumn(data, line), "", "YAML syntax error: %s", msg)
		return
	}
	if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
		if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
			line, col := position(data, i)
			d.add(file, line, col, "", "alias *%s refers to an anchor &%s that is not defined before it", m[1], m[1])
			return
		}
	}
	d.add(file, 1, 1, "", "YAML syntax error: %s", msg)
}

// parserErrors are the messages of yaml.v3's parser, whose lines are reported 0-based.
var parserErrors = []string{
	"did not find expected key",
	"did not find expected node content",
	"did not find expected ',' or",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
}

// indentationError reports whether yaml.v3's message is one a misindented
// line below the reported one causes.
func indentationError(msg string) bool {
	for _, p := range parserErrors {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return strings.HasPrefix(msg, "mapping values are not allowed")
}

var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

func firstColumn(data []byte, line int) int {
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return 1
		}
		data = data[i+1:]
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	}
	return utf8.RuneCount(data) - utf8.RuneCount(bytes.TrimLeft(data, " \t")) + 1
}

// kindWords names a node's kind as an operator knows it.
func kindWords(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" {
			return "a string"
		}
		return n.Value
	}
	return "something else"
}

// Limits on alias expansion. A document may use aliases to share blocks (a login used by many
// instances), which expands it a few times at most; a billion-laughs document expands it by orders
// of magnitude and is refused before anything walks the expansion.
const (
	maxExpansionRatio = 10
	maxExpandedNodes  = 20_000_000
	maxNesting        = 200
)

// checkStructure walks the node tree once without following aliases: it reports duplicate keys,
// keys that are not plain scalars and merge keys, and it refuses alias bombs and self-referencing
// anchors. It returns false when the tree must not be walked further.
func checkStructure(file string, root *yaml.Node, d *Diagnostics) bool {
	s := &structure{file: file, d: d, sizes: map[*yaml.Node]int64{}, busy: map[*yaml.Node]bool{}}
	s.walk(root, nil, 0)
	if s.tooDeep {
		d.add(file, root.Line, root.Column, "", "the plan nests more than %d levels deep", maxNesting)
		return false
	}
	expanded := s.expanded(root)
	if s.cycle != nil {
		d.add(file, s.cycle.Line, s.cycle.Column, "", "alias *%s refers to a block that contains it", s.cycle.Value)
		return false
	}
	if expanded > int64(s.nodes)*maxExpansionRatio+10_000 || expanded > maxExpandedNodes {
		more := ""
		if expanded > maxExpandedNodes {
			expanded, more = maxExpandedNodes, "more than "
		}
		d.add(file, root.Line, root.Column, "", "aliases expand this plan from %d values to %s%d; refused as an alias bomb", s.nodes, more, expanded)
		return false
	}
	return len(d.List) == 0
}

type structure struct {
	file    string
	d       *Diagnostics
	nodes   int
	tooDeep bool
	cycle   *yaml.Node
	sizes   map[*yaml.Node]int64 // expanded size of anchored nodes
	busy    map[*yaml.Node]bool  // anchored nodes being sized: meeting one again is a cycle
}

// pathElem is one step of the path to a node, rendered only when there is an error to report:
// building path strings for every node of a large plan would cost more than the walk itself.
type pathElem struct {
	parent *pathElem
	key    string
	index  int // when key is ""
}

// String renders the path, like instances[3].login.
func (p *pathElem) String() string {
	if p == nil {
		return ""
	}
	if p.key == "" {
		return schema.Index(p.parent.String(), p.index)
	}
	return schema.Field(p.parent.String(), p.key)
}

func (s *structure) walk(n *yaml.Node, path *pathElem, depth int) {
	s.nodes++
	if depth > maxNesting {
		s.tooDeep = true
		return
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for i, c := range n.Content {
			s.walk(c, &pathElem{parent: path, index: i}, depth+1)
			if s.tooDeep {
				return
			}
		}
	case yaml.MappingNode:
		// Duplicate detection: small mappings (an instance) scan, large ones (providers) use a map.
		var seen map[string]*yaml.Node
		if len(n.Content) > 32 {
			seen = make(map[string]*yaml.Node, len(n.Content)/2)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := k
			for key.Kind == yaml.AliasNode && key.Alias != nil {
				key = key.Alias
			}
			switch {
			case key.Kind != yaml.ScalarNode:
				s.d.add(s.file, k.Line, k.Column, path.String(), "a key must be a plain word, found %s", kindWords(key))
			case key.ShortTag() == "!!merge":
				s.d.add(s.file, k.Line, k.Column, path.String(), "merge keys (<<) are not supported; put shared fields in defaults")
			default:
				var first *yaml.Node
				if seen != nil {
					first = seen[key.Value]
					if first == nil {
						seen[key.Value] = k
					}
				} else {
					for j := 0; j < i; j += 2 {
						if c := n.Content[j]; c.Kind == yaml.ScalarNode && c.Value == key.Value {
							first = c
							break
						}
					}
				}
				if first != nil {
					s.d.add(s.file, k.Line, k.Column, schema.Field(path.String(), key.Value), "duplicate key %q (first at line %d)", key.Value, first.Line)
				}
			}
			s.walk(v, &pathElem{parent: path, key: key.Value}, depth+1)
			if s.tooDeep {
				return
			}
		}
	}
}

// expanded counts the values n stands for once every alias is expanded, sizing each anchored
// block once, so the count costs no more than the document itself.
func (s *structure) expanded(n *yaml.Node) int64 {
	if s.cycle != nil {
		return 0
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return 1
		}
		if s.busy[n.Alias] {
			s.cycle = n
			return 0
		}
		return s.expanded(n.Alias)
	case yaml.ScalarNode:
		return 1
	}
	if size, ok := s.sizes[n]; ok {
		return size
	}
	if n.Anchor != "" {
		s.busy[n] = true
		defer delete(s.busy, n)
	}
	size := int64(1)
	for _, c := range n.Content {
		size += s.expanded(c)
		if size > maxExpandedNodes {
			// Stop adding: the answer is already "too many", and sums of sums could overflow.
			break
		}
	}
	if n.Anchor != "" {
		s.sizes[n] = size
	}
	return size
}

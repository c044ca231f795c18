package plan

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"sync"

	"gopkg.in/yaml.v3"
)

// splitMinItems is the number of instance entries from which parseSplit parses the instances
// list in parallel; below it the gain does not pay for the extra pass. A variable for tests.
var splitMinItems = 5000

// parseSplit parses a large plan faster on several cores: the top-level instances list, which is
// nearly all of a large plan, is cut at its entries' "- " lines and the pieces parsed in parallel,
// padded with newlines so that every line number stays true. It returns nil whenever the plan is
// not of the plain shape this needs (anchors or aliases in the list, an odd layout) or any piece
// fails to parse: the caller then parses the whole document the ordinary way, which also
// produces the right error messages.
func parseSplit(data []byte) *yaml.Node { return parseSplitMin(data, splitMinItems) }

// parseSplitMin is parseSplit for lists of at least minItems entries.
func parseSplitMin(data []byte, minItems int) *yaml.Node {
	// Line numbers are kept by counting '\n': refuse text with YAML's other line breaks (CR, NEL,
	// LS, PS), which the ordinary parse handles.
	if bytes.IndexByte(data, '\r') >= 0 || bytes.Contains(data, []byte("\u0085")) ||
		bytes.Contains(data, []byte("\u2028")) || bytes.Contains(data, []byte("\u2029")) {
		return nil
	}
	start, end, indent, items := instancesBlock(data)
	if len(items) < max(minItems, 1) {
		return nil
	}
	block := data[start:end]
	// Anchors and aliases can cross pieces; tabs and document markers are the slow path's to report.
	if bytes.ContainsAny(block, "&*\t") || bytes.Contains(block, []byte("\n---")) || bytes.Contains(block, []byte("\n...")) {
		return nil
	}
	// The head: the document with the list's lines blanked, so the key parses as an empty value.
	head := make([]byte, 0, len(data)-len(block)+bytes.Count(block, []byte{'\n'}))
	head = append(head, data[:start]...)
	head = append(head, bytes.Repeat([]byte{'\n'}, bytes.Count(block, []byte{'\n'}))...)
	head = append(head, data[end:]...)

	workers := runtime.GOMAXPROCS(0)
	per := (len(items) + workers - 1) / workers
	type piece struct {
		node *yaml.Node
		ok   bool
	}
	pieces := make([]piece, 0, workers+1)
	var bounds [][2]int
	for i := 0; i < len(items); i += per {
		to := end
		if i+per < len(items) {
			to = items[i+per]
		}
		from := items[i]
		if i == 0 {
			from = start // with the comments before the first entry: nothing is left unparsed
		}
		bounds = append(bounds, [2]int{from, to})
	}
	pieces = pieces[:len(bounds)+1]
	var wg sync.WaitGroup
	parse := func(k int, text []byte) {
		defer wg.Done()
		defer func() {
			if recover() != nil {
				pieces[k] = piece{}
			}
		}()
		var doc yaml.Node
		dec := yaml.NewDecoder(bytes.NewReader(text))
		if err := dec.Decode(&doc); err != nil || len(doc.Content) != 1 {
			return
		}
		// A second document is the slow path's to report.
		var next yaml.Node
		if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
			return
		}
		pieces[k] = piece{node: doc.Content[0], ok: true}
	}
	wg.Add(len(pieces))
	go parse(0, head)
	for k, b := range bounds {
		// Pad with newlines so the piece's lines keep their numbers in the plan.
		text := make([]byte, 0, b[1]-b[0]+bytes.Count(data[:b[0]], []byte{'\n'}))
		text = append(text, bytes.Repeat([]byte{'\n'}, bytes.Count(data[:b[0]], []byte{'\n'}))...)
		text = append(text, data[b[0]:b[1]]...)
		go parse(k+1, text)
	}
	wg.Wait()

	root := pieces[0].node
	if !pieces[0].ok || root.Kind != yaml.MappingNode {
		return nil
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i]; k.Kind == yaml.ScalarNode && k.Value == "instances" && k.Column == 1 {
			if v := root.Content[i+1]; v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" && v.Value == "" {
				list = v
			}
		}
	}
	if list == nil {
		return nil
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: make([]*yaml.Node, 0, len(items))}
	for _, p := range pieces[1:] {
		if !p.ok || p.node.Kind != yaml.SequenceNode || p.node.Column != indent+1 {
			return nil
		}
		seq.Content = append(seq.Content, p.node.Content...)
	}
	if len(seq.Content) != len(items) {
		return nil
	}
	seq.Line, seq.Column = pieces[1].node.Line, pieces[1].node.Column
	*list = *seq
	return root
}

// instancesBlock finds the top-level "instances:" key written alone on its line, followed by a
// block list: it returns the byte range of the list's lines, the list's indentation and the
// offset of each entry's line. items is empty when the plan has no such list.
func instancesBlock(data []byte) (start, end, indent int, items []int) {
	key := []byte("instances:")
	i := 0 // where the key's line starts
	if !bytes.HasPrefix(data, key) {
		i = bytes.Index(data, []byte("\ninstances:"))
		if i < 0 {
			return 0, 0, 0, nil
		}
		i++
	}
	// The rest of the key's line may only be blank or a comment.
	lineEnd := bytes.IndexByte(data[i:], '\n')
	if lineEnd < 0 {
		return 0, 0, 0, nil
	}
	lineEnd += i
	if rest := bytes.TrimSpace(data[i+len(key) : lineEnd]); len(rest) > 0 && rest[0] != '#' {
		return 0, 0, 0, nil
	}
	start = lineEnd + 1
	indent = -1
	pos := start
	for pos < len(data) {
		next := bytes.IndexByte(data[pos:], '\n')
		if next < 0 {
			next = len(data)
		} else {
			next += pos + 1
		}
		line := data[pos:next]
		trimmed := bytes.TrimLeft(line, " ")
		lead := len(line) - len(trimmed)
		switch {
		case len(bytes.TrimSpace(trimmed)) == 0 || trimmed[0] == '#':
			// Blank lines and comments belong to the list.
		case indent < 0:
			if !bytes.HasPrefix(trimmed, []byte("- ")) {
				return 0, 0, 0, nil
			}
			indent = lead
			items = append(items, pos)
		case lead == indent && bytes.HasPrefix(trimmed, []byte("- ")):
			items = append(items, pos)
		case lead > indent:
			// Inside an entry.
		case lead == 0:
			// Back at the top level: the list ends here.
			return start, pos, indent, items
		default:
			// Anything else (text at the list's indentation that is not an
			// entry, or less indented but not top level) is an odd layout:
			// the ordinary parse decides what it means (found by FuzzLoad).
			return 0, 0, 0, nil
		}
		pos = next
	}
	return start, len(data), indent, items
}

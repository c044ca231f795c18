package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// node is a JSON value that keeps the order of its object's members, so that
// the assembled schema prints in the order its authors wrote it.
type node struct {
	// kind is '{' (object), '[' (array) or 0 (a scalar in raw).
	kind byte
	keys []string
	vals []*node
	raw  json.RawMessage
}

// parseNode reads one JSON value in order.
func parseNode(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := readNode(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return n, nil
}

func readNode(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &node{kind: byte(t)}
		for dec.More() {
			if n.kind == '{' {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
			}
			v, err := readNode(dec)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	default:
		raw, err := encodeScalar(t)
		return &node{raw: raw}, err
	}
}

func encodeScalar(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// get returns an object's member, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != '{' {
		return nil
	}
	if i := slices.Index(n.keys, key); i >= 0 {
		return n.vals[i]
	}
	return nil
}

// at follows a path of object members; nil when one is missing.
func (n *node) at(keys ...string) *node {
	for _, k := range keys {
		n = n.get(k)
	}
	return n
}

// set replaces an object's member, or appends it.
func (n *node) set(key string, v *node) {
	if i := slices.Index(n.keys, key); i >= 0 {
		n.vals[i] = v
		return
	}
	n.keys = append(n.keys, key)
	n.vals = append(n.vals, v)
}

// insertBefore puts a member before the member next (at the end when next is
// missing).
func (n *node) insertBefore(next, key string, v *node) {
	i := slices.Index(n.keys, next)
	if i < 0 {
		n.set(key, v)
		return
	}
	n.keys = slices.Insert(n.keys, i, key)
	n.vals = slices.Insert(n.vals, i, v)
}

// text returns a string scalar's value.
func (n *node) text() string {
	var s string
	if n != nil && n.kind == 0 {
		_ = json.Unmarshal(n.raw, &s)
	}
	return s
}

// textNode is a string scalar.
func textNode(s string) *node {
	raw, _ := encodeScalar(s)
	return &node{raw: raw}
}

// write prints n as json.MarshalIndent(v, "", "  ") would, in order.
func (n *node) write(b *bytes.Buffer, indent string) {
	switch n.kind {
	case 0:
		b.Write(n.raw)
	case '{', '[':
		closing := byte('}')
		if n.kind == '[' {
			closing = ']'
		}
		b.WriteByte(n.kind)
		if len(n.vals) == 0 {
			b.WriteByte(closing)
			return
		}
		inner := indent + "  "
		for i, v := range n.vals {
			b.WriteString("\n" + inner)
			if n.kind == '{' {
				k, _ := encodeScalar(n.keys[i])
				b.Write(k)
				b.WriteString(": ")
			}
			v.write(b, inner)
			if i < len(n.vals)-1 {
				b.WriteByte(',')
			}
		}
		b.WriteString("\n" + indent)
		b.WriteByte(closing)
	}
}

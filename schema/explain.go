package schema

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"gopkg.in/yaml.v3"
)

// explain turns one failed keyword into messages located at the offending YAML node. The
// validator's own messages name schema keywords ("minProperties", "const"); operators get sentences
// built from the schema's x-expected words instead.
func (cs *compiledSchema) explain(root *yaml.Node, prefix string, e *jsonschema.ValidationError) []Error {
	tokens := pointerTokens(prefix + e.InstanceLocation)
	key, val, path := locate(root, tokens)
	kwPath := fragment(e.AbsoluteKeywordLocation)
	kwTokens := pointerTokens(kwPath)
	keyword := ""
	if len(kwTokens) > 0 {
		keyword = kwTokens[len(kwTokens)-1]
	}
	// sch is the schema object holding the failed keyword.
	sch, _ := lookup(cs.raw, kwTokens[:max(len(kwTokens)-1, 0)]).(map[string]any)
	expected, _ := sch["x-expected"].(string)
	at := func(n *yaml.Node, path, msg string) []Error {
		return []Error{{Line: n.Line, Col: n.Column, Path: path, Message: msg}}
	}

	switch keyword {
	case "unevaluatedProperties", "additionalProperties":
		// The keyword's schema is the object schema; the instance location is the unknown field.
		name := ""
		if len(tokens) > 0 {
			name = tokens[len(tokens)-1]
		}
		msg := fmt.Sprintf("unknown field %q", name)
		if s := Suggest(name, propertyNames(cs.raw, sch)); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return at(key, path, msg)
	case "required":
		var errs []Error
		for _, m := range quoted.FindAllStringSubmatch(e.Message, -1) {
			errs = append(errs, Error{Line: val.Line, Col: val.Column, Path: path, Message: fmt.Sprintf("missing required field %q", m[1])})
		}
		return errs
	case "type":
		if expected == "" {
			expected = typeWords(sch["type"])
		}
		return at(val, path, fmt.Sprintf("must be %s, found %s", expected, describe(val)))
	case "const":
		return at(val, path, fmt.Sprintf("must be %s, found %s", expected, describe(val)))
	case "enum":
		var words []string
		var names []string
		for _, v := range sch["enum"].([]any) {
			words = append(words, fmt.Sprint(v))
			names = append(names, fmt.Sprint(v))
		}
		msg := fmt.Sprintf("must be one of %s; found %s", strings.Join(words, ", "), quote(val))
		if s := Suggest(scalarText(val), names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return at(val, path, msg)
	case "pattern":
		n := val
		if strings.Contains(kwPath, "/propertyNames/") {
			n = key
		}
		return at(n, path, fmt.Sprintf("must be %s, found %s", expected, quote(n)))
	case "anyOf":
		return at(val, path, fmt.Sprintf("must be %s, found %s", expected, quote(val)))
	case "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum":
		words := map[string]string{"minimum": "at least", "exclusiveMinimum": "more than", "maximum": "at most", "exclusiveMaximum": "less than"}[keyword]
		return at(val, path, fmt.Sprintf("must be %s %v, found %s", words, sch[keyword], describe(val)))
	case "minItems":
		if n, _ := sch["minItems"].(float64); n <= 1 {
			return at(val, path, "must not be an empty list")
		}
		return at(val, path, fmt.Sprintf("must have at least %v entries, found %d", sch["minItems"], len(val.Content)))
	case "maxItems":
		return at(val, path, fmt.Sprintf("must have at most %v entries, found %d", sch["maxItems"], len(val.Content)))
	case "uniqueItems":
		m := indexes.FindStringSubmatch(e.Message)
		if m != nil {
			i, _ := strconv.Atoi(m[1])
			j, _ := strconv.Atoi(m[2])
			if j < len(val.Content) {
				item := val.Content[j]
				return at(item, fmt.Sprintf("%s[%d]", path, j), fmt.Sprintf("repeats %s[%d]", path, i))
			}
		}
		return at(val, path, "entries must not repeat")
	case "minLength":
		return at(val, path, "must not be empty")
	case "maxLength":
		return at(val, path, fmt.Sprintf("must be at most %v characters long", sch["maxLength"]))
	case "minProperties":
		if expected == "" {
			return at(val, path, "must not be empty")
		}
		return at(val, path, fmt.Sprintf("must be %s, found an empty mapping", expected))
	case "maxProperties":
		return at(val, path, fmt.Sprintf("must be %s, found %s", expected, fieldList(val)))
	}
	// Keywords the schema does not use today: keep the validator's words rather than lose the error.
	return at(val, path, e.Message)
}

var (
	quoted  = regexp.MustCompile(`'([^']*)'`)
	indexes = regexp.MustCompile(`index (\d+) and (\d+)`)
)

// fragment returns the JSON pointer after '#' in a schema location.
func fragment(loc string) string {
	if i := strings.IndexByte(loc, '#'); i >= 0 {
		return loc[i+1:]
	}
	return ""
}

// pointerTokens splits a JSON pointer ("/instances/3/login") into unescaped tokens.
func pointerTokens(ptr string) []string {
	if ptr == "" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts
}

// lookup follows tokens through plain JSON values.
func lookup(v any, tokens []string) any {
	for _, t := range tokens {
		switch x := v.(type) {
		case map[string]any:
			v = x[t]
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// propertyNames lists the fields an object schema allows, following $ref.
func propertyNames(raw map[string]any, sch map[string]any) []string {
	var names []string
	seen := map[string]bool{}
	for depth := 0; sch != nil && depth < 10; depth++ {
		props, _ := sch["properties"].(map[string]any)
		for name := range props {
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
		ref, _ := sch["$ref"].(string)
		if ref == "" {
			break
		}
		sch, _ = lookup(raw, pointerTokens(fragment(ref))).(map[string]any)
	}
	sort.Strings(names)
	return names
}

// locate finds the node at tokens, returning the mapping key (for positions of unknown fields),
// the value and the path as an operator reads it. Both nodes fall back to the deepest node found.
func locate(root *yaml.Node, tokens []string) (key, val *yaml.Node, path string) {
	n := resolve(root)
	key = n
	var b strings.Builder
	for _, t := range tokens {
		var next, nextKey *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			// The last of duplicate keys wins, as when converting to JSON values.
			for i := 0; i+1 < len(n.Content); i += 2 {
				if keyString(n.Content[i]) == t {
					nextKey, next = n.Content[i], n.Content[i+1]
				}
			}
			appendField(&b, t)
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
				nextKey = next
			}
			b.WriteString("[" + t + "]")
		}
		if next == nil {
			return key, n, b.String()
		}
		key, n = nextKey, resolve(next)
		if next.Kind == yaml.AliasNode {
			// Report at the alias, where the value is used, not at the anchor it copies.
			c := *n
			c.Line, c.Column = next.Line, next.Column
			n = &c
		}
	}
	return key, n, b.String()
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	return n
}

// plainKey reports whether a key prints bare in a path: a word of letters, digits, '_' and '-',
// starting with a letter or '_' (or a digit after the first element: provider names).
func plainKey(name string, first bool) bool {
	if name == "" || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case '0' <= c && c <= '9':
			if i == 0 && first {
				return false
			}
		case c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// appendField adds a mapping key to a path: .name, or ["odd key"] when it is not a plain word.
func appendField(b *strings.Builder, name string) {
	if !plainKey(name, b.Len() == 0) {
		b.WriteString("[" + strconv.Quote(name) + "]")
		return
	}
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.WriteString(name)
}

// Field appends a field name to a path as Validate renders it.
func Field(path, name string) string {
	var b strings.Builder
	b.WriteString(path)
	appendField(&b, name)
	return b.String()
}

// Index appends a list index to a path.
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// typeWords names JSON types as an operator knows them from YAML.
func typeWords(t any) string {
	words := map[string]string{"object": "a mapping", "array": "a list", "string": "a string",
		"integer": "a whole number", "number": "a number", "boolean": "true or false", "null": "empty"}
	switch x := t.(type) {
	case string:
		return words[x]
	case []any:
		var ws []string
		for _, y := range x {
			ws = append(ws, words[fmt.Sprint(y)])
		}
		return strings.Join(ws, " or ")
	}
	return "something else"
}

// describe says what a node holds. Strings are quoted only when short and never for secrets'
// containers: a type error on a secret field must not echo an inline password.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!int", "!!float", "!!bool":
			return n.Value
		}
		return "a string"
	}
	return "something else"
}

// quote shows a scalar's value, shortened, for messages about fields that are never secret.
func quote(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return describe(n)
	}
	v := n.Value
	if r := []rune(v); len(r) > 60 {
		v = string(r[:57]) + "..."
	}
	return strconv.Quote(v)
}

// scalarText is a scalar's text, empty for anything else.
func scalarText(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

func fieldList(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return describe(n)
	}
	var names []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		names = append(names, keyString(n.Content[i]))
	}
	return "fields " + strings.Join(names, " and ")
}

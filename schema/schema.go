// Package schema holds the JSON Schema (2020-12) of reimage plans, and checks a YAML document
// against it, reporting each violation at its line and column in words an operator understands.
//
// The schema is the single description of the plan's shape: editors use it (yaml-language-server)
// for completion and help, `reimage schema` prints it, and the plan loader validates with it. Checks
// a schema cannot express (references between fields, per-cloud fields, secrets) live in package plan.
//
// The document is assembled from a core that names no cloud (core.schema.json) and each registered
// cloud's fragment (Register; see assemble.go). plan.schema.json is the assembled document as
// reimage's drivers make it, kept for editors and the release image.
package schema

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"gopkg.in/yaml.v3"
)

// coreSchema is the plan schema without any cloud's fragment.
//
//go:embed core.schema.json
var coreSchema []byte

// ID is the schema's $id.
const ID = "https://reimage.dev/schema/plan-v1.schema.json"

// JSON returns the plan schema: the core (core.schema.json) with every
// registered cloud's fragment. plan.schema.json, beside it, is a copy of the
// document reimage assembles with its drivers, for editors and the release
// image; a test keeps the two the same. The caller may modify the returned slice.
func JSON() []byte {
	doc, err := document()
	if err != nil {
		// The core and the fragments are embedded and covered by tests: failing here is a build defect.
		panic("schema: the plan schema does not assemble: " + err.Error())
	}
	return bytes.Clone(doc)
}

// compiled is compiled once: compiling costs far more than validating a small plan.
var compiled = sync.OnceValues(func() (*compiledSchema, error) {
	doc, err := document()
	if err != nil {
		return nil, err
	}
	return compile(doc)
})

// compile compiles an assembled document.
func compile(doc []byte) (*compiledSchema, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource(ID, bytes.NewReader(doc)); err != nil {
		return nil, err
	}
	s, err := c.Compile(ID)
	if err != nil {
		return nil, err
	}
	inst, err := c.Compile(ID + "#/$defs/instance")
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, err
	}
	return &compiledSchema{schema: s, instance: inst, raw: raw}, nil
}

type compiledSchema struct {
	schema *jsonschema.Schema
	// instance is the schema of one entry of instances, to validate a large fleet's entries in
	// parallel rather than as one huge value.
	instance *jsonschema.Schema
	// raw is the schema as plain JSON values, to look up the words (x-expected, enum values,
	// property names) that turn a failed keyword into a message.
	raw map[string]any
}

// Error is one schema violation, located in the YAML document.
type Error struct {
	Line, Col int
	// Path is the field's path in the plan, like instances[3].login.
	Path    string
	Message string
}

// String renders LINE:COL: PATH: message.
func (e Error) String() string {
	if e.Path == "" {
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Message)
	}
	return fmt.Sprintf("%d:%d: %s: %s", e.Line, e.Col, e.Path, e.Message)
}

// MaxValues bounds the number of values a document may expand to (aliases included) before it is
// refused; callers that accept aliases should refuse alias bombs before this, with a better message.
const MaxValues = 50_000_000

// Validate checks a YAML document (a DocumentNode or its content) against the plan schema and
// returns every violation, sorted by position. Aliases are followed. Mapping keys are taken as
// strings; the caller reports duplicate and non-scalar keys.
func Validate(doc *yaml.Node) []Error {
	cs, err := compiled()
	if err != nil {
		// The schema is embedded and covered by tests: failing here is a build defect.
		panic("schema: the plan schema does not compile: " + err.Error())
	}
	return cs.validate(doc)
}

// validate is Validate against cs.
func (cs *compiledSchema) validate(doc *yaml.Node) []Error {
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return []Error{{Line: 1, Col: 1, Message: "the plan is empty"}}
		}
		root = root.Content[0]
	}
	// The instances list is most of a large plan: its entries are converted and validated in
	// parallel, each on its own, so that the whole plan never exists as one big JSON value.
	var instances *yaml.Node
	if root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if keyString(root.Content[i]) == "instances" {
				instances = resolve(root.Content[i+1])
			}
		}
	}
	skip := instances
	if instances != nil && (instances.Kind != yaml.SequenceNode || len(instances.Content) == 0) {
		skip = nil
	}
	budget := MaxValues
	v, ok := toValue(root, &budget, 0, skip)
	if !ok {
		return []Error{{Line: root.Line, Col: root.Column, Message: "the document is too large or too deeply nested once its aliases are expanded"}}
	}
	var errs []Error
	errs = append(errs, cs.check(cs.schema, v, root, "")...)
	if skip != nil {
		errs = append(errs, cs.checkInstances(root, skip)...)
	}
	Sort(errs)
	return errs
}

// checkInstances validates the entries of instances but the first (validated with the plan) in
// parallel.
func (cs *compiledSchema) checkInstances(root, list *yaml.Node) []Error {
	workers := min(runtime.GOMAXPROCS(0), max(len(list.Content)/1000, 1))
	results := make([][]Error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w + 1; i < len(list.Content); i += workers {
				budget := MaxValues
				v, ok := toValue(list.Content[i], &budget, 1, nil)
				n := resolve(list.Content[i])
				if !ok {
					results[w] = append(results[w], Error{Line: n.Line, Col: n.Column, Path: "instances[" + strconv.Itoa(i) + "]", Message: "too large or too deeply nested once its aliases are expanded"})
					continue
				}
				results[w] = append(results[w], cs.check(cs.instance, v, root, "/instances/"+strconv.Itoa(i))...)
			}
		}()
	}
	wg.Wait()
	var errs []Error
	for _, r := range results {
		errs = append(errs, r...)
	}
	return errs
}

// check validates v with s and explains each failure; prefix is the JSON pointer of v in the
// document.
func (cs *compiledSchema) check(s *jsonschema.Schema, v any, root *yaml.Node, prefix string) []Error {
	err := s.Validate(v)
	if err == nil {
		return nil
	}
	verr, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []Error{{Line: root.Line, Col: root.Column, Message: err.Error()}}
	}
	var errs []Error
	for _, leaf := range leaves(verr, nil) {
		errs = append(errs, cs.explain(root, prefix, leaf)...)
	}
	return errs
}

// Sort orders errors by position, then path and message, and drops exact duplicates.
func Sort(errs []Error) []Error {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Message < b.Message
	})
	return errs
}

// leaves are the failed keywords to explain: the innermost ones, except that
// a failed anyOf is one failure (its x-expected lists the alternatives), not
// one per alternative.
func leaves(e *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 || strings.HasSuffix(e.KeywordLocation, "/anyOf") {
		return append(out, e)
	}
	for _, c := range e.Causes {
		out = leaves(c, out)
	}
	return out
}

// maxDepth bounds nesting so that a hostile document cannot exhaust the stack.
const maxDepth = 1000

// toValue converts a YAML node into the JSON values the validator takes. Numbers become
// json.Number so that no precision is lost (the validator compares them as big.Rat).
// A sequence node equal to skip becomes an empty list (its entries are validated separately).
func toValue(n *yaml.Node, budget *int, depth int, skip *yaml.Node) (any, bool) {
	*budget--
	if *budget < 0 || depth > maxDepth {
		return nil, false
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, true
		}
		return toValue(n.Alias, budget, depth+1, skip)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, true
		}
		return toValue(n.Content[0], budget, depth+1, skip)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, ok := toValue(n.Content[i+1], budget, depth+1, skip)
			if !ok {
				return nil, false
			}
			m[keyString(n.Content[i])] = v
		}
		return m, true
	case yaml.SequenceNode:
		if n == skip && len(n.Content) > 0 {
			// Only the first entry: the rest are validated separately, in parallel.
			v, ok := toValue(n.Content[0], budget, depth+1, nil)
			return []any{v}, ok
		}
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, ok := toValue(c, budget, depth+1, skip)
			if !ok {
				return nil, false
			}
			s = append(s, v)
		}
		return s, true
	case yaml.ScalarNode:
		return scalarValue(n), true
	}
	return nil, true
}

// keyString is the string a mapping key stands for.
func keyString(k *yaml.Node) string {
	for k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	return k.Value
}

// scalarValue resolves a scalar the way YAML 1.2's core schema (and yaml.v3) does.
func scalarValue(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on", "y":
			return true
		}
		return false
	case "!!int":
		s := strings.ReplaceAll(n.Value, "_", "")
		if i, err := strconv.ParseInt(s, 0, 64); err == nil {
			return json.Number(strconv.FormatInt(i, 10))
		}
		if isDecimal(s) {
			return json.Number(strings.TrimPrefix(s, "+"))
		}
		return n.Value
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			// JSON has no infinities: keep the text so the value fails as "not a number".
			return n.Value
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
	}
	// Strings, timestamps (tokens like 2026-11-01 stay text) and unknown tags.
	return n.Value
}

func isDecimal(s string) bool {
	s = strings.TrimLeft(s, "+-")
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

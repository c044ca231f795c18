package plan

import (
	"path/filepath"

	"github.com/reimage-dev/reimage/schema"
	"gopkg.in/yaml.v3"
)

// Field is one value of a plan, located, for a cloud's driver to decode
// without knowing YAML: its accessors read it as the schema already checked
// it (a value of the wrong shape reads as absent, since the schema reported
// it), and Errorf reports at its line and column with its path. The zero
// Field is absent.
type Field struct {
	l *loader
	n *yaml.Node
	// The path is name under parent, or under parentOf() when set: built only
	// when an error needs it, and with no allocation for a field that has none.
	parent   string
	parentOf func() string
	name     string
}

// Present reports whether the field is set.
func (f Field) Present() bool { return f.n != nil }

// Path is the field's path in the plan, like instances[3].userData.
func (f Field) Path() string {
	parent := f.parent
	if f.parentOf != nil {
		parent = f.parentOf()
	}
	if f.name == "" {
		return parent
	}
	return schema.Field(parent, f.name)
}

// Get returns the field name of a mapping; absent when f is not a mapping or
// does not set it.
func (f Field) Get(name string) Field {
	if f.n == nil || f.n.Kind != yaml.MappingNode {
		return Field{}
	}
	_, v := field(f.n, name)
	if v == nil {
		return Field{}
	}
	return Field{l: f.l, n: v, parentOf: f.Path, name: name}
}

// IsMapping reports whether the value is a mapping.
func (f Field) IsMapping() bool { return f.n != nil && f.n.Kind == yaml.MappingNode }

// Text returns a string value.
func (f Field) Text() (string, bool) { return stringValue(f.n) }

// Int returns an integer value.
func (f Field) Int() (int, bool) { return intValue(f.n) }

// Bool returns a boolean value.
func (f Field) Bool() (bool, bool) { return boolValue(f.n) }

// Texts returns the strings of a list, skipping entries that are not.
func (f Field) Texts() []string {
	if f.n == nil || f.n.Kind != yaml.SequenceNode {
		return nil
	}
	var out []string
	for _, e := range f.n.Content {
		if s, ok := stringValue(e); ok {
			out = append(out, s)
		}
	}
	return out
}

// Errorf reports a problem with the value: file:line:col: path: message.
func (f Field) Errorf(format string, args ...any) {
	if f.l == nil || f.n == nil {
		return
	}
	f.l.errorf(f.n, f.Path(), format, args...)
}

// Resolve returns a path written in the plan as it is to be opened: a
// relative one is relative to the plan file.
func (f Field) Resolve(path string) string {
	if filepath.IsAbs(path) || f.l == nil {
		return path
	}
	return filepath.Join(filepath.Dir(f.l.file), path)
}

// Once returns what compute returns for key, computed once per plan load: a
// file that the defaults of 100,000 instances name is read once.
func (f Field) Once(key string, compute func() any) any {
	if f.l == nil {
		return compute()
	}
	if v, ok := f.l.once[key]; ok {
		return v
	}
	if f.l.once == nil {
		f.l.once = map[string]any{}
	}
	v := compute()
	f.l.once[key] = v
	return v
}

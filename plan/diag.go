package plan

import (
	"fmt"
	"sort"
	"strings"
)

// Diagnostic is one problem in a plan, located in its file.
type Diagnostic struct {
	File string
	// Line and Col are 1-based; Line is 0 for problems with the file as a whole.
	Line, Col int
	// Path is the field's path, like instances[3].login; empty for problems of the document.
	Path    string
	Message string
}

// String renders FILE:LINE:COL: PATH: message, the form editors and terminals turn into links.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", d.Line, d.Col)
	}
	if d.Path != "" {
		b.WriteString(": " + d.Path)
	}
	b.WriteString(": " + d.Message)
	return b.String()
}

// Diagnostics is the error Load and Parse return for an invalid plan: every problem found, sorted
// by position.
type Diagnostics struct {
	List []Diagnostic
}

// Error prints one diagnostic per line.
func (d *Diagnostics) Error() string {
	lines := make([]string, len(d.List))
	for i, x := range d.List {
		lines[i] = x.String()
	}
	return strings.Join(lines, "\n")
}

// add records a problem at a position.
func (d *Diagnostics) add(file string, line, col int, path, format string, args ...any) {
	d.List = append(d.List, Diagnostic{File: file, Line: line, Col: col, Path: path, Message: fmt.Sprintf(format, args...)})
}

// err sorts, drops repeats and returns d as an error, or nil when there is nothing to report.
func (d *Diagnostics) err() error {
	if len(d.List) == 0 {
		return nil
	}
	sort.SliceStable(d.List, func(i, j int) bool {
		a, b := d.List[i], d.List[j]
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
	out := d.List[:1]
	for _, x := range d.List[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	d.List = out
	return d
}

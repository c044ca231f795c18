package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// executorConsts returns the values of the executor package's string
// constants whose names start with prefix and that are declared of type
// typeName ("" for untyped), read from its source so that a new one is checked
// without editing this test.
func executorConsts(t *testing.T, prefix, typeName string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("../../executor/*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				declared := ""
				if id, ok := vs.Type.(*ast.Ident); ok {
					declared = id.Name
				}
				if declared != typeName {
					continue
				}
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, prefix) || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					v, _ := strconv.Unquote(lit.Value)
					out[name.Name] = v
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no executor constants named %s*", prefix)
	}
	return out
}

// readmeSection returns README.md from the heading to the next heading of its level.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q", heading)
	}
	s = s[i+len(heading)+2:]
	level := heading[:strings.IndexByte(heading, ' ')+1]
	if j := strings.Index(s, "\n"+level); j >= 0 {
		s = s[:j]
	}
	return s
}

// Every event type apply -json can write is a row of the README's table of
// event types, and every step an instance_step can carry is named there: an
// outside consumer of the stream is written from that table.
func TestReadmeListsEveryEventTypeAndStep(t *testing.T) {
	sec := readmeSection(t, "## Metrics, alerts and events")
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(sec, -1) {
		rows[m[1]] = true
	}
	for name, typ := range executorConsts(t, "Event", "EventType") {
		if !rows[typ] {
			t.Errorf("README's event table has no row for type %q (executor.%s)", typ, name)
		}
	}
	stepRow := regexp.MustCompile("(?m)^\\| `instance_step` \\|.*$").FindString(sec)
	if stepRow == "" {
		t.Fatal("README's event table has no instance_step row")
	}
	steps := executorConsts(t, "Step", "")
	for name := range emittedSteps(t) {
		step, ok := steps[name]
		if !ok {
			t.Errorf("step(%s) is called, but the executor declares no untyped constant %s", name, name)
			continue
		}
		if !strings.Contains(stepRow, "`"+step+"`") {
			t.Errorf("README's instance_step row does not name step %q (executor.%s)", step, name)
		}
	}
}

// emittedSteps returns the names of the Step constants the executor passes to
// its step callback, the steps an instance_step event can carry.
func emittedSteps(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("../../executor/*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 1 {
				return true
			}
			if fn, ok := call.Fun.(*ast.Ident); !ok || fn.Name != "step" {
				return true
			}
			if arg, ok := call.Args[0].(*ast.Ident); ok && strings.HasPrefix(arg.Name, "Step") {
				out[arg.Name] = true
			}
			return true
		})
	}
	if len(out) == 0 {
		t.Fatal("found no step(StepX) call in the executor")
	}
	return out
}

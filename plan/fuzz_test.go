package plan

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"gopkg.in/yaml.v3"
)

// FuzzLoad feeds arbitrary bytes to Parse. It must never panic (Parse turns a panic into an
// "internal error" diagnostic, which fails here too), must return either a plan or
// *Diagnostics, and a plan it returns must be complete. Seeds: the examples and the invalid
// plans of testdata/script.
func FuzzLoad(f *testing.F) {
	examples, _ := filepath.Glob("../examples/*.yaml")
	for _, name := range examples {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	scripts, _ := filepath.Glob("../testdata/script/validate_*.txtar")
	for _, name := range scripts {
		a, err := txtar.ParseFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range a.Files {
			if strings.HasSuffix(file.Name, ".yaml") {
				f.Add(file.Data)
			}
		}
	}
	// The plan's directory, for relative userData files: empty, so nothing outside is read.
	file := filepath.Join(f.TempDir(), "plan.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		// The parallel parse of large plans must read exactly what the ordinary parse reads,
		// or decline, for any text that passes the checks made before parsing.
		if split := parseSplitMin(data, 1); split != nil && textOK(data) {
			var doc yaml.Node
			if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
				t.Fatalf("split parse accepted what the serial parse refuses: %v", err)
			}
			if err := sameTree(split, doc.Content[0], ""); err != nil {
				t.Fatalf("split parse differs: %v", err)
			}
		}
		p, err := Parse(file, data)
		if err != nil {
			var d *Diagnostics
			if !errors.As(err, &d) {
				t.Fatalf("error is not *Diagnostics: %T %v", err, err)
			}
			if len(d.List) == 0 {
				t.Fatal("empty diagnostics")
			}
			for _, x := range d.List {
				if strings.Contains(x.Message, "internal error") {
					t.Fatalf("panic while parsing: %s", x.Message)
				}
				if x.Message == "" || x.Line < 0 || x.Col < 0 || x.File != file {
					t.Fatalf("malformed diagnostic %+v", x)
				}
			}
			return
		}
		if p.Version != 1 || p.Name == "" || len(p.Instances)+len(p.Selectors) == 0 || len(p.Rollout.Waves) == 0 || p.Rollout.Concurrency < 1 {
			t.Fatalf("incomplete plan %+v", p)
		}
		for _, inst := range p.Instances {
			prov := p.Providers[inst.Provider]
			if prov == nil || inst.ID == "" || inst.Image == "" && inst.ImageByName == nil || inst.Line < 1 {
				t.Fatalf("incomplete instance %+v", inst)
			}
			if prov.Limits.Burst < 1 || prov.Limits.RequestsPerSecond <= 0 {
				t.Fatalf("bad limits %+v", prov.Limits)
			}
		}
		for _, s := range p.Selectors {
			in := s.Template
			if p.Providers[in.Provider] == nil || in.ID != "" || in.Image == "" && in.ImageByName == nil || s.Line < 1 {
				t.Fatalf("incomplete selector %s: %+v", s.Path(), in)
			}
		}
		if n := len(p.Instances); n > 0 {
			sum := 0
			for _, w := range p.Waves(n) {
				sum += w
			}
			if sum != n {
				t.Fatalf("waves cover %d of %d", sum, n)
			}
		}
	})
}

// textOK reports whether data passes the checks Parse makes before parsing YAML.
func textOK(data []byte) bool {
	d := &Diagnostics{}
	checkText("f", data, d)
	return len(d.List) == 0
}

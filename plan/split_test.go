package plan

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// sameTree compares what the loader reads from two node trees: kinds, tags, values, positions.
func sameTree(a, b *yaml.Node, path string) error {
	if a.Kind != b.Kind || a.ShortTag() != b.ShortTag() || a.Value != b.Value || a.Line != b.Line || a.Column != b.Column || len(a.Content) != len(b.Content) {
		return fmt.Errorf("%s: %v %q %q %d:%d (%d) != %v %q %q %d:%d (%d)", path,
			a.Kind, a.ShortTag(), a.Value, a.Line, a.Column, len(a.Content), b.Kind, b.ShortTag(), b.Value, b.Line, b.Column, len(b.Content))
	}
	for i := range a.Content {
		if err := sameTree(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", path, i)); err != nil {
			return err
		}
	}
	return nil
}

func TestParseSplitMatchesSerial(t *testing.T) {
	defer func(n int) { splitMinItems = n }(splitMinItems)
	splitMinItems = 1
	fleet, err := os.ReadFile(writeFleet(t, 3000))
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{"fleet": fleet}
	examples, _ := filepath.Glob("../examples/*.yaml")
	for _, f := range examples {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(f)] = data
	}
	inputs["indent0"] = []byte("version: 1\ninstances:\n- id: a\n  name: b\n# comment\n- {id: c}\nname: x\n")
	inputs["trailing"] = []byte("instances:   # the fleet\n  - a\n  - b\n\nrollout: {}\n")
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			if bytes.Contains(data, []byte("&")) {
				t.Skip("aliases: not split")
			}
			split := parseSplit(data)
			if split == nil {
				t.Fatal("not split")
			}
			var doc yaml.Node
			if err := yaml.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			if err := sameTree(split, doc.Content[0], ""); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseSplitDeclines(t *testing.T) {
	defer func(n int) { splitMinItems = n }(splitMinItems)
	splitMinItems = 1
	for name, src := range map[string]string{
		"no list":         "version: 1\n",
		"flow list":       "instances: [a, b]\n",
		"alias":           "x: &a 1\ninstances:\n  - *a\n",
		"second document": "instances:\n  - a\n---\nb: 1\n",
		"broken entry":    "instances:\n  - {a\n  - b\n",
		"nested key":      "x:\n  instances:\n    - a\n",
	} {
		if parseSplit([]byte(src)) != nil {
			t.Errorf("%s: split, want the serial parse", name)
		}
	}
	// A plan the split declines still loads, and a broken one still gets its error.
	_, err := Parse("p.yaml", []byte(basePlan+"instances:\n  - {id: 98284100-f6d1-4bbf-886a-1b0765024738\n  - id: x\n"))
	if err == nil || !strings.Contains(err.Error(), "YAML syntax error") {
		t.Errorf("got %v", err)
	}
}

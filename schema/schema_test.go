package schema

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func parse(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

func TestSchemaCompilesAndDescribesEveryProperty(t *testing.T) {
	if _, err := compiled(); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(JSON(), &raw); err != nil {
		t.Fatal(err)
	}
	if raw["$schema"] != "https://json-schema.org/draft/2020-12/schema" || raw["$id"] != ID {
		t.Errorf("$schema/$id: %v %v", raw["$schema"], raw["$id"])
	}
	// Editors show a property's description (its own or its $ref target's) as help.
	var described func(p map[string]any) bool
	described = func(p map[string]any) bool {
		if _, ok := p["description"]; ok {
			return true
		}
		if ref, ok := p["$ref"].(string); ok {
			target, _ := lookup(raw, pointerTokens(fragment(ref))).(map[string]any)
			return target != nil && described(target)
		}
		return false
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		if props, ok := m["properties"].(map[string]any); ok {
			for name, p := range props {
				if !described(p.(map[string]any)) {
					t.Errorf("%s/properties/%s has no description", path, name)
				}
			}
		}
		for k, c := range m {
			walk(path+"/"+k, c)
		}
	}
	walk("", raw)
}

func TestExamplesValidate(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if errs := Validate(parse(t, string(data))); len(errs) > 0 {
			t.Errorf("%s: %v", f, errs)
		}
	}
}

const head = `version: 1
name: web
providers:
  kec-bj: {type: ksyun, region: cn-beijing-6}
instances:
  - id: 98284100-f6d1-4bbf-886a-1b0765024738
`

func TestValidateMessages(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // each "LINE:COL: PATH: message"
	}{
		{"valid", head, nil},
		{"missing", "rollout: {}\n", []string{
			`1:1: missing required field "name"`,
			`1:1: missing required field "providers"`, `1:1: missing required field "version"`}},
		{"unknown field", head + "    imgae: x\n", []string{`7:5: instances[0].imgae: unknown field "imgae"; did you mean "image"?`}},
		{"unknown top-level", head + "instance: []\n", []string{`7:1: instance: unknown field "instance"; did you mean "instances"?`}},
		{"no suggestion", head + "    colour: blue\n", []string{`7:5: instances[0].colour: unknown field "colour"`}},
		{"type", strings.Replace(head, "name: web", "name: [web]", 1), []string{
			`2:7: name: must be a name of lowercase letters, digits and '-' (at most 63, not starting with '-'), found a list`}},
		{"enum", strings.Replace(head, "type: ksyun", "type: huawei", 1), []string{
			`4:18: providers.kec-bj.type: must be one of ksyun, huaweicloud; found "huawei"`}},
		{"pattern", head + "    image: 8F12AD9E-AE9A-44B9-95F3-C4E65CE582E2\n", []string{
			`7:12: instances[0].image: must be an image id (a UUID) or {name: IMAGE NAME}, found "8F12AD9E-AE9A-44B9-95F3-C4E65CE582E2"`}},
		{"const", strings.Replace(head, "version: 1", "version: 2", 1), []string{
			`1:10: version: must be 1 (the only plan format this reimage reads), found 2`}},
		{"inline secret not echoed", head + "    login: {password: hunter2}\n", []string{
			`7:23: instances[0].login.password: must be {env: NAME} or {file: PATH} (a secret is never written inline), found a string`}},
		{"minimum", head + "rollout: {concurrency: 0}\n", []string{`7:24: rollout.concurrency: must be at least 1, found 0`}},
		{"min items", strings.Replace(head, "instances:\n  - id: 98284100-f6d1-4bbf-886a-1b0765024738\n", "instances: []\n", 1), []string{
			`5:12: instances: must not be an empty list`}},
		{"unique", head + "    login: {keyIds: [552a0523-b9b4-4868-b8d9-52ad7a38bf89, 552a0523-b9b4-4868-b8d9-52ad7a38bf89]}\n", []string{
			`7:60: instances[0].login.keyIds[1]: repeats instances[0].login.keyIds[0]`}},
		{"wave forms", head + "rollout: {waves: [1, \"5%\", {size: 2, pause: 1m}, 0]}\n", []string{`7:50: rollout.waves[3]: must be at least 1, found 0`}},
		{"odd provider name", strings.Replace(head, "kec-bj:", "kec.bj:", 1), []string{
			`4:3: providers["kec.bj"]: must be a provider name of lowercase letters, digits and '-' (at most 63, not starting with '-'), found "kec.bj"`}},
		{"big number", head + "rollout: {concurrency: 99999999999999999999999}\n", []string{
			`7:24: rollout.concurrency: must be at most 10000, found 99999999999999999999999`}},
		{"aliases followed", "version: 1\nname: &n web\nproviders: {kec-bj: {type: ksyun, region: *n}}\ninstances:\n  - id: *n\n", []string{
			`5:9: instances[0].id: must be a UUID like 98284100-f6d1-4bbf-886a-1b0765024738, found "web"`}},
		{"many instances", head + strings.Repeat("  - id: 98284100-f6d1-4bbf-886a-1b0765024738\n", 2000) + "  - {id: x}\n", []string{
			`2007:10: instances[2001].id: must be a UUID like 98284100-f6d1-4bbf-886a-1b0765024738, found "x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range Validate(parse(t, tt.src)) {
				got = append(got, e.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	fields := []string{"id", "image", "instances", "login", "provider", "providers", "rollout"}
	tests := map[string]string{
		"imgae": "image", "image": "image", "rolout": "rollout", "provdier": "provider",
		"instance": "instances", "colour": "", "x": "", "": "", "loginn": "login",
	}
	for in, want := range tests {
		if got := Suggest(in, fields); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPath(t *testing.T) {
	var b strings.Builder
	appendField(&b, "providers")
	appendField(&b, "kec-bj")
	if got := b.String(); got != "providers.kec-bj" {
		t.Error(got)
	}
	if got := Field(Index("instances", 3), "login"); got != "instances[3].login" {
		t.Error(got)
	}
	if got := Field("providers", "a b"); got != `providers["a b"]` {
		t.Error(got)
	}
	if got := Field("", "0abc"); got != `["0abc"]` {
		t.Error(got)
	}
}

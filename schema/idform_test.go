package schema

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

var (
	uuidForm = IDForm{Pattern: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", Noun: "a UUID", Example: "98284100-f6d1-4bbf-886a-1b0765024738"}
	// awsForm is a form no core definition has: an EC2 instance id.
	awsForm = IDForm{Pattern: "^i-[0-9a-f]{8}([0-9a-f]{9})?$", Noun: "i- and 8 or 17 hex digits", Example: "i-0abc12345def67890"}
)

// testFragment is a minimal fragment of a cloud of type typ whose instance
// ids have form id.
func testFragment(t *testing.T, typ string, id IDForm) cloudFragment {
	t.Helper()
	root, err := parseNode(fmt.Appendf(nil, `{"type": %q, "title": "Cloud %s", "short": %q, "regionExample": "r-1",
		"endpointExample": "https://api.%s.example", "credentialsEnv": "AK/SK", "loginSummary": "password"}`, typ, typ, typ, typ))
	if err != nil {
		t.Fatal(err)
	}
	return cloudFragment{typ: typ, root: root, id: id}
}

// instanceIDOf assembles the core with frags and returns the schema of
// instances[].id, as JSON.
func instanceIDOf(t *testing.T, frags ...cloudFragment) (string, []byte) {
	t.Helper()
	doc, err := assemble(coreSchema, frags)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Defs struct {
			Instance struct {
				Properties struct {
					ID json.RawMessage `json:"id"`
				} `json:"properties"`
			} `json:"instance"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	var compact strings.Builder
	var x any
	_ = json.Unmarshal(v.Defs.Instance.Properties.ID, &x)
	b, _ := json.Marshal(x)
	compact.Write(b)
	return compact.String(), doc
}

// The schema of an instance id is what the registered drivers declare: one
// form they share is a $ref to the core's definition of that pattern; forms
// that differ are an anyOf, with a form no core definition has written out
// and a cloud that declares none taking any non-empty id; no form at all
// leaves the core's.
func TestInstanceIDSchemaIsAssembledFromTheDriversForms(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frags []cloudFragment
		want  string
	}{
		{"one shared form", []cloudFragment{testFragment(t, "a", uuidForm), testFragment(t, "b", uuidForm)},
			`{"$ref":"#/$defs/uuid","description":"The cloud's id of the server (a UUID); unique within a provider."}`},
		{"a form of its own", []cloudFragment{testFragment(t, "c", awsForm)},
			`{"description":"The cloud's id of the server (i- and 8 or 17 hex digits); unique within a provider.","pattern":"^i-[0-9a-f]{8}([0-9a-f]{9})?$","patternErrorMessage":"I- and 8 or 17 hex digits like i-0abc12345def67890.","type":"string","x-expected":"i- and 8 or 17 hex digits like i-0abc12345def67890"}`},
		{"forms that differ", []cloudFragment{testFragment(t, "a", uuidForm), testFragment(t, "b", uuidForm), testFragment(t, "c", awsForm), testFragment(t, "d", IDForm{})},
			`{"anyOf":[{"$ref":"#/$defs/uuid"},{"pattern":"^i-[0-9a-f]{8}([0-9a-f]{9})?$","patternErrorMessage":"I- and 8 or 17 hex digits like i-0abc12345def67890.","type":"string","x-expected":"i- and 8 or 17 hex digits like i-0abc12345def67890"},{"minLength":1,"type":"string","x-expected":"an instance id"}],"description":"The cloud's id of the server (a UUID on a, b; i- and 8 or 17 hex digits on c; any text on d); unique within a provider.","x-expected":"an instance id: a UUID like 98284100-f6d1-4bbf-886a-1b0765024738 (a, b), i- and 8 or 17 hex digits like i-0abc12345def67890 (c) or any text (d)"}`},
		{"no form", []cloudFragment{testFragment(t, "d", IDForm{})},
			`{"description":"The cloud's id of the server; unique within a provider.","minLength":1,"type":"string","x-expected":"an instance id"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := instanceIDOf(t, tc.frags...); got != tc.want {
				t.Errorf("instances[].id:\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// An id no registered cloud's form takes is one error at its position, which
// lists the forms and the clouds that take each: not one error per form.
func TestInstanceIDOfNoCloudsFormIsOneError(t *testing.T) {
	_, doc := instanceIDOf(t, testFragment(t, "a", uuidForm), testFragment(t, "c", awsForm))
	cs, err := compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	src := "version: 1\nname: web\nproviders:\n  p: {type: c, region: r-1}\ninstances:\n  - id: i-0abc1234\n  - id: 98284100-f6d1-4bbf-886a-1b0765024738\n  - id: web\n"
	var got []string
	for _, e := range cs.validate(parse(t, src)) {
		got = append(got, e.String())
	}
	want := `8:9: instances[2].id: must be an instance id: a UUID like 98284100-f6d1-4bbf-886a-1b0765024738 (a) or i- and 8 or 17 hex digits like i-0abc12345def67890 (c), found "web"`
	if strings.Join(got, "\n") != want {
		t.Errorf("errors:\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
}

// imageOf assembles the core with frags and returns field-image's pattern,
// its message and its words.
func imageOf(t *testing.T, frags ...cloudFragment) (pattern, message, expected string) {
	t.Helper()
	doc, err := assemble(coreSchema, frags)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Defs map[string]struct {
			Pattern             string `json:"pattern"`
			PatternErrorMessage string `json:"patternErrorMessage"`
			Expected            string `json:"x-expected"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	im := v.Defs["field-image"]
	return im.Pattern, im.PatternErrorMessage, im.Expected
}

// withImage is f with image ids of form id.
func withImage(f cloudFragment, id IDForm) cloudFragment {
	f.imageID = id
	return f
}

// The image field's id form is what the drivers declare: one shared form's
// pattern, the alternatives of forms that differ, none when a cloud takes any
// id, and the core's words alone when no cloud declares one.
func TestImageIDFormIsAssembledFromTheDriversForms(t *testing.T) {
	amiForm := IDForm{Pattern: "^ami-[0-9a-f]{8}([0-9a-f]{9})?$", Noun: "ami- and 8 or 17 hex digits", Example: "ami-0abc12345def67890"}
	for _, tc := range []struct {
		name                       string
		frags                      []cloudFragment
		pattern, message, expected string
	}{
		{"one shared form", []cloudFragment{withImage(testFragment(t, "a", uuidForm), uuidForm), withImage(testFragment(t, "b", uuidForm), uuidForm)},
			uuidForm.Pattern, "A UUID like 98284100-f6d1-4bbf-886a-1b0765024738, or {name: NAME}.", "an image id (a UUID) or {name: IMAGE NAME}"},
		{"forms that differ", []cloudFragment{withImage(testFragment(t, "a", uuidForm), uuidForm), withImage(testFragment(t, "c", awsForm), amiForm)},
			uuidForm.Pattern + "|" + amiForm.Pattern,
			"An image id: a UUID like 98284100-f6d1-4bbf-886a-1b0765024738 (a) or ami- and 8 or 17 hex digits like ami-0abc12345def67890 (c), or {name: NAME}.",
			"an image id (a UUID on a; ami- and 8 or 17 hex digits on c) or {name: IMAGE NAME}"},
		{"a cloud that takes any", []cloudFragment{withImage(testFragment(t, "a", uuidForm), uuidForm), testFragment(t, "d", IDForm{})},
			"", "", "an image id (a UUID on a; any text on d) or {name: IMAGE NAME}"},
		{"no form", []cloudFragment{testFragment(t, "d", IDForm{})}, "", "", "an image id or {name: IMAGE NAME}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, m, e := imageOf(t, tc.frags...)
			if p != tc.pattern || m != tc.message || e != tc.expected {
				t.Errorf("field-image:\npattern %q\nmessage %q\nwords   %q\nwant\npattern %q\nmessage %q\nwords   %q", p, m, e, tc.pattern, tc.message, tc.expected)
			}
		})
	}
}

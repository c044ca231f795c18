package schema

import (
	"fmt"
	"strings"
)

// IDForm is how a cloud's instance ids look, for the assembled schema: its
// driver declares it (plan.IDSyntax), so that the core holds no id pattern.
type IDForm struct {
	// Pattern is an anchored regular expression of the canonical form.
	Pattern string
	// Noun names the form ("a UUID"); Example is an id of it.
	Noun, Example string
}

// RegisterInstanceID sets the instance id form of the cloud of provider type
// typ, registered before with Register. A cloud that registers none takes any
// non-empty id. It panics when typ is not registered or the document was
// already assembled: programming errors found at start-up.
func RegisterInstanceID(typ string, f IDForm) {
	fragmentsMu.Lock()
	defer fragmentsMu.Unlock()
	if assembledUsed {
		panic(fmt.Sprintf("schema: RegisterInstanceID: %q registered after the schema was used", typ))
	}
	for i := range cloudFragments {
		if cloudFragments[i].typ == typ {
			cloudFragments[i].id = f
			return
		}
	}
	panic(fmt.Sprintf("schema: RegisterInstanceID: no fragment of %q registered", typ))
}

// instanceIDSchema is the schema of instances[].id for the clouds of frags:
// their one form when they share it, else an anyOf of their forms (a cloud
// without one adds any non-empty string). Which form an instance's id must
// have depends on its provider's type, which a schema cannot follow; plan
// checks that. A form whose pattern a core definition has is a $ref to it.
// Nil when no cloud declares a form: the core's schema stays.
func instanceIDSchema(defs *node, frags []cloudFragment) *node {
	var forms []IDForm
	var types []string
	declared := false
	for _, f := range frags {
		declared = declared || f.id.Pattern != ""
		i := -1
		for j, g := range forms {
			if g == f.id {
				i = j
			}
		}
		if i < 0 {
			forms = append(forms, f.id)
			types = append(types, f.typ)
		} else {
			types[i] += ", " + f.typ
		}
	}
	if !declared {
		return nil
	}
	if len(forms) == 1 {
		n := &node{kind: '{', keys: []string{"description"}, vals: []*node{textNode("The cloud's id of the server (" + forms[0].Noun + "); unique within a provider.")}}
		appendMembers(n, formSchema(defs, forms[0]))
		return n
	}
	nouns := make([]string, len(forms))
	expected := make([]string, len(forms))
	alternatives := &node{kind: '['}
	for i, f := range forms {
		nouns[i], expected[i] = f.Noun, f.Noun+" like "+f.Example
		if f.Pattern == "" {
			nouns[i], expected[i] = "any text", "any text"
		}
		nouns[i] += " on " + types[i]
		expected[i] += " (" + types[i] + ")"
		alternatives.vals = append(alternatives.vals, formSchema(defs, f))
	}
	return &node{kind: '{', keys: []string{"description", "anyOf", "x-expected"}, vals: []*node{
		textNode("The cloud's id of the server (" + strings.Join(nouns, "; ") + "); unique within a provider."),
		alternatives,
		textNode("an instance id: " + orList(expected)),
	}}
}

// formSchema is the schema of one id form: a $ref to the core definition with
// its pattern, else the pattern with its words; any non-empty string for none.
func formSchema(defs *node, f IDForm) *node {
	if f.Pattern == "" {
		return &node{kind: '{', keys: []string{"type", "minLength", "x-expected"}, vals: []*node{
			textNode("string"), {raw: []byte("1")}, textNode("an instance id")}}
	}
	for i, name := range defs.keys {
		if defs.vals[i].get("pattern").text() == f.Pattern {
			return &node{kind: '{', keys: []string{"$ref"}, vals: []*node{textNode("#/$defs/" + name)}}
		}
	}
	words := f.Noun + " like " + f.Example
	return &node{kind: '{', keys: []string{"type", "pattern", "x-expected", "patternErrorMessage"}, vals: []*node{
		textNode("string"), textNode(f.Pattern), textNode(words), textNode(strings.ToUpper(words[:1]) + words[1:] + ".")}}
}

// appendMembers appends the members of object src to object dst.
func appendMembers(dst, src *node) {
	for i, k := range src.keys {
		dst.set(k, src.vals[i])
	}
}

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
	registerForm("RegisterInstanceID", typ, func(c *cloudFragment) { c.id = f })
}

// RegisterImageID sets the image id form of the cloud of provider type typ,
// as RegisterInstanceID does its instance ids'.
func RegisterImageID(typ string, f IDForm) {
	registerForm("RegisterImageID", typ, func(c *cloudFragment) { c.imageID = f })
}

// registerForm sets one of typ's id forms (set), for the function op.
func registerForm(op, typ string, set func(*cloudFragment)) {
	fragmentsMu.Lock()
	defer fragmentsMu.Unlock()
	if assembledUsed {
		panic(fmt.Sprintf("schema: %s: %q registered after the schema was used", op, typ))
	}
	for i := range cloudFragments {
		if cloudFragments[i].typ == typ {
			set(&cloudFragments[i])
			return
		}
	}
	panic(fmt.Sprintf("schema: %s: no fragment of %q registered", op, typ))
}

// distinctForms are the different forms of frags' ids (form picks which),
// each with the clouds that have it ("a, b"), and whether any declares one.
func distinctForms(frags []cloudFragment, form func(cloudFragment) IDForm) (forms []IDForm, types []string, declared bool) {
	for _, f := range frags {
		id := form(f)
		declared = declared || id.Pattern != ""
		i := -1
		for j, g := range forms {
			if g == id {
				i = j
			}
		}
		if i < 0 {
			forms = append(forms, id)
			types = append(types, f.typ)
		} else {
			types[i] += ", " + f.typ
		}
	}
	return forms, types, declared
}

// setImageID puts the clouds' image id forms into field-image, whose string
// form is an id and whose object form is {name: NAME}: the one shared form's
// pattern, else the alternatives of every form (none when a cloud takes any
// id), and the words that say them. Nothing when no cloud declares a form.
func setImageID(image *node, frags []cloudFragment) {
	forms, types, declared := distinctForms(frags, func(f cloudFragment) IDForm { return f.imageID })
	if !declared || image == nil {
		return
	}
	if len(forms) == 1 {
		f := forms[0]
		image.insertBefore("required", "pattern", textNode(f.Pattern))
		image.insertBefore("required", "patternErrorMessage", textNode(capitalise(f.Noun+" like "+f.Example)+", or {name: NAME}."))
		image.set("x-expected", textNode("an image id ("+f.Noun+") or {name: IMAGE NAME}"))
		return
	}
	var patterns, nouns, expected []string
	anyID := false
	for i, f := range forms {
		if f.Pattern == "" {
			anyID = true
			nouns = append(nouns, "any text on "+types[i])
			expected = append(expected, "any text ("+types[i]+")")
			continue
		}
		patterns = append(patterns, f.Pattern)
		nouns = append(nouns, f.Noun+" on "+types[i])
		expected = append(expected, f.Noun+" like "+f.Example+" ("+types[i]+")")
	}
	if !anyID {
		image.insertBefore("required", "pattern", textNode(strings.Join(patterns, "|")))
		image.insertBefore("required", "patternErrorMessage", textNode("An image id: "+orList(expected)+", or {name: NAME}."))
	}
	image.set("x-expected", textNode("an image id ("+strings.Join(nouns, "; ")+") or {name: IMAGE NAME}"))
}

// capitalise upper-cases the first letter of s.
func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// instanceIDSchema is the schema of instances[].id for the clouds of frags:
// their one form when they share it, else an anyOf of their forms (a cloud
// without one adds any non-empty string). Which form an instance's id must
// have depends on its provider's type, which a schema cannot follow; plan
// checks that. A form whose pattern a core definition has is a $ref to it.
// Nil when no cloud declares a form: the core's schema stays.
func instanceIDSchema(defs *node, frags []cloudFragment) *node {
	forms, types, declared := distinctForms(frags, func(f cloudFragment) IDForm { return f.id })
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
		textNode("string"), textNode(f.Pattern), textNode(words), textNode(capitalise(words) + ".")}}
}

// appendMembers appends the members of object src to object dst.
func appendMembers(dst, src *node) {
	for i, k := range src.keys {
		dst.set(k, src.vals[i])
	}
}

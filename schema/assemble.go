package schema

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
)

// A cloud's fragment of the plan schema is a JSON object that its driver
// package embeds and registers (through plan.RegisterCloud):
//
//	{
//	  "type": "the provider type",
//	  "title": "the cloud's full name",
//	  "short": "its short name",
//	  "regionExample": "a region id",
//	  "endpointExample": "its API's URL",
//	  "credentialsEnv": "ACCESS_VAR/SECRET_VAR",
//	  "loginSummary": "its login forms, for the login's description",
//	  "loginForms": ["the login fields that are forms"],
//	  "provider": {provider fields only it takes: name: schema},
//	  "login": {login fields only it takes: name: schema},
//	  "instance": {instance fields only it takes: name: schema}
//	}
//
// The core document (core.schema.json) names no cloud; the assembled one adds
// the provider type enum, the clouds' fields, and the words that list them.

var (
	fragmentsMu    sync.Mutex
	cloudFragments []cloudFragment
	// assembledUsed is set once the document was assembled: a fragment
	// registered later would not be in it.
	assembledUsed bool
)

type cloudFragment struct {
	typ  string
	root *node
	// id and imageID are the forms of the cloud's instance and image ids
	// (RegisterInstanceID, RegisterImageID); zero: any.
	id, imageID IDForm
}

// Register adds the schema fragment of the cloud of provider type typ. It
// panics when the fragment is not such a JSON object or when the document was
// already assembled: both are programming errors found at start-up.
func Register(typ string, data []byte) {
	root, err := parseNode(data)
	if err != nil || root.kind != '{' || root.get("type").text() != typ {
		panic(fmt.Sprintf("schema: Register: the fragment of %q is not an object of type %q (%v)", typ, typ, err))
	}
	fragmentsMu.Lock()
	defer fragmentsMu.Unlock()
	if assembledUsed {
		panic(fmt.Sprintf("schema: Register: %q registered after the schema was used", typ))
	}
	cloudFragments = append(cloudFragments, cloudFragment{typ: typ, root: root})
}

// document is the assembled schema, built once, at first use.
var document = sync.OnceValues(func() ([]byte, error) {
	fragmentsMu.Lock()
	assembledUsed = true
	frags := cloudFragments
	fragmentsMu.Unlock()
	return assemble(coreSchema, frags)
})

// assemble adds the fragments to the core document.
func assemble(core []byte, frags []cloudFragment) ([]byte, error) {
	doc, err := parseNode(core)
	if err != nil {
		return nil, fmt.Errorf("core schema: %w", err)
	}
	defs := doc.get("$defs")
	provider := defs.at("provider", "properties")
	login := defs.get("login")
	if provider == nil || login == nil || login.get("properties") == nil {
		return nil, fmt.Errorf("core schema: no $defs.provider.properties or $defs.login.properties")
	}
	var types, titles, regions, envs, logins []string
	forms := []string{"password"}
	endpoint := ""
	for _, f := range frags {
		r := f.root
		types = append(types, f.typ)
		titles = append(titles, f.typ+" ("+r.get("title").text()+")")
		regions = append(regions, r.get("regionExample").text()+" ("+r.get("short").text()+")")
		envs = append(envs, r.get("credentialsEnv").text())
		logins = append(logins, r.get("loginSummary").text()+" ("+r.get("short").text()+")")
		if endpoint == "" {
			endpoint = r.get("endpointExample").text()
		}
		if lf := r.get("loginForms"); lf != nil {
			for _, v := range lf.vals {
				forms = append(forms, v.text())
			}
		}
		if p := r.get("provider"); p != nil {
			for i, k := range p.keys {
				provider.insertBefore("credentials", k, p.vals[i])
			}
		}
		if l := r.get("login"); l != nil {
			for i, k := range l.keys {
				login.get("properties").set(k, l.vals[i])
			}
		}
		if in := r.get("instance"); in != nil {
			for i, k := range in.keys {
				// One definition, referred to wherever instance fields are.
				defs.insertBefore("defaults", "field-"+k, in.vals[i])
				ref := &node{kind: '{', keys: []string{"$ref"}, vals: []*node{textNode("#/$defs/field-" + k)}}
				for _, where := range []string{"defaults", "providerDefaults", "selector", "instance"} {
					if props := defs.at(where, "properties"); props != nil {
						props.set(k, ref)
					}
				}
			}
		}
	}
	setImageID(defs.get("field-image"), frags)
	if id := instanceIDSchema(defs, frags); id != nil {
		defs.at("instance", "properties").set("id", id)
	}
	if len(frags) > 0 {
		enum := &node{kind: '['}
		for _, t := range types {
			enum.vals = append(enum.vals, textNode(t))
		}
		typ := provider.get("type")
		typ.set("description", textNode("Which cloud: "+orList(titles)+"."))
		typ.set("enum", enum)
		provider.get("region").set("description", textNode("Region id, like "+orList(regions)+"."))
		provider.get("endpoint").set("x-expected", textNode("a URL like "+endpoint))
		cred := provider.get("credentials")
		cred.set("description", textNode(cred.get("description").text()+" Default: the cloud's usual environment variables ("+strings.Join(envs, ", ")+")."))
		login.set("description", textNode("How to log in after the change: exactly one of password, "+commaOrList(logins)+"."))
		login.set("x-expected", textNode("a mapping with one login form: "+orList(forms)))
	}
	var b bytes.Buffer
	doc.write(&b, "")
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// orList is "a", "a or b", "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// commaOrList is "a", "a, or b", "a, b, or c": for items that hold commas.
func commaOrList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + ", or " + items[len(items)-1]
}

package plan

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/reimage-dev/reimage/schema"
)

// Cloud is what package plan knows of one cloud: its provider type, the
// fields only its providers and instances take, its login forms besides a
// password, how to decode its instance options, and its JSON Schema fragment.
// Each cloud's driver package declares one; the one list in providers/drivers
// registers it (through providers.Register), so that plan names no cloud.
type Cloud struct {
	// Type is the provider type a plan names the cloud by (a provider's type).
	Type string
	// Short is the cloud's name for people in messages: its product's
	// short name.
	Short string
	// ProviderFields are the string fields of a provider entry only this
	// cloud takes; each is required for it. Their values are Provider.Settings.
	ProviderFields []string
	// InstanceFields are the fields of an instance (also of defaults, a
	// provider's defaults and a selector) only this cloud takes.
	InstanceFields []string
	// LoginForms are the cloud's login forms besides a password, in the order
	// messages list them.
	LoginForms []LoginForm
	// EndpointExample is a URL of the cloud's API, shown when an endpoint is
	// not a URL.
	EndpointExample string
	// Decode decodes one instance's options from its fields of InstanceFields
	// and, from its login, the fields of LoginForms (and what goes with them).
	// Each field may be absent; what a field says wrongly is reported with
	// Field.Errorf, once.
	Decode func(f OptionFields) Options
	// Schema is the cloud's fragment of the plan's JSON Schema (see
	// schema.Register).
	Schema []byte
	// InstanceID is the form of the cloud's instance ids: plan normalises
	// an instance's id with it and refuses one of another form at its
	// file:line:col, and the schema's instances[].id is assembled from the
	// clouds' forms. Zero: any non-empty id.
	InstanceID IDSyntax
	// ImageID is the form of the cloud's image ids, used as InstanceID is
	// (the schema's image field is assembled from the clouds' forms). Zero:
	// any non-empty id.
	ImageID IDSyntax

	// id and imageID are InstanceID and ImageID compiled, by RegisterCloud.
	id, imageID compiledID
}

// LoginForm is a login form of one cloud besides a password.
type LoginForm struct {
	// Field is the login's field that chooses the form.
	Field string
	// OnlyTrue: the form is chosen by `Field: true`; false chooses nothing.
	OnlyTrue bool
	// With are the login fields that may go with this form only.
	With []string
}

// hint is how "set one of ..." lists the form.
func (f LoginForm) hint() string {
	if f.OnlyTrue {
		return f.Field + ": true"
	}
	return f.Field
}

// Options is what a cloud's driver decoded of an instance's cloud-only
// fields and login forms; the cloud's client reads it back from the change
// request. Plan, engine and command line only ask it these questions.
type Options interface {
	// Keys are the key pairs the login names, which pre-flight checks the
	// cloud has; nil when it names none.
	Keys() []string
	// CheckImage says why the options cannot go with image, which needs a
	// disk of minDiskGB (0: unknown), or "" when they can.
	CheckImage(image string, minDiskGB int) string
	// SpecParts are the options' stable encodings that a saved plan's spec
	// sums, written before and after the password's reference (see Spec).
	SpecParts() (beforePassword, afterPassword string)
}

// OptionFields are an instance's fields of one cloud, for its driver to decode.
type OptionFields interface {
	// Field returns the instance field name (one of Cloud.InstanceFields),
	// from the instance or where its defaults come from; absent when unset.
	Field(name string) Field
	// Login returns the login field name (a form of Cloud.LoginForms or what
	// goes with one); absent when the login does not set it.
	Login(name string) Field
}

var (
	cloudsMu sync.RWMutex
	clouds   = map[string]*Cloud{}
	// cloudOrder is the registration order, the order messages list clouds in.
	cloudOrder []*Cloud
)

// RegisterCloud makes c known to plan loading and its schema fragment to
// package schema. It panics on an incomplete cloud or a type registered
// twice: both are programming errors found at start-up.
func RegisterCloud(c Cloud) {
	if c.Type == "" || c.Short == "" || c.Decode == nil || len(c.Schema) == 0 {
		panic(fmt.Sprintf("plan: RegisterCloud: cloud %q is incomplete", c.Type))
	}
	cloudsMu.Lock()
	defer cloudsMu.Unlock()
	if _, dup := clouds[c.Type]; dup {
		panic(fmt.Sprintf("plan: RegisterCloud: cloud %q registered twice", c.Type))
	}
	c.id, c.imageID = compileID(c.Type, c.InstanceID), compileID(c.Type, c.ImageID)
	schema.Register(c.Type, c.Schema)
	if !c.InstanceID.IsZero() {
		schema.RegisterInstanceID(c.Type, c.InstanceID.form())
	}
	if !c.ImageID.IsZero() {
		schema.RegisterImageID(c.Type, c.ImageID.form())
	}
	clouds[c.Type] = &c
	cloudOrder = append(cloudOrder, &c)
}

// cloudOf returns the registered cloud of a provider type, or nil.
func cloudOf(typ string) *Cloud {
	cloudsMu.RLock()
	defer cloudsMu.RUnlock()
	return clouds[typ]
}

// registeredClouds returns the clouds in registration order. The list is only
// appended to, so the slice (capped at its length) is returned without a copy:
// plan loading asks for it for every instance.
func registeredClouds() []*Cloud {
	cloudsMu.RLock()
	defer cloudsMu.RUnlock()
	return cloudOrder[:len(cloudOrder):len(cloudOrder)]
}

// fieldOwner returns the cloud that takes an instance field, or nil for a
// field of every cloud.
func fieldOwner(name string) *Cloud {
	for _, c := range registeredClouds() {
		if slices.Contains(c.InstanceFields, name) {
			return c
		}
	}
	return nil
}

// loginOwner returns the cloud whose login form (or what goes with one) the
// login field name is, with the form; nil for password and unknown fields.
func loginOwner(name string) (*Cloud, *LoginForm) {
	for _, c := range registeredClouds() {
		for i := range c.LoginForms {
			f := &c.LoginForms[i]
			if f.Field == name || slices.Contains(f.With, name) {
				return c, f
			}
		}
	}
	return nil, nil
}

// providerFieldOwners lists the clouds whose providers take field name.
func providerFieldOwners(name string) []*Cloud {
	var out []*Cloud
	for _, c := range registeredClouds() {
		if slices.Contains(c.ProviderFields, name) {
			out = append(out, c)
		}
	}
	return out
}

// loginFormsHint lists every cloud's login forms for "set one of ...":
// "a, b: true (X) or c (Y)".
func loginFormsHint() string {
	var parts []string
	for _, c := range registeredClouds() {
		if len(c.LoginForms) == 0 {
			continue
		}
		hints := make([]string, len(c.LoginForms))
		for i, f := range c.LoginForms {
			hints[i] = f.hint()
		}
		parts = append(parts, strings.Join(hints, ", ")+" ("+c.Short+")")
	}
	return orList(parts)
}

// orList is "a", "a or b", "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// endpointExample is the first registered cloud's API URL, for messages.
func endpointExample() string {
	for _, c := range registeredClouds() {
		if c.EndpointExample != "" {
			return c.EndpointExample
		}
	}
	return "https://api.example.com"
}

package plan

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/reimage-dev/reimage/schema"
	"gopkg.in/yaml.v3"
)

// loader turns a node tree into a Plan. It is defensive: the schema has already reported values
// of the wrong shape, so a field it cannot read is skipped here rather than reported twice.
type loader struct {
	file      string
	d         *Diagnostics
	providers map[string]*Provider
	// entries locate p.Instances[i] in the plan: its index in the instances list and its node.
	entries []entry
	// options is the scratch the instances' cloud options are gathered in.
	options optionFields
	// once holds what Field.Once computed: a file a default shared by 100,000 instances names is
	// read once.
	once map[string]any
	// providerDefaults holds each provider's defaults block, by provider name.
	providerDefaults map[string]*yaml.Node
	// wrongImage holds the image nodes reported as of another cloud's form: a
	// default shared by 100,000 instances is one diagnostic, not 100,000
	// that the report would then fold into one.
	wrongImage map[*yaml.Node]bool
}

type entry struct {
	index int
	node  *yaml.Node
}

func (l *loader) errorf(n *yaml.Node, path, format string, args ...any) {
	l.d.add(l.file, n.Line, n.Column, path, format, args...)
}

func (l *loader) plan(root *yaml.Node) *Plan {
	p := &Plan{File: l.file, Providers: map[string]*Provider{}}
	l.providers = p.Providers
	if _, v := field(root, "version"); v != nil {
		p.Version, _ = intValue(v)
	}
	if _, v := field(root, "name"); v != nil {
		p.Name, _ = stringValue(v)
	}
	if _, v := field(root, "providers"); v != nil && v.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(v.Content); i += 2 {
			name := keyOf(v.Content[i])
			p.Providers[name] = l.provider(name, v.Content[i], deref(v.Content[i+1]))
		}
		l.checkProviderDefaults()
	}
	p.Rollout = l.rollout(root)
	_, defaults := field(root, "defaults")
	if defaults != nil && defaults.Kind != yaml.MappingNode {
		defaults = nil
	}
	if defaults != nil {
		if k, v := field(defaults, "provider"); v != nil {
			if name, ok := stringValue(v); ok {
				l.providerRef(k, v, "defaults.provider", name)
			}
		}
	}
	if _, v := field(root, "instances"); v != nil && v.Kind == yaml.SequenceNode {
		p.Instances = make([]*Instance, 0, len(v.Content))
		l.entries = make([]entry, 0, len(v.Content))
		for i, n := range v.Content {
			n = deref(n)
			if n.Kind != yaml.MappingNode {
				continue
			}
			p.Instances = append(p.Instances, l.instance(schema.Index("instances", i), n, defaults))
			l.entries = append(l.entries, entry{index: i, node: n})
		}
	}
	if _, v := field(root, "select"); v != nil && v.Kind == yaml.SequenceNode {
		for i, n := range v.Content {
			if n = deref(n); n.Kind == yaml.MappingNode {
				p.Selectors = append(p.Selectors, l.selector(i, n, defaults))
			}
		}
	}
	if get(root, "instances") == nil && get(root, "select") == nil {
		l.errorf(root, "", "no instances: list them under instances, choose them with select, or both")
	}
	l.uniqueIDs(p)
	return p
}

// get returns a field's value node, or nil.
func get(n *yaml.Node, name string) *yaml.Node {
	_, val := field(n, name)
	return val
}

func (l *loader) provider(name string, key, n *yaml.Node) *Provider {
	p := &Provider{Name: name}
	path := schema.Field("providers", name)
	if n.Kind != yaml.MappingNode {
		return p
	}
	p.Type, _ = stringValue(get(n, "type"))
	p.Region, _ = stringValue(get(n, "region"))
	l.providerSettings(p, path, n)
	if _, val := field(n, "endpoint"); val != nil {
		if s, ok := stringValue(val); ok {
			p.Endpoint = s
			if msg := checkEndpoint(s); msg != "" {
				l.errorf(val, schema.Field(path, "endpoint"), "%s", msg)
			}
		}
	}
	if c := get(n, "credentials"); c != nil && c.Kind == yaml.MappingNode {
		p.Credentials.AccessKey = l.secretRef(get(c, "accessKey"))
		p.Credentials.SecretKey = l.secretRef(get(c, "secretKey"))
	}
	if _, val := field(n, "defaults"); val != nil && val.Kind == yaml.MappingNode {
		if l.providerDefaults == nil {
			l.providerDefaults = map[string]*yaml.Node{}
		}
		l.providerDefaults[name] = val
	}
	p.Limits.RequestsPerSecond = DefaultRequestsPerSecond
	if lim := get(n, "limits"); lim != nil && lim.Kind == yaml.MappingNode {
		if f, ok := floatValue(get(lim, "requestsPerSecond")); ok && f > 0 {
			p.Limits.RequestsPerSecond = f
		}
		if b, ok := intValue(get(lim, "burst")); ok && b > 0 {
			p.Limits.Burst = b
		}
	}
	if p.Limits.Burst == 0 {
		// Four fifths of a second's worth. A client whose bucket is as deep
		// as the cloud's empties the cloud's with its first burst, and from
		// then on any jitter of the network gets requests throttled; a fifth
		// left in the cloud's bucket absorbs it, while a burst still lets a
		// wave start quickly (measured in BENCHMARKS.md: no throttled answer
		// at the cloud's rate; half a second's worth costs the rollout 1 %).
		p.Limits.Burst = max(1, int(math.Ceil(p.Limits.RequestsPerSecond*4/5)))
	}
	return p
}

// providerSettings reads the provider fields only some clouds take: each is
// required for the clouds that take it and refused for the others.
func (l *loader) providerSettings(p *Provider, path string, n *yaml.Node) {
	cloud := cloudOf(p.Type)
	seen := map[string]bool{}
	for _, c := range registeredClouds() {
		for _, name := range c.ProviderFields {
			if seen[name] {
				continue
			}
			seen[name] = true
			mine := cloud != nil && slices.Contains(cloud.ProviderFields, name)
			k, val := field(n, name)
			switch {
			case val != nil && (mine || cloud == nil):
				if s, ok := stringValue(val); ok {
					if p.Settings == nil {
						p.Settings = map[string]string{}
					}
					p.Settings[name] = s
				}
			case val != nil:
				types := []string{}
				for _, o := range providerFieldOwners(name) {
					types = append(types, o.Type)
				}
				l.errorf(k, schema.Field(path, name), "%s is only for %s providers", name, orList(types))
			case mine:
				l.errorf(n, path, "missing required field %q (%s providers need it)", name, cloud.Type)
			}
		}
	}
}

// checkEndpoint allows https anywhere and plain http only to this machine (the simulator), so
// that credentials and signatures never cross a network in clear text.
func checkEndpoint(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("must be a URL like %s, found %q", endpointExample(), s)
	}
	if u.User != nil {
		return "must not carry credentials; use the provider's credentials field"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		host := u.Hostname()
		if host == "localhost" {
			return ""
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return ""
		}
		return fmt.Sprintf("plain http is allowed only to a loopback address (127.0.0.1, ::1, localhost), found host %q; use https", host)
	}
	return fmt.Sprintf("must be an https URL, found scheme %q", u.Scheme)
}

func (l *loader) secretRef(n *yaml.Node) *SecretRef {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	r := &SecretRef{At: fmt.Sprintf("%s:%d:%d", l.file, n.Line, n.Column)}
	r.Env, _ = stringValue(get(n, "env"))
	r.File, _ = stringValue(get(n, "file"))
	if r.Env == "" && r.File == "" {
		return nil
	}
	return r
}

func (l *loader) rollout(root *yaml.Node) Rollout {
	r := Rollout{
		Concurrency:     DefaultConcurrency,
		Waves:           DefaultWaves(),
		InstanceTimeout: DefaultInstanceTimeout,
	}
	n := get(root, "rollout")
	if n == nil || n.Kind != yaml.MappingNode {
		return r
	}
	if c, ok := intValue(get(n, "concurrency")); ok && c > 0 {
		r.Concurrency = c
	}
	if ws := get(n, "waves"); ws != nil && ws.Kind == yaml.SequenceNode && len(ws.Content) > 0 {
		r.Waves = nil
		for i, w := range ws.Content {
			w = deref(w)
			path := schema.Index("rollout.waves", i)
			var wave Wave
			sizeNode := w
			if w.Kind == yaml.MappingNode {
				sizeNode = get(w, "size")
				if p := get(w, "pause"); p != nil {
					wave.Pause, _ = l.duration(p, schema.Field(path, "pause"), false)
				}
			}
			if sizeNode != nil {
				if s, ok := parseSize(sizeNode); ok && (s.Count > 0 || s.Percent > 0) {
					wave.Size = s
				}
			}
			if wave.Size == (Size{}) {
				wave.Size = Size{Count: 1} // invalid, already reported by the schema
			}
			r.Waves = append(r.Waves, wave)
		}
	}
	if m := get(n, "maxFailures"); m != nil {
		if s, ok := parseSize(m); ok {
			r.MaxFailures = s
		}
	}
	if t := get(n, "instanceTimeout"); t != nil {
		if d, ok := l.duration(t, "rollout.instanceTimeout", true); ok {
			r.InstanceTimeout = d
		}
	}
	r.Canary = canary(get(n, "canary"))
	l.rolloutGates(n, &r)
	return r
}

// duration parses a Go duration; the schema checked its form, this catches overflow and zero.
func (l *loader) duration(n *yaml.Node, path string, positive bool) (time.Duration, bool) {
	s, ok := stringValue(n)
	if !ok {
		return 0, false
	}
	if !schemaDuration(s) {
		// The schema reported its form; "-5m" parses, and would be reported again as not positive.
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		l.errorf(n, path, "duration %q is too long", s)
		return 0, false
	}
	if positive && d <= 0 {
		l.errorf(n, path, "must be longer than 0, found %q", s)
		return 0, false
	}
	return d, true
}

// schemaDuration reports whether the schema's duration pattern accepted s (so that the schema,
// not this package, reports malformed ones).
func schemaDuration(s string) bool {
	return durationPattern.MatchString(s)
}

// durationPattern is the pattern of $defs/duration in plan.schema.json.
var durationPattern = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$|^0$`)

// parseSize reads a count or "N%". The schema bounds the values.
func parseSize(n *yaml.Node) (Size, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		return Size{}, false
	}
	if i, ok := intValue(n); ok {
		return Size{Count: i}, i >= 0
	}
	if s, ok := stringValue(n); ok && strings.HasSuffix(s, "%") {
		p, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
		if err == nil && p >= 0 && p <= 100 && !strings.HasPrefix(s, "+") {
			return Size{Percent: p, IsPercent: true}, true
		}
	}
	return Size{}, false
}

// DefaultWaves is the rollout when the plan names none: a canary of one, then all the rest.
func DefaultWaves() []Wave {
	return []Wave{{Size: Size{Count: 1}}, {Size: Size{Percent: 100, IsPercent: true}}}
}

// instance decodes the instance at path (an entry of instances, or a selector's fields),
// merging defaults field by field: a field the instance sets replaces the default as a whole (a
// login is never half from defaults). The provider's defaults come between the instance and the
// plan's.
func (l *loader) instance(path string, n, defaults *yaml.Node) *Instance {
	inst := &Instance{Line: n.Line, Col: n.Column}
	var provDefaults *yaml.Node
	// pick returns the node of a field from the instance or else from its provider's defaults or
	// else from defaults, with the path errors about it are reported at. A field from the
	// provider's defaults was checked against the provider's type once, with the provider.
	pick := func(name string) (key, val *yaml.Node, at pathOf, fromDefaults bool) {
		if k, v := field(n, name); v != nil {
			return k, v, pathOf{path, name}, false
		}
		if k, v := field(provDefaults, name); v != nil {
			return k, v, pathOf{schema.Field(schema.Field("providers", inst.Provider), "defaults"), name}, false
		}
		if defaults != nil {
			if k, v := field(defaults, name); v != nil {
				return k, v, pathOf{"defaults", name}, true
			}
		}
		return nil, nil, pathOf{}, false
	}
	inst.ID, _ = stringValue(get(n, "id"))
	if _, val := field(n, "name"); val != nil {
		inst.Name, _ = stringValue(val)
	}

	var prov *Provider
	if k, val, at, fromDefaults := pick("provider"); val != nil {
		inst.Provider, _ = stringValue(val)
		if !fromDefaults {
			prov = l.providerRef(k, val, at.String(), inst.Provider)
		} else {
			prov = l.providers[inst.Provider]
		}
	} else if len(l.providers) == 1 {
		// One provider needs no naming: every instance can only be its.
		for name, p := range l.providers {
			inst.Provider, prov = name, p
		}
	} else if !misspelt("provider", n, defaults) {
		l.errorf(n, path, "no provider: set provider on the instance or in defaults (one of %s)", l.providerNames())
	}
	// An invalid provider type has been reported; checking fields against it would only repeat that.
	var cloud *Cloud
	if prov != nil {
		if cloud = cloudOf(prov.Type); cloud == nil {
			prov = nil
		}
	}
	provDefaults = l.providerDefaults[inst.Provider]
	if cloud != nil {
		l.checkInstanceID(n, path, inst.ID, prov, cloud)
	}

	if _, val, at, _ := pick("image"); val != nil {
		inst.Image, inst.ImageByName = imageOf(val, at)
		if cloud != nil {
			l.checkImageID(val, at.String(), inst.Image, prov, cloud)
		}
	} else if !misspelt("image", n, provDefaults, defaults) {
		l.errorf(n, path, "no image: set image on the instance or in defaults")
	}
	var loginFields []Field
	if _, val, at, fromDefaults := pick("login"); val != nil {
		inst.Login, loginFields = l.login(val, at.String, prov, fromDefaults)
	} else if !misspelt("login", n, provDefaults, defaults) {
		l.errorf(n, path, "no login: set login on the instance or in defaults")
	}
	inst.Running = RunningStop
	if _, val, _, _ := pick("running"); val != nil {
		if s, ok := stringValue(val); ok && (s == RunningStop || s == RunningSkip) {
			inst.Running = s
		}
	}
	if _, val, _, _ := pick("reinstall"); val != nil && val.Kind == yaml.ScalarNode && val.ShortTag() != "!!null" {
		inst.Reinstall = val.Value
	}
	if _, val, _, _ := pick("protect"); val != nil {
		inst.Protect, _ = boolValue(val)
	}
	// The cloud-only fields: each is checked against the provider's cloud and decoded by the
	// cloud that takes it. Without a known cloud (reported already) each owner still decodes
	// its fields, so that what is wrong in them is reported as well.
	opt := &l.options // reused: Decode keeps no reference to it
	opt.fields, opt.login = opt.fields[:0], loginFields
	for _, c := range registeredClouds() {
		for _, name := range c.InstanceFields {
			k, val, at, fromDefaults := pick(name)
			if val == nil {
				continue
			}
			if cloud != nil && cloud != c {
				if fromDefaults {
					l.errorf(k, at.String(), "only %s providers take %s, but the instances of %s provider %q get it from defaults; set it on the %s instances instead", c.Type, name, cloud.Type, prov.Name, c.Type)
				} else {
					l.errorf(k, at.String(), "only %s providers take %s; provider %q is %s", c.Type, name, prov.Name, cloud.Type)
				}
				continue
			}
			opt.fields = append(opt.fields, Field{l: l, n: val, parent: at.parent, name: at.name})
		}
		if cloud == nil && len(opt.fields) > 0 {
			c.Decode(&optionFields{fields: opt.fields})
			opt.fields = opt.fields[:0]
		}
	}
	if cloud != nil {
		inst.Options = cloud.Decode(opt)
	}
	return inst
}

// optionFields are one instance's fields of one cloud.
type optionFields struct {
	fields, login []Field
}

func (o *optionFields) Field(name string) Field { return byName(o.fields, name) }
func (o *optionFields) Login(name string) Field { return byName(o.login, name) }

func byName(fields []Field, name string) Field {
	for _, f := range fields {
		if f.name == name {
			return f
		}
	}
	return Field{}
}

// checkProviderDefaults reports, once and at their position, the fields of a provider's defaults
// that its type does not take.
func (l *loader) checkProviderDefaults() {
	names := make([]string, 0, len(l.providerDefaults))
	for name := range l.providerDefaults {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		prov, n := l.providers[name], l.providerDefaults[name]
		if prov == nil || cloudOf(prov.Type) == nil {
			continue
		}
		path := schema.Field(schema.Field("providers", name), "defaults")
		for _, c := range registeredClouds() {
			if c.Type == prov.Type {
				continue
			}
			for _, f := range c.InstanceFields {
				if k, v := field(n, f); v != nil {
					l.errorf(k, schema.Field(path, f), "only %s providers take %s; provider %q is %s", c.Type, f, prov.Name, prov.Type)
				}
			}
		}
		if _, v := field(n, "login"); v != nil {
			l.login(v, pathOf{path, "login"}.String, prov, false)
		}
	}
}

// imageOf reads an image field: an id, or {name: NAME} to be resolved by Plan.Resolve.
func imageOf(n *yaml.Node, at pathOf) (string, *ImageByName) {
	if n.Kind != yaml.MappingNode {
		s, _ := stringValue(n)
		return s, nil
	}
	k, v := field(n, "name")
	name, ok := stringValue(v)
	if !ok || name == "" {
		return "", nil // reported by the schema
	}
	return "", &ImageByName{Name: name, Path: schema.Field(at.String(), "name"), Line: k.Line, Col: k.Column}
}

// providerRef resolves a provider name written at val, reporting unknown names.
func (l *loader) providerRef(key, val *yaml.Node, at, name string) *Provider {
	if p, ok := l.providers[name]; ok {
		return p
	}
	names := make([]string, 0, len(l.providers))
	for n := range l.providers {
		names = append(names, n)
	}
	sort.Strings(names)
	if s := schema.Suggest(name, names); s != "" {
		l.errorf(val, at, "unknown provider %q; did you mean %q?", name, s)
	} else {
		l.errorf(val, at, "unknown provider %q; the plan defines %s", name, l.providerNames())
	}
	return nil
}

func (l *loader) providerNames() string {
	names := make([]string, 0, len(l.providers))
	for n := range l.providers {
		names = append(names, strconv.Quote(n))
	}
	if len(names) == 0 {
		return "no providers"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// login decodes a login block and checks that it holds exactly one form that the provider's cloud
// supports. It returns the password and, for the cloud's driver, the fields of the other forms.
func (l *loader) login(n *yaml.Node, atf func() string, prov *Provider, fromDefaults bool) (Login, []Field) {
	var lg Login
	if n.Kind != yaml.MappingNode {
		return lg, nil
	}
	var forms []string
	var keys []*yaml.Node
	var fields []Field
	// with: the fields that go with a form, set, by form; set: the forms set.
	var with [][2]string
	set := map[string]bool{}
	fits := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], deref(n.Content[i+1])
		name := keyOf(k)
		if name == "password" {
			lg.Password = l.secretRef(val)
			forms = append(forms, "password")
			keys = append(keys, k)
			continue
		}
		owner, form := loginOwner(name)
		if form == nil {
			continue
		}
		keys = append(keys, k)
		if prov != nil && owner.Type != prov.Type {
			fits = false
		}
		fields = append(fields, Field{l: l, n: val, parentOf: atf, name: name})
		switch {
		case name != form.Field:
			if hasValue(val) {
				with = append(with, [2]string{name, form.Field})
			}
		case form.OnlyTrue:
			if b, _ := boolValue(val); b {
				forms = append(forms, name)
			}
		default:
			forms = append(forms, name)
			if hasValue(val) {
				set[name] = true
			}
		}
	}
	alone := ""
	for _, w := range with {
		if !set[w[1]] {
			alone = w[0] + " goes with " + w[1]
			break
		}
	}
	if len(forms) == 1 && alone == "" && fits {
		return lg, fields // the common case: no path needed
	}
	at := atf()
	switch {
	case len(forms) == 0 && alone != "":
		l.errorf(n, at, "%s; add %s", alone, strings.SplitN(alone, " goes with ", 2)[1])
	case len(forms) == 0:
		l.errorf(n, at, "no login form: set one of password, %s", loginFormsHint())
	case len(forms) > 1:
		l.errorf(n, at, "exactly one login form is allowed, found %s", strings.Join(forms, " and "))
	}
	if alone != "" && len(forms) > 0 {
		l.errorf(n, at, "%s; remove it or use %s", alone, strings.SplitN(alone, " goes with ", 2)[1])
	}
	if prov == nil {
		return lg, fields
	}
	cloud := cloudOf(prov.Type)
	for _, k := range keys {
		name := keyOf(k)
		owner, _ := loginOwner(name)
		if owner == nil || owner == cloud {
			continue
		}
		if fromDefaults {
			l.errorf(k, schema.Field(at, name), "only %s providers take %s, but the instances of %s provider %q get it from defaults; set their login on the instances instead", owner.Type, name, prov.Type, prov.Name)
		} else {
			use := []string{}
			for _, f := range cloud.LoginForms {
				use = append(use, f.Field)
			}
			l.errorf(k, schema.Field(at, name), "only %s providers take %s; provider %q is %s (use %s)", owner.Type, name, prov.Name, prov.Type, orList(append(use, "password")))
		}
	}
	return lg, fields
}

// hasValue reports whether a login field says something: not null, not an empty string.
func hasValue(n *yaml.Node) bool {
	if n == nil || n.Kind != yaml.ScalarNode {
		return n != nil
	}
	return n.ShortTag() != "!!null" && n.Value != ""
}

// pathOf is a field's path, rendered only when an error needs it.
type pathOf struct{ parent, name string }

// String renders the path.
func (p pathOf) String() string { return schema.Field(p.parent, p.name) }

// checkInstanceID reports an instance id that is not of the form of its
// provider's cloud. The schema has refused one no cloud takes; this is one
// another cloud takes (the schema cannot follow an instance to its
// provider's type), so the error names the cloud whose form it must have.
func (l *loader) checkInstanceID(n *yaml.Node, path, id string, prov *Provider, cloud *Cloud) {
	if id == "" || cloud.id.accepts(id) {
		return
	}
	if !slices.ContainsFunc(registeredClouds(), func(c *Cloud) bool { return c.id.accepts(id) }) {
		return // the schema said so
	}
	_, idNode := field(n, "id")
	if r := []rune(id); len(r) > 60 {
		id = string(r[:57]) + "..."
	}
	l.errorf(idNode, schema.Field(path, "id"), "must be %s (provider %q is %s), found %q", cloud.id.Expected(), prov.Name, cloud.Type, id)
}

// checkImageID reports an image id of another cloud's form than the
// instance's provider's, as checkInstanceID does instance ids; once per node.
func (l *loader) checkImageID(n *yaml.Node, path, image string, prov *Provider, cloud *Cloud) {
	if image == "" || cloud.imageID.accepts(image) || l.wrongImage[n] {
		return
	}
	if !slices.ContainsFunc(registeredClouds(), func(c *Cloud) bool { return c.imageID.accepts(image) }) {
		return // the schema said so
	}
	if l.wrongImage == nil {
		l.wrongImage = map[*yaml.Node]bool{}
	}
	l.wrongImage[n] = true
	if r := []rune(image); len(r) > 60 {
		image = string(r[:57]) + "..."
	}
	l.errorf(n, path, "must be an image id (%s) or {name: IMAGE NAME} (provider %q is %s), found %q", cloud.imageID.Expected(), prov.Name, cloud.Type, image)
}

// uniqueIDs reports an instance id listed twice for one provider, or for two provider entries
// of the same cloud (the same server under two names): two entries for one server would
// re-image it twice. Resolve applies the same rule to selected instances (sameServer).
func (l *loader) uniqueIDs(p *Plan) {
	type seen struct {
		index, line int
		provider    string
	}
	first := make(map[string]seen, len(p.Instances))
	for k, inst := range p.Instances {
		if inst.ID == "" || inst.Provider == "" {
			continue
		}
		e := l.entries[k]
		id := p.serverOf(inst.Provider, inst.ID)
		if s, ok := first[id]; ok {
			_, idNode := field(e.node, "id")
			path := schema.Field(schema.Index("instances", e.index), "id")
			if s.provider == inst.Provider {
				l.errorf(idNode, path, "instance %s is listed twice for provider %q: also instances[%d] (line %d)", inst.ID, inst.Provider, s.index, s.line)
			} else {
				l.errorf(idNode, path, "instance %s of provider %q is also instances[%d] (line %d) of provider %q: %s",
					inst.ID, inst.Provider, s.index, s.line, s.provider, p.oneServer(inst.Provider))
			}
			continue
		}
		first[id] = seen{e.index, e.node.Line, inst.Provider}
	}
}

// field finds a mapping's field by name (the last one when duplicated, as the schema saw it),
// following aliases.
func field(n *yaml.Node, name string) (key, val *yaml.Node) {
	if n == nil {
		return nil, nil
	}
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if keyOf(n.Content[i]) == name {
			key, val = n.Content[i], deref(n.Content[i+1])
		}
	}
	return key, val
}

// deref follows aliases; checkStructure has refused cycles.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func keyOf(k *yaml.Node) string { return deref(k).Value }

func stringValue(n *yaml.Node) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return "", false
	}
	return n.Value, true
}

func intValue(n *yaml.Node) (int, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return 0, false
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
	if err != nil || i > math.MaxInt32 || i < math.MinInt32 {
		return 0, false
	}
	return int(i), true
}

func floatValue(n *yaml.Node) (float64, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return 0, false
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			if i, ok := intValue(n); ok {
				return float64(i), true
			}
			return 0, false
		}
		return f, true
	}
	return 0, false
}

func boolValue(n *yaml.Node) (bool, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		return false, false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		return false, false
	}
	return b, true
}

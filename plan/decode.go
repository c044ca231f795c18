package plan

import (
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/reimage-dev/reimage/schema"
	"gopkg.in/yaml.v3"
)

// MaxUserData is the most user data KEC takes, decoded.
const MaxUserData = 16 << 10

// MaxKeyIDs is the most key pairs KEC binds to one instance.
const MaxKeyIDs = 10

// loader turns a node tree into a Plan. It is defensive: the schema has already reported values
// of the wrong shape, so a field it cannot read is skipped here rather than reported twice.
type loader struct {
	file      string
	d         *Diagnostics
	providers map[string]*Provider
	// entries locate p.Instances[i] in the plan: its index in the instances list and its node.
	entries []entry
	// userData caches files read for userData: a default shared by 100,000 instances is read once.
	userData map[string]userDataResult
	// providerDefaults holds each provider's defaults block, by provider name.
	providerDefaults map[string]*yaml.Node
}

type entry struct {
	index int
	node  *yaml.Node
}

type userDataResult struct {
	base64 string
	err    string
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
	if k, val := field(n, "projectId"); val != nil {
		p.ProjectID, _ = stringValue(val)
		if p.Type == TypeKsyun {
			l.errorf(k, schema.Field(path, "projectId"), "projectId is only for huaweicloud providers")
		}
	} else if p.Type == TypeHuaweiCloud {
		l.errorf(n, path, "missing required field \"projectId\" (huaweicloud providers need it)")
	}
	if _, val := field(n, "endpoint"); val != nil {
		if s, ok := stringValue(val); ok {
			p.Endpoint = s
			if msg := checkEndpoint(s); msg != "" {
				l.errorf(val, schema.Field(path, "endpoint"), "%s", msg)
			}
		}
	}
	if c := get(n, "credentials"); c != nil && c.Kind == yaml.MappingNode {
		p.Credentials.AccessKey = secretRef(get(c, "accessKey"))
		p.Credentials.SecretKey = secretRef(get(c, "secretKey"))
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

// checkEndpoint allows https anywhere and plain http only to this machine (the simulator), so
// that credentials and signatures never cross a network in clear text.
func checkEndpoint(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("must be a URL like https://kec.api.ksyun.com, found %q", s)
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

func secretRef(n *yaml.Node) *SecretRef {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	r := &SecretRef{}
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
	d, err := time.ParseDuration(s)
	if err != nil {
		if schemaDuration(s) {
			l.errorf(n, path, "duration %q is too long", s)
		}
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
	return s != "" && strings.Trim(s, "0123456789.nsuµmh") == ""
}

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

// fields only one cloud supports, with the provider type that does.
var cloudOnly = []struct{ field, cloud string }{
	{"systemDisk", TypeKsyun},
	{"userData", TypeKsyun},
	{"byol", TypeHuaweiCloud},
	{"isAutoPay", TypeHuaweiCloud},
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
	ptype := ""
	if prov != nil && (prov.Type == TypeKsyun || prov.Type == TypeHuaweiCloud) {
		ptype = prov.Type
	} else {
		prov = nil
	}
	provDefaults = l.providerDefaults[inst.Provider]

	if _, val, at, _ := pick("image"); val != nil {
		inst.Image, inst.ImageByName = imageOf(val, at)
	} else if !misspelt("image", n, provDefaults, defaults) {
		l.errorf(n, path, "no image: set image on the instance or in defaults")
	}
	if _, val, at, fromDefaults := pick("login"); val != nil {
		inst.Login = l.login(val, at.String, prov, fromDefaults)
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
	for _, c := range cloudOnly {
		k, val, at, fromDefaults := pick(c.field)
		if val == nil {
			continue
		}
		if ptype != "" && ptype != c.cloud {
			if fromDefaults {
				l.errorf(k, at.String(), "only %s providers take %s, but the instances of %s provider %q get it from defaults; set it on the %s instances instead", c.cloud, c.field, ptype, prov.Name, c.cloud)
			} else {
				l.errorf(k, at.String(), "only %s providers take %s; provider %q is %s", c.cloud, c.field, prov.Name, ptype)
			}
			continue
		}
		switch c.field {
		case "systemDisk":
			inst.SystemDisk = systemDisk(val)
		case "userData":
			inst.UserData = l.userDataOf(val, at.String)
		case "byol":
			inst.BYOL, _ = boolValue(val)
		case "isAutoPay":
			inst.AutoPay, _ = boolValue(val)
		}
	}
	return inst
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
		if prov == nil || (prov.Type != TypeKsyun && prov.Type != TypeHuaweiCloud) {
			continue
		}
		path := schema.Field(schema.Field("providers", name), "defaults")
		for _, c := range cloudOnly {
			if k, v := field(n, c.field); v != nil && prov.Type != c.cloud {
				l.errorf(k, schema.Field(path, c.field), "only %s providers take %s; provider %q is %s", c.cloud, c.field, prov.Name, prov.Type)
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
// supports.
func (l *loader) login(n *yaml.Node, atf func() string, prov *Provider, fromDefaults bool) Login {
	var lg Login
	if n.Kind != yaml.MappingNode {
		return lg
	}
	var forms []string
	var keys []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], deref(n.Content[i+1])
		switch keyOf(k) {
		case "password":
			lg.Password = secretRef(val)
			forms = append(forms, "password")
		case "keyIds":
			if val.Kind == yaml.SequenceNode {
				for _, id := range val.Content {
					if s, ok := stringValue(id); ok {
						lg.KeyIDs = append(lg.KeyIDs, s)
					}
				}
			}
			forms = append(forms, "keyIds")
		case "keepImageLogin":
			lg.KeepImageLogin, _ = boolValue(val)
			if lg.KeepImageLogin {
				forms = append(forms, "keepImageLogin")
			}
		case "keyName":
			lg.KeyName, _ = stringValue(val)
			forms = append(forms, "keyName")
		case "userId":
			lg.UserID, _ = stringValue(val)
		default:
			continue
		}
		keys = append(keys, k)
	}
	if len(forms) == 1 && (lg.UserID == "" || lg.KeyName != "") && (prov == nil || loginFitsCloud(forms[0], prov.Type)) {
		return lg // the common case: no path needed
	}
	at := atf()
	switch {
	case len(forms) == 0 && lg.UserID != "":
		l.errorf(n, at, "userId goes with keyName; add keyName")
	case len(forms) == 0:
		l.errorf(n, at, "no login form: set one of password, keyIds, keepImageLogin: true (KEC) or keyName (Huawei)")
	case len(forms) > 1:
		l.errorf(n, at, "exactly one login form is allowed, found %s", strings.Join(forms, " and "))
	}
	if lg.UserID != "" && lg.KeyName == "" && len(forms) > 0 {
		l.errorf(n, at, "userId goes with keyName; remove it or use keyName")
	}
	if prov == nil {
		return lg
	}
	for _, k := range keys {
		name := keyOf(k)
		var cloud, hint string
		switch name {
		case "keyIds", "keepImageLogin":
			cloud, hint = TypeKsyun, "use keyName or password"
		case "keyName", "userId":
			cloud, hint = TypeHuaweiCloud, "use keyIds, keepImageLogin or password"
		default:
			continue
		}
		if prov.Type == cloud {
			continue
		}
		if fromDefaults {
			l.errorf(k, schema.Field(at, name), "only %s providers take %s, but the instances of %s provider %q get it from defaults; set their login on the instances instead", cloud, name, prov.Type, prov.Name)
		} else {
			l.errorf(k, schema.Field(at, name), "only %s providers take %s; provider %q is %s (%s)", cloud, name, prov.Name, prov.Type, hint)
		}
	}
	return lg
}

// pathOf is a field's path, rendered only when an error needs it.
type pathOf struct{ parent, name string }

// String renders the path.
func (p pathOf) String() string { return schema.Field(p.parent, p.name) }

// loginFitsCloud reports whether a login form is one the cloud takes.
func loginFitsCloud(form, cloud string) bool {
	switch form {
	case "keyIds", "keepImageLogin":
		return cloud == TypeKsyun
	case "keyName":
		return cloud == TypeHuaweiCloud
	}
	return true
}

func systemDisk(n *yaml.Node) *SystemDisk {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	sd := &SystemDisk{}
	sd.SizeGB, _ = intValue(get(n, "sizeGB"))
	sd.Type, _ = stringValue(get(n, "type"))
	sd.Resize, _ = stringValue(get(n, "resize"))
	return sd
}

// userDataOf decodes userData and checks it fits KEC's limit. A file is read now, at load time,
// so that a missing file fails validate rather than instance 4,000 of an apply.
func (l *loader) userDataOf(n *yaml.Node, atf func() string) *UserData {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	at := atf()
	if val := get(n, "base64"); val != nil {
		s, ok := stringValue(val)
		if !ok {
			return nil
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			l.errorf(val, schema.Field(at, "base64"), "not valid base64: %v", strings.TrimPrefix(err.Error(), "illegal base64 data "))
			return nil
		}
		if len(raw) > MaxUserData {
			l.errorf(val, schema.Field(at, "base64"), "user data is %d bytes decoded; KEC takes at most 16 KiB (16384 bytes)", len(raw))
			return nil
		}
		return &UserData{Base64: s}
	}
	val := get(n, "file")
	file, ok := stringValue(val)
	if !ok || file == "" {
		return nil
	}
	resolved := file
	if !filepath.IsAbs(file) {
		resolved = filepath.Join(filepath.Dir(l.file), file)
	}
	r, ok := l.userData[resolved]
	if !ok {
		r = readUserData(resolved)
		l.userData[resolved] = r
	}
	if r.err != "" {
		l.errorf(val, schema.Field(at, "file"), "%s", r.err)
		return nil
	}
	return &UserData{File: file, Base64: r.base64}
}

func readUserData(path string) userDataResult {
	f, err := os.Open(path)
	if err != nil {
		return userDataResult{err: "cannot read user data: " + err.Error()}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return userDataResult{err: "cannot read user data: " + err.Error()}
	}
	// Devices and pipes could block or never end; user data is a file.
	if !fi.Mode().IsRegular() {
		return userDataResult{err: fmt.Sprintf("user data %s is not a regular file", path)}
	}
	if fi.Size() > MaxUserData {
		return userDataResult{err: fmt.Sprintf("user data %s is %d bytes; KEC takes at most 16 KiB (16384 bytes)", path, fi.Size())}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxUserData+1))
	if err != nil {
		return userDataResult{err: "cannot read user data: " + err.Error()}
	}
	if len(data) > MaxUserData {
		return userDataResult{err: fmt.Sprintf("user data %s is larger than 16 KiB (16384 bytes), the most KEC takes", path)}
	}
	return userDataResult{base64: base64.StdEncoding.EncodeToString(data)}
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

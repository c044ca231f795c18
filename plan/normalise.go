package plan

import (
	"cmp"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Cloud ids in any case: the consoles show them in lower case, but some
// tools and spreadsheets print them upper-case, and the clouds match them
// without regard to case.
var (
	uuidAnyCase  = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	hex32AnyCase = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
)

// idFields are the fields whose values are cloud ids (key pair, project and
// user ids). Instance and image ids take the forms their cloud's driver
// declares (normaliseInstanceIDs, normaliseImage).
var idFields = map[string]bool{"keyIds": true, "projectId": true, "userId": true}

// normaliseIDs lowers the case of every id in the document, in place, before
// the schema sees it: an upper-case UUID is the same id, and compared as typed
// with the cloud's lower-case answer it would show as a change to make (or an
// instance not found) and hash to another shard.
func normaliseIDs(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		normaliseInstanceIDs(n)
	}
	normaliseFields(n)
}

// normaliseFields lowers the case of the ids of idFields under n.
func normaliseFields(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			normaliseFields(c)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "image" {
				normaliseImage(v, nil)
			}
			if idFields[k.Value] {
				lowerID(v)
				if v.Kind == yaml.SequenceNode {
					for _, item := range v.Content {
						lowerID(item)
					}
				}
			}
			normaliseFields(v)
		}
	}
	// Aliases are not followed: the node they name is visited where it is
	// anchored, and following them would let an alias bomb multiply the walk.
}

func lowerID(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && (uuidAnyCase.MatchString(n.Value) || hex32AnyCase.MatchString(n.Value)) {
		n.Value = strings.ToLower(n.Value)
	}
}

// normaliseInstanceIDs puts the id and image of every entry of the plan
// root's instances into the canonical forms of its provider's cloud
// (Cloud.InstanceID, Cloud.ImageID), and each provider's default image into
// its cloud's, before the schema sees them. The provider is the entry's, else the defaults',
// else the plan's only one. An entry whose cloud is not known (an error
// reported later) takes the form of the first cloud that can make its id
// canonical, so that a mistake in its provider is not also reported as one in
// its id. An id some cloud takes as it is stays as it is.
func normaliseInstanceIDs(root *yaml.Node) {
	types := map[string]string{}
	if providers := deref(get(root, "providers")); providers != nil && providers.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(providers.Content); i += 2 {
			typ, _ := stringValue(get(providers.Content[i+1], "type"))
			types[keyOf(providers.Content[i])] = typ
			normaliseImage(get(get(providers.Content[i+1], "defaults"), "image"), cloudOf(typ))
		}
	}
	only := ""
	if len(types) == 1 {
		for name := range types {
			only = name
		}
	}
	byDefault, _ := stringValue(get(get(root, "defaults"), "provider"))
	instances := deref(get(root, "instances"))
	if instances == nil || instances.Kind != yaml.SequenceNode {
		return
	}
	for _, e := range instances.Content {
		e = deref(e)
		if e.Kind != yaml.MappingNode {
			continue
		}
		var id *yaml.Node
		for i := 0; i+1 < len(e.Content); i += 2 {
			if keyOf(e.Content[i]) == "id" {
				id = e.Content[i+1] // the last, as the schema sees it
			}
		}
		name, ok := stringValue(get(e, "provider"))
		if !ok {
			name = cmp.Or(byDefault, only)
		}
		normaliseImage(get(e, "image"), cloudOf(types[name]))
		if id == nil || id.Kind != yaml.ScalarNode {
			continue
		}
		if c := cloudOf(types[name]); c != nil {
			id.Value = c.id.normalise(id.Value)
			continue
		}
		clouds := registeredClouds()
		if slices.ContainsFunc(clouds, func(c *Cloud) bool { return c.id.re != nil && c.id.accepts(id.Value) }) {
			continue
		}
		for _, c := range clouds {
			if n := c.id.normalise(id.Value); n != id.Value {
				id.Value = n
				break
			}
		}
	}
}

// normaliseImage puts an image id (n, when a scalar; {name: NAME} is left as
// it is) into the canonical form of cloud c's image ids. Without c (the
// plan's defaults, a selector, a provider of an unknown type) it stays as it
// is when some cloud takes it so, else takes the form of the first cloud that
// can make it canonical.
func normaliseImage(n *yaml.Node, c *Cloud) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return
	}
	if c != nil {
		n.Value = c.imageID.normalise(n.Value)
		return
	}
	clouds := registeredClouds()
	if slices.ContainsFunc(clouds, func(c *Cloud) bool { return c.imageID.re != nil && c.imageID.accepts(n.Value) }) {
		return
	}
	for _, c := range clouds {
		if v := c.imageID.normalise(n.Value); v != n.Value {
			n.Value = v
			return
		}
	}
}

package plan

import (
	"regexp"
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

// idFields are the fields whose values are cloud ids (instance, image, key
// pair, project and user ids).
var idFields = map[string]bool{"id": true, "image": true, "keyIds": true, "projectId": true, "userId": true}

// normaliseIDs lowers the case of every id in the document, in place, before
// the schema sees it: an upper-case UUID is the same id, and compared as typed
// with the cloud's lower-case answer it would show as a change to make (or an
// instance not found) and hash to another shard.
func normaliseIDs(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			normaliseIDs(c)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if idFields[k.Value] {
				lowerID(v)
				if v.Kind == yaml.SequenceNode {
					for _, item := range v.Content {
						lowerID(item)
					}
				}
			}
			normaliseIDs(v)
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

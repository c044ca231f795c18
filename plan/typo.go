package plan

import (
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/reimage-dev/reimage/schema"
)

// coreInstanceFields are the fields an instance (and defaults) of any cloud can set.
var coreInstanceFields = []string{"id", "name", "provider", "image", "login", "running", "reinstall", "protect"}

// isInstanceField reports whether k is a field an instance can set, of any
// cloud: such a key is never someone's typo of another.
func isInstanceField(k string) bool {
	return slices.Contains(coreInstanceFields, k) || fieldOwner(k) != nil
}

// misspelt reports whether one of blocks (the instance, its provider's
// defaults, the plan's defaults) has a key that is a likely typo of field
// ("imgae" for "image"). The schema reports that key once, with the
// suggestion; a "no image" for each instance that inherits the block would
// repeat the one typo a thousand times.
func misspelt(field string, blocks ...*yaml.Node) bool {
	for _, b := range blocks {
		if b == nil || b.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(b.Content); i += 2 {
			k := b.Content[i].Value
			if k != field && !isInstanceField(k) && schema.Suggest(k, []string{field}) == field {
				return true
			}
		}
	}
	return false
}

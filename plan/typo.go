package plan

import (
	"gopkg.in/yaml.v3"

	"github.com/reimage-dev/reimage/schema"
)

// instanceFields are the fields an instance (and defaults) can set: a key
// that is one of them is never someone's typo of another.
var instanceFields = map[string]bool{
	"id": true, "name": true, "provider": true, "image": true, "login": true, "running": true,
	"reinstall": true, "protect": true, "systemDisk": true, "userData": true, "byol": true,
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
			if k != field && !instanceFields[k] && schema.Suggest(k, []string{field}) == field {
				return true
			}
		}
	}
	return false
}

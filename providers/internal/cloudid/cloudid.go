// Package cloudid holds the forms of ids that more than one cloud uses, for
// drivers to declare as theirs (plan.Cloud.InstanceID, plan.Cloud.ImageID).
package cloudid

import (
	"strings"

	"github.com/reimage-dev/reimage/plan"
)

// UUID is the form of the instance and image ids of the clouds that name
// their servers and images by a UUID: lower-case, as their consoles and APIs
// show them. An upper-case one (some tools and
// spreadsheets print them so; the clouds match ids without regard to case)
// is the same id, lowered before it is compared with the cloud's answers,
// hashed to a shard or journaled.
var UUID = plan.IDSyntax{
	Pattern:   "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
	Noun:      "a UUID",
	Example:   "98284100-f6d1-4bbf-886a-1b0765024738",
	Normalise: strings.ToLower,
}

package plan

import (
	"encoding/json"
	"testing"

	"github.com/reimage-dev/reimage/schema"
)

// The loader leaves malformed durations to the schema; it must agree with the
// schema on which are malformed, or a value is reported twice or not at all.
func TestDurationPatternIsTheSchemas(t *testing.T) {
	var doc struct {
		Defs map[string]struct {
			Pattern string `json:"pattern"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(schema.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	if got, want := durationPattern.String(), doc.Defs["duration"].Pattern; got != want {
		t.Errorf("durationPattern = %q, the schema's $defs/duration pattern is %q", got, want)
	}
}

package drivers_test

import (
	"encoding/json"
	"testing"

	"github.com/reimage-dev/reimage/providers/drivers"
	"github.com/reimage-dev/reimage/schema"
)

// TestEveryDriverDescribesItsPlanOptionsOnce: what a driver tells package
// plan (its fields and login forms) and what its schema fragment describes
// are the same fields, each in the assembled schema where editors look for
// it; and its plan options carry its own type.
func TestEveryDriverDescribesItsPlanOptionsOnce(t *testing.T) {
	var doc struct {
		Defs map[string]json.RawMessage `json:"$defs"`
	}
	if err := json.Unmarshal(schema.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	props := func(def string) map[string]json.RawMessage {
		var d struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(doc.Defs[def], &d); err != nil {
			t.Fatal(err)
		}
		return d.Properties
	}
	var typeEnum struct {
		Enum []string `json:"enum"`
	}
	if err := json.Unmarshal(props("provider")["type"], &typeEnum); err != nil {
		t.Fatal(err)
	}
	for i, d := range drivers.All {
		t.Run(d.Type, func(t *testing.T) {
			c := d.Plan
			if c.Type != d.Type {
				t.Fatalf("plan options of type %q", c.Type)
			}
			if i >= len(typeEnum.Enum) || typeEnum.Enum[i] != d.Type {
				t.Errorf("schema type enum %v, want %q at %d", typeEnum.Enum, d.Type, i)
			}
			for _, f := range c.ProviderFields {
				if _, ok := props("provider")[f]; !ok {
					t.Errorf("provider field %s is not in the schema", f)
				}
			}
			for _, f := range c.InstanceFields {
				if _, ok := doc.Defs["field-"+f]; !ok {
					t.Errorf("instance field %s has no $defs/field-%s", f, f)
				}
				for _, where := range []string{"defaults", "providerDefaults", "selector", "instance"} {
					if _, ok := props(where)[f]; !ok {
						t.Errorf("instance field %s is not in $defs/%s", f, where)
					}
				}
			}
			for _, form := range c.LoginForms {
				for _, f := range append([]string{form.Field}, form.With...) {
					if _, ok := props("login")[f]; !ok {
						t.Errorf("login field %s is not in the schema", f)
					}
				}
			}
		})
	}
}

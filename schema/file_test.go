package schema

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite plan.schema.json from the core and the drivers' fragments")

// TestPlanSchemaFileIsTheAssembledSchema: plan.schema.json, which editors and
// the release image use, is byte for byte the document reimage assembles from
// core.schema.json and the registered drivers' fragments (and prints with
// `reimage schema`). Edit the core or a fragment, then run this test with
// -update.
func TestPlanSchemaFileIsTheAssembledSchema(t *testing.T) {
	got := JSON()
	if *update {
		if err := os.WriteFile("plan.schema.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("plan.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the assembled schema differs from plan.schema.json: edit core.schema.json or a driver's fragment, not plan.schema.json, then run go test ./schema -run TestPlanSchemaFileIsTheAssembledSchema -update")
	}
}

// TestCoreSchemaNamesNoCloud: without fragments the core assembles into a
// document that still compiles and has an empty type enum and no
// cloud-only fields.
func TestCoreSchemaNamesNoCloud(t *testing.T) {
	doc, err := assemble(coreSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, coreSchema) {
		t.Error("the core without fragments does not print as it is written")
	}
	if !bytes.Contains(doc, []byte(`"enum": []`)) {
		t.Error("the core's provider type enum is not empty")
	}
}

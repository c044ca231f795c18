package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/providers"
)

// The help texts name the clouds from the driver registry: every registered
// driver is in them, with its own example, and none is named in the code.
func TestHelpTextsShowEveryRegisteredDriver(t *testing.T) {
	help := func(args ...string) string {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, Stdio{In: strings.NewReader(""), Out: &out, Err: &errOut}); code != ExitOK {
			t.Fatalf("reimage %v: exit %d: %s", args, code, errOut.String())
		}
		return out.String()
	}
	usage, discover := help("-h"), help("discover", "-h")
	if len(providers.Types()) == 0 {
		t.Fatal("no driver registered")
	}
	for _, typ := range providers.Types() {
		d, _ := providers.Lookup(typ)
		if !strings.Contains(usage, d.Description) {
			t.Errorf("reimage -h does not name %s (%s):\n%s", typ, d.Description, usage)
		}
		example := "reimage discover -provider " + typ + " -region " + d.Example.Region
		if !strings.Contains(discover, example) {
			t.Errorf("reimage discover -h has no example of %s (%q):\n%s", typ, example, discover)
		}
		if !strings.Contains(discover, d.Example.Region+" ") && !strings.Contains(discover, d.Example.Region+")") {
			t.Errorf("-region's help does not give %s's example region %s", typ, d.Example.Region)
		}
		if d.NeedsProject && !strings.Contains(discover, "-project "+d.Example.Project) {
			t.Errorf("discover's example of %s has no -project", typ)
		}
	}
	if !strings.Contains(discover, "-sim-url http://127.0.0.1:8080") {
		t.Errorf("reimage discover -h has no simulator example:\n%s", discover)
	}
}

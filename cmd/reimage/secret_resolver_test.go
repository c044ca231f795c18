package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/plan"
)

// Against a simulator, a login password reference that does not resolve gets a
// throwaway: one per reference (pre-flight and the change see the same one),
// with one warning, however often it is resolved.
func TestSimulatedSecretResolverWarnsOncePerReference(t *testing.T) {
	var logs bytes.Buffer
	f := &fleet{simulated: true}
	resolve := f.secretResolver(slog.New(slog.NewTextHandler(&logs, nil)))
	a := &plan.SecretRef{Env: "REIMAGE_TEST_UNSET_PASSWORD_A", At: "fleet.yaml:9:20"}
	b := &plan.SecretRef{Env: "REIMAGE_TEST_UNSET_PASSWORD_B"}
	first, _ := resolve(a)
	for range 3 {
		if v, err := resolve(&plan.SecretRef{Env: a.Env}); err != nil || v != first {
			t.Fatalf("resolve again: %q %v, want the same throwaway %q", v, err, first)
		}
	}
	if other, _ := resolve(b); other == first {
		t.Errorf("two references got one throwaway %q", other)
	}
	if n := strings.Count(logs.String(), "does not resolve"); n != 2 {
		t.Errorf("%d warnings, want one per reference:\n%s", n, logs.String())
	}
}

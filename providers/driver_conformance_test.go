package providers_test

import (
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/providers"
)

// TestDriverErrorsNameTheClient: every registered driver's constructor names
// the client (type and provider name) in its errors, which is why callers
// (reimage's fleet set-up) add nothing to them.
func TestDriverErrorsNameTheClient(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.typ, func(t *testing.T) {
			d, _ := providers.Lookup(c.typ)
			for name, cfg := range map[string]providers.Config{
				"no credentials": {Name: "p1", Region: c.region, Settings: c.settings()},
				"no region":      {Name: "p1", Settings: c.settings(), AccessKey: "a", SecretKey: "s"},
				"plain http":     {Name: "p1", Region: c.region, Settings: c.settings(), AccessKey: "a", SecretKey: "s", Endpoint: "http://example.com"},
			} {
				p, closeFn, err := d.New(cfg)
				if err == nil {
					closeFn()
					t.Errorf("%s: New returned a %s client, want an error", name, p.Type())
					continue
				}
				if want := c.typ + " p1: "; !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), "p1") != 1 {
					t.Errorf("%s: error %q, want it to start with %q and name the provider once", name, err, want)
				}
			}
		})
	}
}

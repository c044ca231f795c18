package main

import (
	"context"
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/providers"
)

// TestSimRateFlagPerRegisteredType: reimage sim has a -rate-TYPE flag for
// every registered driver with a simulator front-end (so -rate-ksyun and
// -rate-huaweicloud keep working, and a new cloud gets its own), each checked
// like the others, and its help names the cloud's API and every credential
// variable the drivers declare.
func TestSimRateFlagPerRegisteredType(t *testing.T) {
	var help strings.Builder
	// -h prints the usage and ends the command (flag.ErrHelp, exit 0).
	_ = (SimCommand{}).Run(context.Background(), []string{"-h"}, Stdio{Out: &help, Err: &help})
	n := 0
	for _, typ := range providers.Types() {
		d, _ := providers.Lookup(typ)
		if d.Simulator == nil {
			continue
		}
		n++
		fe := d.Simulator(nil)
		for _, want := range []string{"-rate-" + typ + " RATE", fe.Name() + " requests per second", fe.Name() + " (" + typ + ") " + fe.Where(), d.SimAccessKeyEnv, d.SimSecretKeyEnv} {
			if !strings.Contains(help.String(), want) {
				t.Errorf("help lacks %q", want)
			}
		}
		var errOut strings.Builder
		err := (SimCommand{}).Run(context.Background(), []string{"-instances", "2", "-rate-" + typ, "-1"}, Stdio{Out: &errOut, Err: &errOut})
		if err == nil || !strings.Contains(errOut.String()+err.Error(), "cannot be negative") {
			t.Errorf("-rate-%s -1: %v %s", typ, err, errOut.String())
		}
	}
	if n < 2 {
		t.Fatalf("%d drivers with a simulator front-end, want every cloud's", n)
	}
}

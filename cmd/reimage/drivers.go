package main

import (
	"strings"

	"github.com/reimage-dev/reimage/providers"
	// The clouds reimage speaks: registered here, named nowhere else in the
	// command line's code (its help texts' examples aside).
	_ "github.com/reimage-dev/reimage/providers/drivers"
)

// credentialVars names each registered cloud's preferred credential
// variables, "A_KEY/A_SECRET, B_KEY/B_SECRET", for help texts.
func credentialVars(sep string, sim bool) string {
	var pairs []string
	for _, typ := range providers.Types() {
		d, _ := providers.Lookup(typ)
		if sim {
			pairs = append(pairs, d.SimAccessKeyEnv+"/"+d.SimSecretKeyEnv)
		} else {
			pairs = append(pairs, d.AccessKeyEnv[0]+"/"+d.SecretKeyEnv[0])
		}
	}
	return strings.Join(pairs, sep)
}

// projectTypes names the provider types whose API is scoped to a project.
func projectTypes() string {
	var types []string
	for _, typ := range providers.Types() {
		if d, _ := providers.Lookup(typ); d.NeedsProject {
			types = append(types, typ)
		}
	}
	return strings.Join(types, ", ")
}

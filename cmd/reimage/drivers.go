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

// drivers returns the registered drivers in registration order.
func drivers() []providers.Driver {
	var ds []providers.Driver
	for _, typ := range providers.Types() {
		d, _ := providers.Lookup(typ)
		ds = append(ds, d)
	}
	return ds
}

// cloudNames lists the registered clouds for people: "A Cloud X, B Cloud Y".
func cloudNames() string {
	var names []string
	for _, d := range drivers() {
		names = append(names, d.Description)
	}
	return strings.Join(names, ", ")
}

// regionExamples is an example region of each cloud: "r-1 or r-2".
func regionExamples() string {
	var regions []string
	for _, d := range drivers() {
		regions = append(regions, d.Example.Region)
	}
	if len(regions) < 2 {
		return strings.Join(regions, "")
	}
	return strings.Join(regions[:len(regions)-1], ", ") + " or " + regions[len(regions)-1]
}

// discoverExamples are discover's examples: one per cloud, then one of the
// first cloud on a simulator.
func discoverExamples() string {
	var lines []string
	ds := drivers()
	for _, d := range ds {
		line := "reimage discover -provider " + d.Type + " -region " + d.Example.Region
		if d.NeedsProject {
			line += " -project " + d.Example.Project
		}
		if d.Example.Discover != "" {
			line += " " + d.Example.Discover
		}
		lines = append(lines, line)
	}
	if len(ds) > 0 {
		d := ds[0]
		line := "reimage discover -provider " + d.Type + " -region " + d.Example.Region
		if d.NeedsProject {
			line += " -project " + d.Example.Project
		}
		line += " -sim-url http://127.0.0.1:8080"
		if d.Example.Zone != "" {
			line += " -zone " + d.Example.Zone
		}
		lines = append(lines, line)
	}
	return "  " + strings.Join(lines, "\n  ")
}

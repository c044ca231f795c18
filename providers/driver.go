package providers

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers/sim"
)

// Driver is what a cloud's package provides so that the rest of reimage can
// use the cloud without naming it: its type, where its credentials come from,
// and how to build a client. Each cloud package declares one (its Driver
// variable); package providers/drivers is the one list that
// registers them, and the conformance suite runs against every registered
// driver.
type Driver struct {
	// Type is the plan's provider type, equal to the client's Type().
	Type string
	// AccessKeyEnv and SecretKeyEnv are the ecosystem's environment variables
	// for the credentials, in order of preference (the official SDK's first,
	// then Terraform's). A plan's own credential references come before them.
	AccessKeyEnv, SecretKeyEnv []string
	// SimAccessKeyEnv and SimSecretKeyEnv are the variables `reimage sim`
	// prints the simulator's credentials as, and that -sim-url reads them from.
	SimAccessKeyEnv, SimSecretKeyEnv string
	// Description names the cloud and its service for people, as help texts
	// list the clouds reimage speaks ("Example Cloud Compute").
	Description string
	// Example is what help texts show of the cloud: values an operator of
	// it would type.
	Example Example
	// NeedsProject: the cloud's API is scoped to a project ID as well as a
	// region (the plan's projectId; discover's -project).
	NeedsProject bool
	// SimProjectEnv, for a cloud that NeedsProject, is the variable `reimage
	// sim` reads its accepted project id from and prints it as.
	SimProjectEnv string
	// Plan is what a plan may say only of this cloud: its provider and
	// instance fields, login forms and schema fragment, with Plan.Type equal
	// to Type. Package providers/drivers registers it with package plan.
	Plan plan.Cloud
	// OtherLogins shows, in plan YAML for people, the cloud's login forms
	// besides a password (discover writes it as a comment); "" for none.
	OtherLogins string
	// Durations are the cloud's typical step times, the rollout forecast's
	// defaults where no run has observed them yet.
	Durations StepDurations
	// New builds a client from cfg; close releases it (its batchers and idle
	// connections) and is called once, after the last call. Its errors, like
	// the client's, name the client: its type and cfg.Name.
	New func(cfg Config) (p Provider, close func(), err error)
	// Simulator is the cloud's front-end for the simulator (reimage sim,
	// apply -sim): its API over the cloud-neutral core of package sim. Nil:
	// the cloud cannot be rehearsed. Register registers it with package sim.
	Simulator sim.NewFrontend
}

// Example holds a cloud's values for help texts' examples.
type Example struct {
	// Region is a region id of the cloud.
	Region string
	// Zone is an availability zone of Region.
	Zone string
	// Project is a project id, for a cloud that NeedsProject.
	Project string
	// Discover is the rest of a `reimage discover -provider TYPE -region
	// REGION [-project PROJECT]` example: its filters and redirection.
	Discover string
}

var (
	driversMu sync.RWMutex
	drivers   = map[string]Driver{}
	// order is the registration order, which messages list the types in.
	order []string
)

// Register adds d to the drivers Lookup and Types know. It panics on an
// incomplete driver or a type registered twice: both are programming errors
// found at start-up, as database/sql's Register does.
func Register(d Driver) {
	if d.Type == "" || d.New == nil || len(d.AccessKeyEnv) == 0 || len(d.SecretKeyEnv) == 0 ||
		d.SimAccessKeyEnv == "" || d.SimSecretKeyEnv == "" || d.Description == "" || d.Example.Region == "" ||
		d.NeedsProject != (d.Example.Project != "") {
		panic(fmt.Sprintf("providers: Register: driver %q is incomplete", d.Type))
	}
	driversMu.Lock()
	defer driversMu.Unlock()
	if _, dup := drivers[d.Type]; dup {
		panic(fmt.Sprintf("providers: Register: driver %q registered twice", d.Type))
	}
	drivers[d.Type] = d
	order = append(order, d.Type)
	if d.Simulator != nil {
		sim.Register(d.Type, d.Simulator)
	}
}

// Lookup returns the registered driver of type typ.
func Lookup(typ string) (Driver, bool) {
	driversMu.RLock()
	defer driversMu.RUnlock()
	d, ok := drivers[typ]
	return d, ok
}

// Types returns the registered drivers' types in the order they were
// registered (the order of the list in providers/drivers).
func Types() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	return slices.Clone(order)
}

// TypeList is Types for people: "a, b or c".
func TypeList() string {
	types := Types()
	if len(types) < 2 {
		return strings.Join(types, "")
	}
	return strings.Join(types[:len(types)-1], ", ") + " or " + types[len(types)-1]
}

// UnknownTypeError is the error of a provider type no driver is registered for.
type UnknownTypeError struct{ Type string }

func (e *UnknownTypeError) Error() string {
	return fmt.Sprintf("unknown provider type %q: want %s", e.Type, TypeList())
}

// Open builds the client of cfg with the driver of type typ. Its errors name
// the provider (cfg.Name), as the clients' own errors do.
func Open(typ string, cfg Config) (Provider, func(), error) {
	d, ok := Lookup(typ)
	if !ok {
		return nil, nil, fmt.Errorf("provider %s: %w", cfg.Name, &UnknownTypeError{Type: typ})
	}
	return d.New(cfg)
}

// Package drivers is the one list of the clouds reimage speaks: importing it
// registers each cloud package's driver with package providers, and its plan
// options with package plan (which cannot import the drivers), as a program's
// imports of database/sql drivers do. Adding a cloud is one package under
// providers/ and one line here.
package drivers

import (
	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/huaweicloud/ecssim"
	"github.com/reimage-dev/reimage/providers/ksyun"
	"github.com/reimage-dev/reimage/providers/ksyun/kecsim"
	"github.com/reimage-dev/reimage/providers/sim"
)

// All lists the drivers in the order messages name their types, each with
// its simulator front-end (which lives beside the driver but imports it, so
// the driver cannot name it itself).
var All = []providers.Driver{
	withSimulator(ksyun.Driver, kecsim.New),
	withSimulator(huaweicloud.Driver, ecssim.New),
}

func withSimulator(d providers.Driver, f sim.NewFrontend) providers.Driver {
	d.Simulator = f
	return d
}

func init() {
	for _, d := range All {
		providers.Register(d)
		plan.RegisterCloud(d.Plan)
	}
}

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
	"github.com/reimage-dev/reimage/providers/ksyun"
)

// All lists the drivers in the order messages name their types.
var All = []providers.Driver{
	ksyun.Driver,
	huaweicloud.Driver,
}

func init() {
	for _, d := range All {
		providers.Register(d)
		plan.RegisterCloud(d.Plan)
	}
}

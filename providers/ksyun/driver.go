package ksyun

import (
	"time"

	"github.com/reimage-dev/reimage/providers"
)

// Driver describes Kingsoft Cloud KEC to reimage; providers/drivers registers it.
var Driver = providers.Driver{
	Type:            Type,
	Plan:            PlanCloud,
	AccessKeyEnv:    []string{"KSYUN_ACCESS_KEY"},
	SecretKeyEnv:    []string{"KSYUN_SECRET_KEY"},
	SimAccessKeyEnv: "KSYUN_ACCESS_KEY",
	SimSecretKeyEnv: "KSYUN_SECRET_KEY",
	Description:     "Kingsoft Cloud KEC",
	Example:         providers.Example{Region: "cn-beijing-6", Zone: "cn-beijing-6a", Discover: "-tag role=web > web.yaml"},
	OtherLogins:     "{keyIds: [KEY-ID]}, or {keepImageLogin: true} for custom images",
	// Assumed, not measured here: KEC publishes no figures. A rebuilt
	// instance boots by itself, so Change includes the boot. Runs replace
	// them with what they observe.
	Durations: providers.StepDurations{Stop: 40 * time.Second, Change: 4 * time.Minute, Start: 40 * time.Second, Call: 300 * time.Millisecond},
	New: func(cfg providers.Config) (providers.Provider, func(), error) {
		c, err := New(cfg)
		if err != nil {
			return nil, nil, err
		}
		return c, func() { c.Close() }, nil
	},
}

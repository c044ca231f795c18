package huaweicloud

import (
	"time"

	"github.com/reimage-dev/reimage/providers"
)

// Driver describes Huawei Cloud ECS to reimage; providers/drivers registers it.
// The credential variables are the official SDK's, then Terraform's.
var Driver = providers.Driver{
	Type:            Type,
	Plan:            PlanCloud,
	AccessKeyEnv:    []string{"HUAWEICLOUD_SDK_AK", "HW_ACCESS_KEY"},
	SecretKeyEnv:    []string{"HUAWEICLOUD_SDK_SK", "HW_SECRET_KEY"},
	SimAccessKeyEnv: "HUAWEICLOUD_SDK_AK",
	SimSecretKeyEnv: "HUAWEICLOUD_SDK_SK",
	Description:     "Huawei Cloud ECS",
	Example:         providers.Example{Region: "cn-north-4", Zone: "cn-north-4a", Project: "0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e", Discover: "-name 'db-*'"},
	NeedsProject:    true,
	SimProjectEnv:   "HUAWEICLOUD_SDK_PROJECT_ID",
	OtherLogins:     "{keyName: KEY-PAIR-NAME}",
	// Assumed, not measured here: Huawei publishes no figures. changeos of a
	// running server stops it and starts it again (ChangeRunning). Runs
	// replace them with what they observe.
	Durations: providers.StepDurations{Stop: 30 * time.Second, Change: 4 * time.Minute, ChangeRunning: 5 * time.Minute, Start: 30 * time.Second, Call: 300 * time.Millisecond},
	New: func(cfg providers.Config) (providers.Provider, func(), error) {
		c, err := New(cfg)
		if err != nil {
			return nil, nil, err
		}
		return c, func() { c.Close() }, nil
	},
}

package huaweicloud

import "github.com/reimage-dev/reimage/providers"

// Driver describes Huawei Cloud ECS to reimage; providers/drivers registers it.
// The credential variables are the official SDK's, then Terraform's.
var Driver = providers.Driver{
	Type:            Type,
	Plan:            PlanCloud,
	AccessKeyEnv:    []string{"HUAWEICLOUD_SDK_AK", "HW_ACCESS_KEY"},
	SecretKeyEnv:    []string{"HUAWEICLOUD_SDK_SK", "HW_SECRET_KEY"},
	SimAccessKeyEnv: "HUAWEICLOUD_SDK_AK",
	SimSecretKeyEnv: "HUAWEICLOUD_SDK_SK",
	NeedsProject:    true,
	OtherLogins:     "{keyName: KEY-PAIR-NAME}",
	New: func(cfg providers.Config) (providers.Provider, func(), error) {
		c, err := New(cfg)
		if err != nil {
			return nil, nil, err
		}
		return c, func() { c.Close() }, nil
	},
}

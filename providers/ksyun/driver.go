package ksyun

import "github.com/reimage-dev/reimage/providers"

// Driver describes Kingsoft Cloud KEC to reimage; providers/drivers registers it.
var Driver = providers.Driver{
	Type:            Type,
	Plan:            PlanCloud,
	AccessKeyEnv:    []string{"KSYUN_ACCESS_KEY"},
	SecretKeyEnv:    []string{"KSYUN_SECRET_KEY"},
	SimAccessKeyEnv: "KSYUN_ACCESS_KEY",
	SimSecretKeyEnv: "KSYUN_SECRET_KEY",
	OtherLogins:     "{keyIds: [KEY-ID]}, or {keepImageLogin: true} for custom images",
	New: func(cfg providers.Config) (providers.Provider, func(), error) {
		c, err := New(cfg)
		if err != nil {
			return nil, nil, err
		}
		return c, func() { c.Close() }, nil
	},
}

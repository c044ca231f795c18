package providers

import (
	"fmt"
	"os"

	"github.com/reimage-dev/reimage/plan"
)

// credentialEnv lists, per provider type, the ecosystem's environment
// variables for the access key and the secret key, in order of preference:
// the official SDK's first, then Terraform's.
var credentialEnv = map[string]struct{ access, secret []string }{
	plan.TypeKsyun:       {access: []string{"KSYUN_ACCESS_KEY"}, secret: []string{"KSYUN_SECRET_KEY"}},
	plan.TypeHuaweiCloud: {access: []string{"HUAWEICLOUD_SDK_AK", "HW_ACCESS_KEY"}, secret: []string{"HUAWEICLOUD_SDK_SK", "HW_SECRET_KEY"}},
}

// ResolveCredentials returns the provider's access key and secret key: from
// the plan's secret references when set, else from the ecosystem's
// environment variables. Errors name the missing variable or file, never a value.
func ResolveCredentials(p *plan.Provider) (accessKey, secretKey string, err error) {
	env, ok := credentialEnv[p.Type]
	if !ok {
		return "", "", fmt.Errorf("provider %s: unknown type %q", p.Name, p.Type)
	}
	accessKey, err = resolveOne(p, "accessKey", p.Credentials.AccessKey, env.access)
	if err != nil {
		return "", "", err
	}
	secretKey, err = resolveOne(p, "secretKey", p.Credentials.SecretKey, env.secret)
	if err != nil {
		return "", "", err
	}
	return accessKey, secretKey, nil
}

func resolveOne(p *plan.Provider, field string, ref *plan.SecretRef, envs []string) (string, error) {
	if ref != nil {
		v, err := ref.Resolve()
		if err != nil {
			return "", fmt.Errorf("provider %s: credentials.%s: %w", p.Name, field, err)
		}
		return v, nil
	}
	for _, name := range envs {
		if v := os.Getenv(name); v != "" {
			return v, nil
		}
	}
	if len(envs) == 1 {
		return "", fmt.Errorf("provider %s: no credentials.%s in the plan and environment variable %s is not set", p.Name, field, envs[0])
	}
	return "", fmt.Errorf("provider %s: no credentials.%s in the plan and none of the environment variables %s, %s is set", p.Name, field, envs[0], envs[1])
}

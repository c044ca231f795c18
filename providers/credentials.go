package providers

import (
	"fmt"
	"os"
	"strings"

	"github.com/reimage-dev/reimage/plan"
)

// SecretRefError is a secret reference the plan gives that does not resolve,
// located where the plan gives it (FILE:LINE:COL: PATH: message, as plan
// diagnostics are written); it names the variable or file, never a value.
type SecretRefError struct {
	At, Path string
	Err      error
}

func (e *SecretRefError) Error() string { return e.At + ": " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the resolution's error.
func (e *SecretRefError) Unwrap() error { return e.Err }

// ResolveCredentials returns the provider's access key and secret key: from
// the plan's secret references when set, else from the environment variables
// its driver names. Errors name the missing variable or file, never a value;
// a plan's reference is a *SecretRefError at its place in the plan (which
// names the provider), any other error does not name the provider: the
// caller, which chose it, says which.
func ResolveCredentials(p *plan.Provider) (accessKey, secretKey string, err error) {
	d, ok := Lookup(p.Type)
	if !ok {
		return "", "", &UnknownTypeError{Type: p.Type}
	}
	accessKey, err = resolveOne(p.Name, "accessKey", p.Credentials.AccessKey, d.AccessKeyEnv)
	if err != nil {
		return "", "", err
	}
	secretKey, err = resolveOne(p.Name, "secretKey", p.Credentials.SecretKey, d.SecretKeyEnv)
	if err != nil {
		return "", "", err
	}
	return accessKey, secretKey, nil
}

func resolveOne(provider, field string, ref *plan.SecretRef, envs []string) (string, error) {
	if ref != nil {
		v, err := ref.Resolve()
		if err != nil && ref.At != "" {
			return "", &SecretRefError{At: ref.At, Path: "providers." + provider + ".credentials." + field, Err: err}
		}
		if err != nil {
			return "", fmt.Errorf("credentials.%s: %w", field, err)
		}
		return v, nil
	}
	for _, name := range envs {
		if v := os.Getenv(name); v != "" {
			return v, nil
		}
	}
	if len(envs) == 1 {
		return "", fmt.Errorf("no credentials.%s in the plan and environment variable %s is not set", field, envs[0])
	}
	return "", fmt.Errorf("no credentials.%s in the plan and none of the environment variables %s is set", field, strings.Join(envs, ", "))
}

// SimCredentials reads a running simulator's credentials for a provider of
// type typ from the variables `reimage sim` prints; never from the plan's
// references, which point at production secrets.
func SimCredentials(typ string) (accessKey, secretKey string, err error) {
	d, ok := Lookup(typ)
	if !ok {
		return "", "", &UnknownTypeError{Type: typ}
	}
	accessKey, secretKey = os.Getenv(d.SimAccessKeyEnv), os.Getenv(d.SimSecretKeyEnv)
	if accessKey == "" || secretKey == "" {
		return "", "", fmt.Errorf("set %s and %s to the simulator's credentials (reimage sim prints them)", d.SimAccessKeyEnv, d.SimSecretKeyEnv)
	}
	return accessKey, secretKey, nil
}

package providers_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
	_ "github.com/reimage-dev/reimage/providers/drivers"
	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/ksyun"
)

func TestResolveCredentialsFromEnv(t *testing.T) {
	t.Setenv("KSYUN_ACCESS_KEY", "AKLTx")
	t.Setenv("KSYUN_SECRET_KEY", "kec-secret")
	ak, sk, err := providers.ResolveCredentials(&plan.Provider{Name: "kec-bj", Type: ksyun.Type})
	if err != nil || ak != "AKLTx" || sk != "kec-secret" {
		t.Fatalf("got %q, %q, %v", ak, sk, err)
	}
	// Huawei: the SDK's names first, Terraform's as a fallback.
	t.Setenv("HUAWEICLOUD_SDK_AK", "")
	t.Setenv("HW_ACCESS_KEY", "HWAK")
	t.Setenv("HUAWEICLOUD_SDK_SK", "hw-secret")
	ak, sk, err = providers.ResolveCredentials(&plan.Provider{Name: "ecs-n4", Type: huaweicloud.Type})
	if err != nil || ak != "HWAK" || sk != "hw-secret" {
		t.Fatalf("got %q, %q, %v", ak, sk, err)
	}
}

func TestResolveCredentialsErrorsNameTheSource(t *testing.T) {
	t.Setenv("KSYUN_ACCESS_KEY", "AKLTx")
	t.Setenv("KSYUN_SECRET_KEY", "")
	_, _, err := providers.ResolveCredentials(&plan.Provider{Name: "kec-bj", Type: ksyun.Type})
	if err == nil || !strings.Contains(err.Error(), "KSYUN_SECRET_KEY") || strings.Contains(err.Error(), "AKLTx") {
		t.Errorf("error %v, want it to name KSYUN_SECRET_KEY and show no value", err)
	}
	t.Setenv("HUAWEICLOUD_SDK_AK", "")
	t.Setenv("HW_ACCESS_KEY", "")
	_, _, err = providers.ResolveCredentials(&plan.Provider{Name: "ecs-n4", Type: huaweicloud.Type})
	if err == nil || !strings.Contains(err.Error(), "HUAWEICLOUD_SDK_AK") || !strings.Contains(err.Error(), "HW_ACCESS_KEY") {
		t.Errorf("error %v, want it to name both variables", err)
	}
	missing := filepath.Join(t.TempDir(), "sk")
	_, _, err = providers.ResolveCredentials(&plan.Provider{Name: "kec-bj", Type: ksyun.Type, Credentials: plan.Credentials{
		SecretKey: &plan.SecretRef{File: missing},
	}})
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("error %v, want it to name the file", err)
	}
}

func TestResolveCredentialsFromPlanRefs(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "sk")
	if err := os.WriteFile(f, []byte("file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MY_AK", "plan-ak")
	t.Setenv("KSYUN_ACCESS_KEY", "ignored")
	ak, sk, err := providers.ResolveCredentials(&plan.Provider{Name: "kec-bj", Type: ksyun.Type, Credentials: plan.Credentials{
		AccessKey: &plan.SecretRef{Env: "MY_AK"}, SecretKey: &plan.SecretRef{File: f},
	}})
	if err != nil || ak != "plan-ak" || sk != "file-secret" {
		t.Fatalf("got %q, %q, %v", ak, sk, err)
	}
}

// The caller names the provider (it chose it and may be listing several);
// ResolveCredentials names only the field and where it looked.
func TestResolveCredentialsErrorsLeaveTheProviderToTheCaller(t *testing.T) {
	t.Setenv("KSYUN_ACCESS_KEY", "")
	for _, p := range []*plan.Provider{
		{Name: "kec-bj", Type: ksyun.Type},
		{Name: "kec-bj", Type: ksyun.Type, Credentials: plan.Credentials{AccessKey: &plan.SecretRef{Env: "KSYUN_ACCESS_KEY"}}},
	} {
		_, _, err := providers.ResolveCredentials(p)
		if err == nil || strings.Contains(err.Error(), "kec-bj") ||
			!strings.Contains(err.Error(), "credentials.accessKey") {
			t.Errorf("error %v, want it to name credentials.accessKey and not the provider", err)
		}
	}
}

func TestResolveCredentialsUnknownType(t *testing.T) {
	_, _, err := providers.ResolveCredentials(&plan.Provider{Name: "x", Type: "aws"})
	var ute *providers.UnknownTypeError
	if !errors.As(err, &ute) || ute.Type != "aws" || err.Error() != `unknown provider type "aws": want ksyun or huaweicloud` {
		t.Errorf("error %v, want an UnknownTypeError listing the registered types", err)
	}
}

func TestSimCredentialsFromTheDriversVariables(t *testing.T) {
	for _, typ := range providers.Types() {
		t.Run(typ, func(t *testing.T) {
			d, _ := providers.Lookup(typ)
			t.Setenv(d.SimAccessKeyEnv, "sim-ak")
			t.Setenv(d.SimSecretKeyEnv, "")
			if _, _, err := providers.SimCredentials(typ); err == nil ||
				!strings.Contains(err.Error(), d.SimAccessKeyEnv) || !strings.Contains(err.Error(), d.SimSecretKeyEnv) {
				t.Errorf("error %v, want it to name %s and %s", err, d.SimAccessKeyEnv, d.SimSecretKeyEnv)
			}
			t.Setenv(d.SimSecretKeyEnv, "sim-sk")
			ak, sk, err := providers.SimCredentials(typ)
			if err != nil || ak != "sim-ak" || sk != "sim-sk" {
				t.Errorf("got %q, %q, %v", ak, sk, err)
			}
		})
	}
}

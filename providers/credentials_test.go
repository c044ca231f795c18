package providers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/plan"
)

func TestResolveCredentialsFromEnv(t *testing.T) {
	t.Setenv("KSYUN_ACCESS_KEY", "AKLTx")
	t.Setenv("KSYUN_SECRET_KEY", "kec-secret")
	ak, sk, err := ResolveCredentials(&plan.Provider{Name: "kec-bj", Type: plan.TypeKsyun})
	if err != nil || ak != "AKLTx" || sk != "kec-secret" {
		t.Fatalf("got %q, %q, %v", ak, sk, err)
	}
	// Huawei: the SDK's names first, Terraform's as a fallback.
	t.Setenv("HUAWEICLOUD_SDK_AK", "")
	t.Setenv("HW_ACCESS_KEY", "HWAK")
	t.Setenv("HUAWEICLOUD_SDK_SK", "hw-secret")
	ak, sk, err = ResolveCredentials(&plan.Provider{Name: "ecs-n4", Type: plan.TypeHuaweiCloud})
	if err != nil || ak != "HWAK" || sk != "hw-secret" {
		t.Fatalf("got %q, %q, %v", ak, sk, err)
	}
}

func TestResolveCredentialsErrorsNameTheSource(t *testing.T) {
	t.Setenv("KSYUN_ACCESS_KEY", "AKLTx")
	t.Setenv("KSYUN_SECRET_KEY", "")
	_, _, err := ResolveCredentials(&plan.Provider{Name: "kec-bj", Type: plan.TypeKsyun})
	if err == nil || !strings.Contains(err.Error(), "KSYUN_SECRET_KEY") || strings.Contains(err.Error(), "AKLTx") {
		t.Errorf("error %v, want it to name KSYUN_SECRET_KEY and show no value", err)
	}
	t.Setenv("HUAWEICLOUD_SDK_AK", "")
	t.Setenv("HW_ACCESS_KEY", "")
	_, _, err = ResolveCredentials(&plan.Provider{Name: "ecs-n4", Type: plan.TypeHuaweiCloud})
	if err == nil || !strings.Contains(err.Error(), "HUAWEICLOUD_SDK_AK") || !strings.Contains(err.Error(), "HW_ACCESS_KEY") {
		t.Errorf("error %v, want it to name both variables", err)
	}
	missing := filepath.Join(t.TempDir(), "sk")
	_, _, err = ResolveCredentials(&plan.Provider{Name: "kec-bj", Type: plan.TypeKsyun, Credentials: plan.Credentials{
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
	ak, sk, err := ResolveCredentials(&plan.Provider{Name: "kec-bj", Type: plan.TypeKsyun, Credentials: plan.Credentials{
		AccessKey: &plan.SecretRef{Env: "MY_AK"}, SecretKey: &plan.SecretRef{File: f},
	}})
	if err != nil || ak != "plan-ak" || sk != "file-secret" {
		t.Fatalf("got %q, %q, %v", ak, sk, err)
	}
}

func TestCheckEndpoint(t *testing.T) {
	for ep, ok := range map[string]bool{
		"https://kec.api.ksyun.com":   true,
		"https://kec.api.ksyun.com/":  true,
		"http://127.0.0.1:8080":       true,
		"http://[::1]:8080":           true,
		"http://localhost:9":          true,
		"http://kec.api.ksyun.com":    false,
		"http://10.0.0.1":             false,
		"ftp://x":                     false,
		"kec.api.ksyun.com":           false,
		"https://user:pw@example.com": false,
	} {
		u, err := CheckEndpoint(ep)
		if (err == nil) != ok {
			t.Errorf("CheckEndpoint(%q): %v", ep, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("the error shows the endpoint's password: %v", err)
		}
		if err == nil && strings.HasSuffix(u.Path, "/") {
			t.Errorf("CheckEndpoint(%q) keeps a trailing slash", ep)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	e := &InDoubtError{Type: "huaweicloud", Provider: "ecs-n4", Operation: "ChangeServerOsWithoutCloudInit", Resource: "9828",
		Cause: &APIError{Code: "Ecs.0002", HTTPStatus: 503}}
	want := "huaweicloud ecs-n4: ChangeServerOsWithoutCloudInit 9828: outcome unknown, the cloud may have accepted it: Ecs.0002 (HTTP 503)"
	if e.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", e.Error(), want)
	}
	if ErrorCode(e) != "Ecs.0002" || !IsInDoubt(e) || IsThrottled(e) {
		t.Error("ErrorCode / IsInDoubt / IsThrottled do not see through InDoubtError")
	}
}

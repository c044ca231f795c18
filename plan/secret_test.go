package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("REIMAGE_TEST_SECRET", "s3cr3t-Value")
	t.Setenv("REIMAGE_TEST_EMPTY", "")
	tests := []struct {
		name    string
		ref     *SecretRef
		want    string
		wantErr string
	}{
		{"env", &SecretRef{Env: "REIMAGE_TEST_SECRET"}, "s3cr3t-Value", ""},
		{"env unset", &SecretRef{Env: "REIMAGE_TEST_UNSET_VARIABLE"}, "", "REIMAGE_TEST_UNSET_VARIABLE is not set"},
		{"env empty", &SecretRef{Env: "REIMAGE_TEST_EMPTY"}, "", "REIMAGE_TEST_EMPTY is empty"},
		{"file", &SecretRef{File: write("a", "Passw0rd\n")}, "Passw0rd", ""},
		{"file crlf", &SecretRef{File: write("b", "Passw0rd\r\n")}, "Passw0rd", ""},
		{"file one newline only", &SecretRef{File: write("c", "Passw0rd\n\n")}, "Passw0rd\n", ""},
		{"file no newline", &SecretRef{File: write("d", "Passw0rd")}, "Passw0rd", ""},
		{"file missing", &SecretRef{File: filepath.Join(dir, "missing")}, "", "missing"},
		{"file empty", &SecretRef{File: write("e", "\n")}, "", "is empty"},
		{"file too big", &SecretRef{File: write("f", strings.Repeat("x", 70<<10))}, "", "larger than 64 KiB"},
		{"nil", nil, "", "no secret"},
		{"empty ref", &SecretRef{}, "", "{env: NAME}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ref.Resolve()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "xxxx") {
					t.Fatalf("error leaks the secret: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		pw      string
		wantErr string
	}{
		{"1qaQ!abc", ""}, // the seed's example
		{"Abcdefg1", ""},
		{strings.Repeat("Ab1", 10) + "xy", ""}, // 32
		{"Ab1!", "8 to 32"},
		{strings.Repeat("Ab1", 11), "8 to 32"}, // 33
		{"abcdefg1", "an upper-case letter"},
		{"ABCDEFG1", "a lower-case letter"},
		{"Abcdefgh", "a digit"},
		{"abcdefgh", "an upper-case letter, a digit"},
		{"Abc defg1", "visible ASCII"},
		{"Abcdéfg1", "visible ASCII"},
		{"Abc\tdefg1", "visible ASCII"},
	}
	for _, tt := range tests {
		err := CheckPassword(tt.pw)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("CheckPassword(%q) = %v", tt.pw, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("CheckPassword(%q) = %v, want %q", tt.pw, err, tt.wantErr)
			continue
		}
		if strings.Contains(err.Error(), tt.pw) {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

func TestSecretRefString(t *testing.T) {
	if got := (&SecretRef{Env: "X"}).String(); got != "{env: X}" {
		t.Error(got)
	}
	if got := (&SecretRef{File: "/f"}).String(); got != "{file: /f}" {
		t.Error(got)
	}
}

package ksyun

import (
	"strings"
	"testing"
)

// TestCheckPasswordKECPolicy: KEC's InstancePassword policy, each rule just inside and outside.
func TestCheckPasswordKECPolicy(t *testing.T) {
	for _, tc := range []struct {
		pw, wantErr string
	}{
		{"Abcdef12", ""},
		{"Abcdef1#~ ok", "visible ASCII"},
		{"Abcdef1#~", ""},
		{strings.Repeat("Ab1", 10) + "xy", ""}, // 32
		{strings.Repeat("Ab1", 11), "8 to 32"},
		{"Abcde1", "8 to 32"},
		{"abcdefg1", "upper-case"},
		{"ABCDEFG1", "upper-case"},
		{"Abcdefgh", "upper-case"},
		{"Abcdéfg1", "visible ASCII"},
	} {
		err := CheckPassword(tc.pw)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q refused: %v", tc.pw, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: %v, want an error containing %q", tc.pw, err, tc.wantErr)
		}
	}
}

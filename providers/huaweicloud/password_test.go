package huaweicloud

import (
	"strings"
	"testing"
)

// TestCheckPasswordECSPolicy: the ECS adminpass policy, each rule with a password just inside
// and just outside; the error never quotes the password.
func TestCheckPasswordECSPolicy(t *testing.T) {
	for _, tc := range []struct {
		pw, wantErr string
	}{
		{"Abcdef1!", ""},
		{"Abcdefg1", ""},                           // three kinds without a special
		{"abcdef1!", ""},                           // three kinds without an upper-case letter
		{"A1b2C3d4E5f6G7h8I9j0K1l2M3", ""},         // 26
		{"A1b2C3d4E5f6G7h8I9j0K1l2M3n", "8 to 26"}, // 27: the plan's old 32 passed it
		{"Ab1!xyz", "8 to 26"},
		{"Abcdefgh", "three of"},
		{"abcdef1#", "special characters !@$%^-_=+[{}]:,./? only"}, // # is not an ECS special
		{"abcdef1~", "only"},
		{"Abcdef1 x", "only"},
		{"Abcdéf1!", "only"},
		{"MyRoot123!", "login name root"},
		{"xtooR1234!", "login name root"},
		{"Administrator1!", "login name administrator"},
	} {
		err := CheckPassword(tc.pw)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q refused: %v", tc.pw, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: %v, want an error containing %q", tc.pw, err, tc.wantErr)
		case err != nil && strings.Contains(err.Error(), tc.pw):
			t.Errorf("the error quotes the password: %v", err)
		}
	}
}

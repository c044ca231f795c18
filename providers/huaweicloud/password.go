package huaweicloud

import (
	"errors"
	"fmt"
	"strings"

	"github.com/reimage-dev/reimage/providers"
)

var _ providers.PasswordChecker = (*Client)(nil)

// adminPassSpecials are the only special characters ECS accepts in adminpass.
const adminPassSpecials = "!@$%^-_=+[{}]:,./?"

// CheckPassword checks an adminpass against ECS's policy (changeos,
// reinstallos; Ecs.0011 otherwise, after the server was stopped): 8 to 26
// characters; only letters, digits and the specials !@$%^-_=+[{}]:,./?; at
// least three of upper-case letters, lower-case letters, digits and
// specials; neither the login name (root, Administrator) nor its reverse in
// it, in any case. The error names the rule, never the password.
func (c *Client) CheckPassword(password string) error { return CheckPassword(password) }

// CheckPassword is the policy of Client.CheckPassword, for the simulator.
func CheckPassword(password string) error {
	if len(password) < 8 || len(password) > 26 {
		return errors.New("an ECS password must be 8 to 26 characters long")
	}
	var upper, lower, digit, special bool
	for _, c := range password {
		switch {
		case 'A' <= c && c <= 'Z':
			upper = true
		case 'a' <= c && c <= 'z':
			lower = true
		case '0' <= c && c <= '9':
			digit = true
		case c < 0x80 && strings.ContainsRune(adminPassSpecials, c):
			special = true
		default:
			return fmt.Errorf("an ECS password may hold letters, digits and the special characters %s only", adminPassSpecials)
		}
	}
	kinds := 0
	for _, ok := range []bool{upper, lower, digit, special} {
		if ok {
			kinds++
		}
	}
	if kinds < 3 {
		return errors.New("an ECS password must contain three of: upper-case letters, lower-case letters, digits, special characters")
	}
	lowered := strings.ToLower(password)
	for _, user := range []string{"root", "administrator"} {
		if strings.Contains(lowered, user) || strings.Contains(lowered, reverse(user)) {
			return fmt.Errorf("an ECS password may not contain the login name %s or its reverse", user)
		}
	}
	return nil
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

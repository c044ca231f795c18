package ksyun

import (
	"errors"
	"unicode"

	"github.com/reimage-dev/reimage/providers"
)

var _ providers.PasswordChecker = (*Client)(nil)

// CheckPassword checks an InstancePassword against KEC's policy
// (ModifyInstanceImage): 8 to 32 visible ASCII characters with at least one
// upper-case letter, one lower-case letter and one digit. The error names the
// rule, never the password.
func (c *Client) CheckPassword(password string) error { return CheckPassword(password) }

// CheckPassword is the policy of Client.CheckPassword, for the simulator.
func CheckPassword(password string) error {
	if len(password) < 8 || len(password) > 32 {
		return errors.New("a KEC password must be 8 to 32 characters long")
	}
	var upper, lower, digit bool
	for _, c := range password {
		switch {
		case c > unicode.MaxASCII || c <= ' ' || c == 0x7f:
			return errors.New("a KEC password may hold visible ASCII characters only")
		case 'A' <= c && c <= 'Z':
			upper = true
		case 'a' <= c && c <= 'z':
			lower = true
		case '0' <= c && c <= '9':
			digit = true
		}
	}
	if !upper || !lower || !digit {
		return errors.New("a KEC password must contain an upper-case letter, a lower-case letter and a digit")
	}
	return nil
}

package plan

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxSecretSize bounds a secret file: keys and passwords are short, and a wrong path (a disk image,
// /dev/zero) must not be read whole.
const maxSecretSize = 64 << 10

// String names the reference, never the secret: {env: NAME} or {file: PATH}.
func (s *SecretRef) String() string {
	if s == nil {
		return "<none>"
	}
	if s.Env != "" {
		return "{env: " + s.Env + "}"
	}
	return "{file: " + s.File + "}"
}

// Resolve reads the secret: the environment variable's value, or the file's content without one
// trailing newline (editors and `echo` add one). Errors name the variable or file, never the value.
func (s *SecretRef) Resolve() (string, error) {
	switch {
	case s == nil:
		return "", errors.New("no secret reference")
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", s.Env)
		}
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty", s.Env)
		}
		return v, nil
	case s.File != "":
		f, err := os.Open(s.File)
		if err != nil {
			return "", fmt.Errorf("secret file: %w", err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxSecretSize+1))
		if err != nil {
			return "", fmt.Errorf("secret file %s: %w", s.File, err)
		}
		if len(data) > maxSecretSize {
			return "", fmt.Errorf("secret file %s is larger than 64 KiB; is it the right file?", s.File)
		}
		v := string(data)
		if strings.HasSuffix(v, "\r\n") {
			v = v[:len(v)-2]
		} else {
			v = strings.TrimSuffix(v, "\n")
		}
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", s.File)
		}
		return v, nil
	}
	return "", errors.New("empty secret reference: use {env: NAME} or {file: PATH}")
}

// CheckPassword applies the policy every cloud's password meets (a cloud's
// stricter one is its client's, checked in pre-flight): 8 to 32 visible ASCII characters with at least one upper-case letter, one lower-case letter and
// one digit. The error says what is wrong, never what the password is.
func CheckPassword(pw string) error {
	if n := len(pw); n < 8 || n > 32 {
		return fmt.Errorf("the password must be 8 to 32 characters long, it has %d", len([]rune(pw)))
	}
	var upper, lower, digit bool
	for i := 0; i < len(pw); i++ {
		c := pw[i]
		switch {
		case c < 0x21 || c > 0x7e:
			return fmt.Errorf("the password may hold only visible ASCII characters (no spaces), character %d is not one", i+1)
		case 'A' <= c && c <= 'Z':
			upper = true
		case 'a' <= c && c <= 'z':
			lower = true
		case '0' <= c && c <= '9':
			digit = true
		}
	}
	var missing []string
	if !upper {
		missing = append(missing, "an upper-case letter")
	}
	if !lower {
		missing = append(missing, "a lower-case letter")
	}
	if !digit {
		missing = append(missing, "a digit")
	}
	if len(missing) > 0 {
		return fmt.Errorf("the password needs %s", strings.Join(missing, ", "))
	}
	return nil
}

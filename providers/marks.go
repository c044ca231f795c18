package providers

import (
	"fmt"
	"strings"
)

// Limits of a marker, the strictest of the clouds' rules for the metadata or
// tags that hold markers (each cloud's reference notes list its own), so that
// one marker is valid on every cloud: keys of letters, digits and - _ : . up
// to 128, values up to 255 of those and + = / @ ( ) { }.
const (
	MaxMarkKeyLen   = 128
	MaxMarkValueLen = 255
)

// CheckMark reports whether key=value can be a marker on every cloud; the
// error names the rule broken (and the key, never the value: a value may be
// a token someone wants kept out of logs).
func CheckMark(key, value string) error {
	if !strings.HasPrefix(key, MarkPrefix) || len(key) == len(MarkPrefix) {
		return fmt.Errorf("marker key %q: must start with %q and go on after it", key, MarkPrefix)
	}
	if len(key) > MaxMarkKeyLen {
		return fmt.Errorf("marker key %q: longer than %d characters", key, MaxMarkKeyLen)
	}
	for _, c := range key {
		if !markKeyChar(c) {
			return fmt.Errorf("marker key %q: character %q is not allowed (only A-Z a-z 0-9 and - _ : .)", key, c)
		}
	}
	if len(value) > MaxMarkValueLen {
		return fmt.Errorf("marker %s: value longer than %d characters", key, MaxMarkValueLen)
	}
	for _, c := range value {
		if !markKeyChar(c) && !strings.ContainsRune("+=/@(){}", c) {
			return fmt.Errorf("marker %s: the value holds a character that is not one of A-Z a-z 0-9 - _ : . + = / @ ( ) { }", key)
		}
	}
	return nil
}

func markKeyChar(c rune) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == ':' || c == '.'
}

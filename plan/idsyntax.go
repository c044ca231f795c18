package plan

import (
	"fmt"
	"regexp"

	"github.com/reimage-dev/reimage/schema"
)

// IDSyntax is the form of one cloud's ids of a kind, which its driver declares
// (Cloud.InstanceID, Cloud.ImageID): ids are cloud knowledge (a UUID on one
// cloud, i-0abc… or ami-0abc… on another), so plan and schema hold no
// pattern of their own.
type IDSyntax struct {
	// Pattern is an anchored RE2 regular expression of the canonical form,
	// as JSON Schema's pattern keyword takes it.
	Pattern string
	// Noun names the form for people: "a UUID".
	Noun string
	// Example is an id of that form: "98284100-f6d1-4bbf-886a-1b0765024738".
	Example string
	// Normalise turns an id as people write it into the canonical form (an
	// upper-case UUID into lower case), before the schema sees it; it returns
	// what it cannot make canonical as it is. Nil keeps ids as written.
	Normalise func(string) string
}

// IsZero reports whether the syntax declares nothing: a cloud whose ids may
// be any non-empty string.
func (s IDSyntax) IsZero() bool { return s.Pattern == "" }

// form is the syntax as package schema takes it.
func (s IDSyntax) form() schema.IDForm {
	return schema.IDForm{Pattern: s.Pattern, Noun: s.Noun, Example: s.Example}
}

// Expected is the syntax in the words of "must be ..., found" messages.
func (s IDSyntax) Expected() string { return s.Noun + " like " + s.Example }

// compiledID is a cloud's IDSyntax, compiled once at registration.
type compiledID struct {
	IDSyntax
	re *regexp.Regexp // nil: any non-empty id
}

func compileID(typ string, s IDSyntax) compiledID {
	if s.IsZero() {
		return compiledID{IDSyntax: s}
	}
	re, err := regexp.Compile(s.Pattern)
	if err != nil || s.Noun == "" || s.Example == "" || !re.MatchString(s.Example) {
		panic(fmt.Sprintf("plan: RegisterCloud: cloud %q: id syntax %q (example %q) is incomplete or does not match its example (%v)", typ, s.Pattern, s.Example, err))
	}
	return compiledID{IDSyntax: s, re: re}
}

// accepts reports whether id has the cloud's canonical form.
func (c compiledID) accepts(id string) bool { return c.re == nil || c.re.MatchString(id) }

// normalise is id in the cloud's canonical form, or id when the cloud cannot
// make it canonical.
func (c compiledID) normalise(id string) string {
	if c.Normalise == nil {
		return id
	}
	if n := c.Normalise(id); c.accepts(n) {
		return n
	}
	return id
}

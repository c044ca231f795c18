package huaweicloud

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Algorithm is the Authorization scheme of Huawei Cloud's API gateway.
const Algorithm = "SDK-HMAC-SHA256"

// DateFormat is the layout of the X-Sdk-Date header.
const DateFormat = "20060102T150405Z"

// Sign signs req in place with SDK-HMAC-SHA256 as the official SDK does: it sets
// X-Sdk-Date and signs every header on req except Content-Type, Authorization and
// names containing "_", plus Host when the caller set it in req.Header
// explicitly. body must be the exact bytes req will send (nil for none).
func Sign(req *http.Request, body []byte, accessKey, secretKey string, t time.Time) {
	req.Header.Set("X-Sdk-Date", t.UTC().Format(DateFormat))
	var names []string
	for k := range req.Header {
		lk := strings.ToLower(k)
		if lk == "content-type" || lk == "authorization" || strings.Contains(lk, "_") {
			continue
		}
		names = append(names, lk)
	}
	sort.Strings(names)
	sig := signature(req, body, names, secretKey)
	req.Header.Set("Authorization", fmt.Sprintf("%s Access=%s, SignedHeaders=%s, Signature=%s",
		Algorithm, accessKey, strings.Join(names, ";"), sig))
}

// signature computes the signature of req over the given lowercased, sorted header names.
func signature(req *http.Request, body []byte, signed []string, secretKey string) string {
	cr := canonicalRequest(req, body, signed)
	crSum := sha256.Sum256([]byte(cr))
	sts := Algorithm + "\n" + req.Header.Get("X-Sdk-Date") + "\n" + hex.EncodeToString(crSum[:])
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write([]byte(sts))
	return hex.EncodeToString(mac.Sum(nil))
}

func canonicalRequest(req *http.Request, body []byte, signed []string) string {
	var b strings.Builder
	b.WriteString(req.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(req.URL))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(req.URL))
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.TrimSpace(headerValue(req, name)))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	if h := req.Header.Get("X-Sdk-Content-Sha256"); h != "" {
		b.WriteString(h)
	} else {
		sum := sha256.Sum256(body)
		b.WriteString(hex.EncodeToString(sum[:]))
	}
	return b.String()
}

func headerValue(req *http.Request, name string) string {
	if name == "host" {
		if h := req.Header.Get("Host"); h != "" {
			return h
		}
		if req.Host != "" {
			return req.Host
		}
		return req.URL.Host
	}
	return req.Header.Get(name)
}

// canonicalURI percent-encodes each path segment and ends the path with "/".
func canonicalURI(u *url.URL) string {
	segs := strings.Split(u.EscapedPath(), "/")
	for i, s := range segs {
		if dec, err := url.PathUnescape(s); err == nil {
			s = dec
		}
		segs[i] = escape(s)
	}
	p := strings.Join(segs, "/")
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// canonicalQuery sorts by key, then value, both escaped alike.
func canonicalQuery(u *url.URL) string {
	q := u.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, escape(k)+"="+escape(v))
		}
	}
	return strings.Join(parts, "&")
}

// escape keeps A-Za-z0-9-_.~ and percent-encodes every other byte with uppercase hex.
func escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// Errors Verify returns; the simulator maps them to the gateway's codes.
var (
	// ErrMissingAuth: no or unparsable Authorization header (APIGW.0301).
	ErrMissingAuth = errors.New("request is not signed")
	// ErrBadSignature: the signature does not match (APIGW.0301).
	ErrBadSignature = errors.New("signature does not match")
	// ErrUnknownKey: the access key is not known (APIGW.0301).
	ErrUnknownKey = errors.New("access key is not known")
	// ErrClockSkew: X-Sdk-Date missing, malformed or more than the allowed skew off (APIGW.0303).
	ErrClockSkew = errors.New("request time is too far from the server's time")
)

// Authorization is a parsed SDK-HMAC-SHA256 Authorization header.
type Authorization struct {
	AccessKey     string
	SignedHeaders []string
	Signature     string
}

// ParseAuthorization parses "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex".
func ParseAuthorization(h string) (Authorization, error) {
	var a Authorization
	rest, ok := strings.CutPrefix(h, Algorithm+" ")
	if !ok {
		return a, fmt.Errorf("%w: authorization scheme is not %s", ErrMissingAuth, Algorithm)
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("%w: malformed authorization field", ErrMissingAuth)
		}
		switch k {
		case "Access":
			a.AccessKey = v
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			a.Signature = v
		}
	}
	if a.AccessKey == "" || a.Signature == "" || len(a.SignedHeaders) == 0 {
		return a, fmt.Errorf("%w: authorization lacks Access, SignedHeaders or Signature", ErrMissingAuth)
	}
	return a, nil
}

// Verify checks a signed request as Huawei's gateway does: the canonical request
// is rebuilt from the header list the client declares (host need not be in it),
// the signature recomputed with the same code Sign uses, and compared. It returns
// the verified access key.
func Verify(req *http.Request, body []byte, secretFor func(accessKey string) (string, bool), now time.Time, maxSkew time.Duration) (string, error) {
	h := req.Header.Get("Authorization")
	if h == "" {
		return "", ErrMissingAuth
	}
	a, err := ParseAuthorization(h)
	if err != nil {
		return "", err
	}
	t, err := time.Parse(DateFormat, req.Header.Get("X-Sdk-Date"))
	if err != nil {
		return "", fmt.Errorf("%w: X-Sdk-Date missing or malformed", ErrClockSkew)
	}
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return "", fmt.Errorf("%w: X-Sdk-Date %s is %s from the server's clock", ErrClockSkew, t.Format(DateFormat), d.Round(time.Second))
	}
	secret, ok := secretFor(a.AccessKey)
	if !ok {
		return "", ErrUnknownKey
	}
	for i, name := range a.SignedHeaders {
		if name != strings.ToLower(name) || (i > 0 && a.SignedHeaders[i-1] >= name) {
			return "", fmt.Errorf("%w: SignedHeaders must be lowercase and sorted", ErrBadSignature)
		}
		if name != "host" && len(req.Header.Values(name)) == 0 {
			return "", fmt.Errorf("%w: signed header %q is not in the request", ErrBadSignature, name)
		}
	}
	want := signature(req, body, a.SignedHeaders, secret)
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return "", ErrBadSignature
	}
	return a.AccessKey, nil
}

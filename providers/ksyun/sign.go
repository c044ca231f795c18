package ksyun

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Service is the SigV4 service name of KEC.
const Service = "kec"

// amzDateFormat is SigV4's X-Amz-Date layout.
const amzDateFormat = "20060102T150405Z"

// Sign signs req in place with AWS Signature V4 for service kec, as the official
// SDK does: every header already on req is signed (Host, and Content-Length when
// there is a body, are added by the signer); no X-Amz-Content-Sha256 is sent.
// body must be the exact bytes req will send (nil for GET).
func Sign(req *http.Request, body []byte, accessKey, secretKey, region string, t time.Time) error {
	return signService(req, body, accessKey, secretKey, Service, region, t)
}

func signService(req *http.Request, body []byte, accessKey, secretKey, service, region string, t time.Time) error {
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}
	// A signer per call: a Signer caches derived keys by access key, region and
	// service but not by secret, so a shared one would let Verify accept a
	// request signed with a wrong secret after a right one.
	return v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, t.UTC())
}

// Errors Verify returns; the simulator maps them to KEC's error codes.
var (
	// ErrMissingAuth: no or unparsable Authorization header (MissingAuthenticationToken).
	ErrMissingAuth = errors.New("request is not signed")
	// ErrBadSignature: the signature does not match (SignatureDoesNotMatch).
	ErrBadSignature = errors.New("signature does not match")
	// ErrUnknownKey: the access key is not known (SignatureDoesNotMatch on the real cloud too).
	ErrUnknownKey = errors.New("access key is not known")
	// ErrClockSkew: X-Amz-Date is too far from the server's clock.
	ErrClockSkew = errors.New("request time is too far from the server's time")
)

// Authorization is a parsed SigV4 Authorization header.
type Authorization struct {
	AccessKey     string
	Date          string // yyyymmdd of the scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

// ParseAuthorization parses "AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=hex".
func ParseAuthorization(h string) (Authorization, error) {
	var a Authorization
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return a, fmt.Errorf("%w: authorization scheme is not AWS4-HMAC-SHA256", ErrMissingAuth)
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("%w: malformed authorization field %q", ErrMissingAuth, part)
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return a, fmt.Errorf("%w: malformed credential scope", ErrMissingAuth)
			}
			a.AccessKey, a.Date, a.Region, a.Service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			a.Signature = v
		}
	}
	if a.AccessKey == "" || a.Signature == "" || len(a.SignedHeaders) == 0 {
		return a, fmt.Errorf("%w: authorization lacks Credential, SignedHeaders or Signature", ErrMissingAuth)
	}
	return a, nil
}

// Verify checks a signed KEC request as the cloud does: it rebuilds the request
// from the headers the client declares in SignedHeaders, signs it again with the
// secret of the declared access key using Sign, and compares. secretFor returns
// the secret of an access key. It returns the verified access key.
func Verify(req *http.Request, body []byte, secretFor func(accessKey string) (string, bool), now time.Time, maxSkew time.Duration) (string, error) {
	return VerifyService(req, body, Service, secretFor, now, maxSkew)
}

// VerifyService is Verify for a request of another KEC-family service (tagv2,
// sks), whose credential scope must name that service.
func VerifyService(req *http.Request, body []byte, service string, secretFor func(accessKey string) (string, bool), now time.Time, maxSkew time.Duration) (string, error) {
	h := req.Header.Get("Authorization")
	if h == "" {
		return "", ErrMissingAuth
	}
	a, err := ParseAuthorization(h)
	if err != nil {
		return "", err
	}
	if a.Service != service {
		return "", fmt.Errorf("%w: credential scope names service %q, want %q", ErrBadSignature, a.Service, service)
	}
	t, err := time.Parse(amzDateFormat, req.Header.Get("X-Amz-Date"))
	if err != nil {
		return "", fmt.Errorf("%w: X-Amz-Date missing or malformed", ErrMissingAuth)
	}
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return "", fmt.Errorf("%w: X-Amz-Date %s is %s from the server's clock", ErrClockSkew, t.Format(amzDateFormat), d.Round(time.Second))
	}
	if a.Date != t.Format("20060102") {
		return "", fmt.Errorf("%w: credential scope date does not match X-Amz-Date", ErrBadSignature)
	}
	secret, ok := secretFor(a.AccessKey)
	if !ok {
		return "", ErrUnknownKey
	}
	canonical, err := canonicalRequest(req, body, a.SignedHeaders)
	if err != nil {
		return "", err
	}
	scope := a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request"
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + t.Format(amzDateFormat) + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := []byte("AWS4" + secret)
	for _, part := range []string{a.Date, a.Region, a.Service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return "", ErrBadSignature
	}
	return a.AccessKey, nil
}

// canonicalRequest is SigV4's canonical request of req over the headers the
// client declares, as given: in its order and with its repetitions (the
// official KEC SDK declares host twice, and its canonical header block holds
// the host line twice). A server that re-signed with its own choice of
// headers would refuse that SDK's requests.
func canonicalRequest(req *http.Request, body []byte, signed []string) (string, error) {
	var b strings.Builder
	b.WriteString(req.Method)
	b.WriteByte('\n')
	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	b.WriteByte('\n')
	q := req.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	first := true
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			if !first {
				b.WriteByte('&')
			}
			first = false
			b.WriteString(sigv4Escape(k))
			b.WriteByte('=')
			b.WriteString(sigv4Escape(v))
		}
	}
	b.WriteByte('\n')
	for _, name := range signed {
		var vals []string
		switch name {
		case "host":
			vals = []string{req.Host}
		case "content-length":
			vals = []string{strconv.Itoa(len(body))}
		default:
			vals = req.Header.Values(name)
			if len(vals) == 0 {
				return "", fmt.Errorf("%w: signed header %q is not in the request", ErrBadSignature, name)
			}
		}
		for i, v := range vals {
			vals[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.Join(vals, ","))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	if h := req.Header.Get("X-Amz-Content-Sha256"); h != "" {
		b.WriteString(h)
	} else {
		sum := sha256.Sum256(body)
		b.WriteString(hex.EncodeToString(sum[:]))
	}
	return b.String(), nil
}

// sigv4Escape percent-encodes s as SigV4 wants: everything but A-Z a-z 0-9 - _ . ~.
func sigv4Escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

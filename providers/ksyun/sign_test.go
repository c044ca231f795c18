package ksyun

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The reference vectors: computed with the official SDK's signer and again with aws-sdk-go-v2.
var vectorTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

type vector struct {
	name, method, url, body string
	ak, sk, region, service string
	headers                 map[string]string
	wantSigned, wantSig     string
}

var vectors = []vector{
	{
		name: "GET StopInstances", method: "GET",
		url: "https://kec.api.ksyun.com/?Action=StopInstances&InstanceId.1=i-1&Version=2016-03-04",
		ak:  "AKLTexampleAK", sk: "exampleSecretKey", region: "cn-beijing-6", service: "kec",
		headers:    map[string]string{"Accept": "application/json"},
		wantSigned: "accept;host;x-amz-date",
		wantSig:    "fd5c27c28182e3216b9f72d095e64ee7e50cfa540548769c381942d284036739",
	},
	{
		name: "POST DescribeInstances", method: "POST",
		url:  "https://kec.api.ksyun.com/?Action=DescribeInstances&Version=2016-03-04",
		body: "Action=DescribeInstances&InstanceId.1=i-1&Marker=0&MaxResults=200&Version=2016-03-04",
		ak:   "AKLTexampleAK", sk: "exampleSecretKey", region: "cn-beijing-6", service: "kec",
		headers: map[string]string{
			"Accept":       "application/json",
			"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
		},
		wantSigned: "accept;content-length;content-type;host;x-amz-date",
		wantSig:    "777790ddeb50b151fb503082a960000aeddedd10a4f3a845249ff8d5f4731e32",
	},
}

func newVectorRequest(t *testing.T, v vector) (*http.Request, []byte) {
	t.Helper()
	var body []byte
	if v.body != "" {
		body = []byte(v.body)
	}
	req, err := http.NewRequest(v.method, v.url, strings.NewReader(v.body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	for k, val := range v.headers {
		req.Header.Set(k, val)
	}
	return req, body
}

func TestSignVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			req, body := newVectorRequest(t, v)
			if err := Sign(req, body, v.ak, v.sk, v.region, vectorTime); err != nil {
				t.Fatal(err)
			}
			a, err := ParseAuthorization(req.Header.Get("Authorization"))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(a.SignedHeaders, ";"); got != v.wantSigned {
				t.Errorf("SignedHeaders = %s, want %s", got, v.wantSigned)
			}
			if a.Signature != v.wantSig {
				t.Errorf("Signature = %s, want %s", a.Signature, v.wantSig)
			}
			if req.Header.Get("X-Amz-Content-Sha256") != "" {
				t.Error("X-Amz-Content-Sha256 must not be sent")
			}
		})
	}
}

// TestSignAWSSuiteVanilla is the AWS SigV4 suite's get-vanilla case, signed by the
// same code path with another service and region.
func TestSignAWSSuiteVanilla(t *testing.T) {
	req, _ := http.NewRequest("GET", "https://example.amazonaws.com/", nil)
	sum := "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
	if err := signService(req, nil, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "service", "us-east-1", time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	a, err := ParseAuthorization(req.Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Signature != sum {
		t.Errorf("Signature = %s, want %s", a.Signature, sum)
	}
}

// serverSide turns a client request into what an http.Server hands a handler.
func serverSide(req *http.Request) *http.Request {
	s := req.Clone(req.Context())
	s.Host = req.URL.Host
	s.URL.Scheme, s.URL.Host = "", ""
	return s
}

func TestVerify(t *testing.T) {
	secrets := func(ak string) (string, bool) {
		if ak == "AKLTexampleAK" {
			return "exampleSecretKey", true
		}
		return "", false
	}
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			sign := func(t *testing.T) (*http.Request, []byte) {
				req, body := newVectorRequest(t, v)
				if err := Sign(req, body, v.ak, v.sk, v.region, vectorTime); err != nil {
					t.Fatal(err)
				}
				return serverSide(req), body
			}
			tests := []struct {
				name   string
				tamper func(r *http.Request, body []byte) []byte
				now    time.Time
				want   error
			}{
				{name: "accept", now: vectorTime.Add(5 * time.Minute)},
				{name: "tampered query", now: vectorTime, want: ErrBadSignature, tamper: func(r *http.Request, b []byte) []byte {
					r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "Version=2016-03-04", "Version=2016-03-05", 1)
					return b
				}},
				{name: "tampered header", now: vectorTime, want: ErrBadSignature, tamper: func(r *http.Request, b []byte) []byte {
					r.Header.Set("Accept", "application/xml")
					return b
				}},
				{name: "tampered date", now: vectorTime, want: ErrBadSignature, tamper: func(r *http.Request, b []byte) []byte {
					r.Header.Set("X-Amz-Date", "20240102T030406Z")
					return b
				}},
				{name: "tampered body", now: vectorTime, want: ErrBadSignature, tamper: func(r *http.Request, b []byte) []byte {
					return append([]byte(nil), []byte(strings.Replace(string(b), "i-1", "i-2", 1)+"&x=1")...)
				}},
				{name: "skew", now: vectorTime.Add(16 * time.Minute), want: ErrClockSkew},
				{name: "unsigned", now: vectorTime, want: ErrMissingAuth, tamper: func(r *http.Request, b []byte) []byte {
					r.Header.Del("Authorization")
					return b
				}},
				{name: "unknown key", now: vectorTime, want: ErrUnknownKey, tamper: func(r *http.Request, b []byte) []byte {
					r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AKLTexampleAK", "AKLTother", 1))
					return b
				}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					req, body := sign(t)
					if tt.tamper != nil {
						body = tt.tamper(req, body)
					}
					if v.body == "" && len(body) == 0 {
						body = nil
					}
					ak, err := Verify(req, body, secrets, tt.now, 15*time.Minute)
					if tt.want == nil {
						if err != nil || ak != "AKLTexampleAK" {
							t.Fatalf("Verify = %q, %v; want accepted", ak, err)
						}
						return
					}
					if !errors.Is(err, tt.want) {
						t.Fatalf("Verify error = %v, want %v", err, tt.want)
					}
				})
			}
		})
	}
}

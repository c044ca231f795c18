package huaweicloud

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Reference vectors, computed with the official SDK signer v0.1.207.
const (
	vecAK      = "HWEXAMPLEAK0000000000"
	vecSK      = "hwExampleSecretKey0000000000000000000000"
	vecHost    = "ecs.cn-north-4.myhuaweicloud.com"
	vecProject = "0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e"
)

var vecTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

type vector struct {
	name, method, path, body string
	query                    url.Values
	wantSig                  string
}

var vectors = []vector{
	{
		name: "changeos", method: "POST",
		path:    "/v1/" + vecProject + "/cloudservers/98284100-f6d1-4bbf-886a-1b0765024738/changeos",
		body:    `{"os-change":{"keyname":"KeyPair-350b","userid":"7e25b1da389f4697a79df3a0e5bd494e","imageid":"e215580f-73ad-429d-b6f2-5433947433b0","mode":"withStopServer"}}`,
		wantSig: "2dd43f026175dea77b1c1ca56d16a07a4aff0aa6150addcd061f0dea234f0c70",
	},
	{
		name: "detail by server_id", method: "GET",
		path: "/v1/" + vecProject + "/cloudservers/detail",
		query: url.Values{
			"server_id": {"98284100-f6d1-4bbf-886a-1b0765024738,1a2b3c4d-0000-4000-8000-000000000001"},
			"limit":     {"100"},
			"offset":    {"1"},
		},
		wantSig: "5eb991fbf33ce291c57c5cac331293052c229501e4b17dfde31ee55055e2b2c1",
	},
	{
		name: "detail with spaces, slash, equals, comma, UTF-8", method: "GET",
		path: "/v1/" + vecProject + "/cloudservers/detail",
		query: url.Values{
			"name":  {"web 01/服务器"},
			"tags":  {"env=prod,role=web"},
			"limit": {"1000"},
		},
		wantSig: "91447b17cb04ff8acf4191fd707e23cdadc3734d93a180543f21d0c2216c627b",
	},
}

func newVectorRequest(t *testing.T, v vector) (*http.Request, []byte) {
	t.Helper()
	u := "https://" + vecHost + v.path
	if v.query != nil {
		u += "?" + v.query.Encode()
	}
	var body []byte
	if v.body != "" {
		body = []byte(v.body)
	}
	req, err := http.NewRequest(v.method, u, strings.NewReader(v.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Host", vecHost)
	req.Header.Set("X-Project-Id", vecProject)
	if body != nil {
		req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	}
	return req, body
}

func TestSignVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			req, body := newVectorRequest(t, v)
			Sign(req, body, vecAK, vecSK, vecTime)
			a, err := ParseAuthorization(req.Header.Get("Authorization"))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(a.SignedHeaders, ";"); got != "host;x-project-id;x-sdk-date" {
				t.Errorf("SignedHeaders = %s", got)
			}
			if a.Signature != v.wantSig {
				t.Errorf("Signature = %s, want %s", a.Signature, v.wantSig)
			}
		})
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"web 01/服务器":        "web%2001%2F%E6%9C%8D%E5%8A%A1%E5%99%A8",
		"env=prod,role=web": "env%3Dprod%2Crole%3Dweb",
		"A-z_0.9~":          "A-z_0.9~",
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func serverSide(req *http.Request) *http.Request {
	s := req.Clone(req.Context())
	s.Host = req.URL.Host
	s.URL.Scheme, s.URL.Host = "", ""
	return s
}

func TestVerify(t *testing.T) {
	secrets := func(ak string) (string, bool) {
		if ak == vecAK {
			return vecSK, true
		}
		return "", false
	}
	tests := []struct {
		name   string
		tamper func(r *http.Request, body []byte) []byte
		now    time.Time
		want   error
	}{
		{name: "accept", now: vecTime.Add(-14 * time.Minute)},
		{name: "tampered path", now: vecTime, want: ErrBadSignature, tamper: func(r *http.Request, b []byte) []byte {
			r.URL.Path += "x"
			return b
		}},
		{name: "tampered query", now: vecTime, want: ErrBadSignature, tamper: func(r *http.Request, b []byte) []byte {
			r.URL.RawQuery += "&limit=2"
			return b
		}},
		{name: "tampered header", now: vecTime, want: ErrBadSignature, tamper: func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Project-Id", "ffffffffffffffffffffffffffffffff")
			return b
		}},
		{name: "tampered date", now: vecTime, want: ErrBadSignature, tamper: func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Sdk-Date", "20240102T030406Z")
			return b
		}},
		{name: "tampered body", now: vecTime, want: ErrBadSignature, tamper: func(r *http.Request, b []byte) []byte {
			return []byte(`{"os-change":{}}`)
		}},
		{name: "skew", now: vecTime.Add(16 * time.Minute), want: ErrClockSkew},
		{name: "unsigned", now: vecTime, want: ErrMissingAuth, tamper: func(r *http.Request, b []byte) []byte {
			r.Header.Del("Authorization")
			return b
		}},
		{name: "unknown key", now: vecTime, want: ErrUnknownKey, tamper: func(r *http.Request, b []byte) []byte {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), vecAK, "HWOTHER", 1))
			return b
		}},
	}
	for _, v := range vectors {
		for _, tt := range tests {
			t.Run(v.name+"/"+tt.name, func(t *testing.T) {
				req, body := newVectorRequest(t, v)
				Sign(req, body, vecAK, vecSK, vecTime)
				req = serverSide(req)
				// A server does not see Host among the headers; the client's Host
				// header becomes req.Host.
				req.Header.Del("Host")
				if tt.tamper != nil {
					body = tt.tamper(req, body)
				}
				ak, err := Verify(req, body, secrets, tt.now, 15*time.Minute)
				if tt.want == nil {
					if err != nil || ak != vecAK {
						t.Fatalf("Verify = %q, %v; want accepted", ak, err)
					}
					return
				}
				if !errors.Is(err, tt.want) {
					t.Fatalf("Verify error = %v, want %v", err, tt.want)
				}
			})
		}
	}
}

// TestVerifySDKHeaders: the official SDK signs user-agent;x-project-id;x-sdk-date
// and not host; the server must not require host.
func TestVerifySDKHeaders(t *testing.T) {
	req, _ := http.NewRequest("GET", "http://127.0.0.1:8080/v1/"+vecProject+"/cloudservers/detail?limit=5", nil)
	req.Header.Set("User-Agent", "huaweicloud-usdk-go/3.0; os=linux")
	req.Header.Set("X-Project-Id", vecProject)
	Sign(req, nil, vecAK, vecSK, vecTime)
	if !strings.Contains(req.Header.Get("Authorization"), "SignedHeaders=user-agent;x-project-id;x-sdk-date,") {
		t.Fatalf("Authorization = %s", req.Header.Get("Authorization"))
	}
	_, err := Verify(serverSide(req), nil, func(string) (string, bool) { return vecSK, true }, vecTime, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
}

package providers

import (
	"strings"
	"testing"
)

func TestCheckEndpoint(t *testing.T) {
	for ep, ok := range map[string]bool{
		"https://kec.api.ksyun.com":   true,
		"https://kec.api.ksyun.com/":  true,
		"http://127.0.0.1:8080":       true,
		"http://[::1]:8080":           true,
		"http://localhost:9":          true,
		"http://kec.api.ksyun.com":    false,
		"http://10.0.0.1":             false,
		"ftp://x":                     false,
		"kec.api.ksyun.com":           false,
		"https://user:pw@example.com": false,
	} {
		u, err := CheckEndpoint(ep)
		if (err == nil) != ok {
			t.Errorf("CheckEndpoint(%q): %v", ep, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("the error shows the endpoint's password: %v", err)
		}
		if err == nil && strings.HasSuffix(u.Path, "/") {
			t.Errorf("CheckEndpoint(%q) keeps a trailing slash", ep)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	e := &InDoubtError{Type: "huaweicloud", Provider: "ecs-n4", Operation: "ChangeServerOsWithoutCloudInit", Resource: "9828",
		Cause: &APIError{Code: "Ecs.0002", HTTPStatus: 503}}
	want := "huaweicloud ecs-n4: ChangeServerOsWithoutCloudInit 9828: outcome unknown, the cloud may have accepted it: Ecs.0002 (HTTP 503)"
	if e.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", e.Error(), want)
	}
	if ErrorCode(e) != "Ecs.0002" || !IsInDoubt(e) || IsThrottled(e) {
		t.Error("ErrorCode / IsInDoubt / IsThrottled do not see through InDoubtError")
	}
}

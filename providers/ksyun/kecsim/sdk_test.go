package kecsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/providers/ksyun"
	"github.com/reimage-dev/reimage/providers/sim"
)

// The official KEC Go SDK (github.com/kingsoftcloud/sdk-go/v2, not on the module proxy) is tested
// as vectors of its exact request form: every action a POST form with Action, Version and
// Service=kec, list parameters numbered from 0, Accept and Content-Type headers, and
// SignedHeaders=accept;content-type;host;host;x-amz-date — host listed twice.

// sdkSign signs req as the official SDK does, building the canonical request by hand: the
// header block holds the host line twice.
func sdkSign(t *testing.T, req *http.Request, body []byte, ak, sk, region string, at time.Time) {
	t.Helper()
	date := at.UTC().Format("20060102T150405Z")
	req.Header.Set("X-Amz-Date", date)
	q := req.URL.Query()
	var keys []string
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		pairs = append(pairs, url.QueryEscape(k)+"="+url.QueryEscape(q.Get(k)))
	}
	sum := sha256.Sum256(body)
	canonical := strings.Join([]string{
		req.Method, "/", strings.Join(pairs, "&"),
		"accept:" + req.Header.Get("Accept") + "\ncontent-type:" + req.Header.Get("Content-Type") +
			"\nhost:" + req.Host + "\nhost:" + req.Host + "\nx-amz-date:" + date + "\n",
		"accept;content-type;host;host;x-amz-date",
		hex.EncodeToString(sum[:]),
	}, "\n")
	scope := date[:8] + "/" + region + "/kec/aws4_request"
	cs := sha256.Sum256([]byte(canonical))
	mac := func(k []byte, s string) []byte { m := hmac.New(sha256.New, k); m.Write([]byte(s)); return m.Sum(nil) }
	key := []byte("AWS4" + sk)
	for _, p := range []string{date[:8], region, "kec", "aws4_request"} {
		key = mac(key, p)
	}
	sig := hex.EncodeToString(mac(key, "AWS4-HMAC-SHA256\n"+date+"\n"+scope+"\n"+hex.EncodeToString(cs[:])))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+ak+"/"+scope+", SignedHeaders=accept;content-type;host;host;x-amz-date, Signature="+sig)
}

// sdkRequest builds one official-SDK request for action with params.
func sdkRequest(h *harness, t *testing.T, action string, params url.Values, sk string) *http.Request {
	t.Helper()
	params.Set("Action", action)
	params.Set("Version", kecVersion)
	params.Set("Service", "kec")
	body := []byte(params.Encode())
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/?Action="+action+"&Version="+kecVersion, strings.NewReader(string(body)))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sdkSign(t, req, body, testKAK, sk, "cn-beijing-6", h.Clock.Now())
	return req
}

// sdkInstance is the official SDK's view of an InstancesSet entry: ProjectId is an *int64.
type sdkInstance struct {
	InstanceID    *string `json:"InstanceId"`
	ImageID       *string `json:"ImageId"`
	ProjectID     *int64  `json:"ProjectId"`
	InstanceState *struct {
		Name *string `json:"Name"`
	} `json:"InstanceState"`
}

// TestOfficialKECSDKRequestsAccepted: the SDK's DescribeInstances (InstanceId.0, no ProjectId.N,
// parsed with the SDK's types), StopInstances (Messgae) and ModifyInstanceImage forms are
// accepted and act; the same request signed with a wrong secret is refused.
func TestOfficialKECSDKRequestsAccepted(t *testing.T) {
	h := newHarness(t)
	if err := h.Sim.AddInstance(sim.Instance{Provider: ksyun.Type, ID: "44444444-4444-4444-8444-444444444444", Image: imgOld, ProjectID: "103245"}); err != nil {
		t.Fatal(err)
	}
	r := h.Do(sdkRequest(h, t, "DescribeInstances", url.Values{"InstanceId.0": {kecStopped}, "InstanceId.1": {"44444444-4444-4444-8444-444444444444"}}, testKSK))
	if r.Status != 200 {
		t.Fatalf("DescribeInstances: %d %s", r.Status, r.Raw)
	}
	var ans struct{ InstancesSet []sdkInstance }
	if err := json.Unmarshal(r.Raw, &ans); err != nil {
		t.Fatalf("the SDK's types cannot parse the answer: %v\n%s", err, r.Raw)
	}
	if len(ans.InstancesSet) != 2 || *ans.InstancesSet[0].InstanceID != kecStopped || *ans.InstancesSet[0].ProjectID != 0 ||
		*ans.InstancesSet[1].ProjectID != 103245 {
		t.Fatalf("an id look-up without ProjectId.N finds instances of every project: %s", r.Raw)
	}
	r = h.Do(sdkRequest(h, t, "StopInstances", url.Values{"InstanceId.0": {kecStopped}}, testKSK))
	var stop struct {
		InstancesSet []struct {
			Return  bool
			Messgae string
		}
	}
	if err := json.Unmarshal(r.Raw, &stop); err != nil || r.Status != 200 || stop.InstancesSet[0].Return || !strings.Contains(stop.InstancesSet[0].Messgae, "InstanceStateNotSupported") {
		t.Fatalf("StopInstances of a stopped instance: %d %s", r.Status, r.Raw)
	}
	r = h.Do(sdkRequest(h, t, "ModifyInstanceImage", url.Values{"InstanceId": {kecStopped}, "ImageId": {imgNew}, "InstancePassword": {"Passw0rd!x"}}, testKSK))
	if r.Status != 200 {
		t.Fatalf("ModifyInstanceImage: %d %s", r.Status, r.Raw)
	}
	if v := h.View(ksyun.Type, kecStopped); v.State != "rebuilding" {
		t.Fatalf("after ModifyInstanceImage: %+v", v)
	}
	res, err := http.DefaultClient.Do(sdkRequest(h, t, "DescribeInstances", url.Values{"InstanceId.0": {kecStopped}}, "wrong-secret"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 403 || !strings.Contains(string(b), "SignatureDoesNotMatch") {
		t.Fatalf("a wrong signature: %d %s", res.StatusCode, b)
	}
}

// TestKECReinstallShowsOverriding: a reinstall (no ImageId) shows KEC's "overriding", a change
// of image "rebuilding".
func TestKECReinstallShowsOverriding(t *testing.T) {
	h := newHarness(t)
	if r := h.KEC(http.MethodPost, vals("Action", "ModifyInstanceImage", "InstanceId", kecStopped, "KeepImageLogin", "true")); r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	if v := h.View(ksyun.Type, kecStopped); v.State != "overriding" {
		t.Fatalf("reinstall: %s", v.State)
	}
}

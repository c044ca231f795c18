package kecsim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/providers/ksyun"
	"github.com/reimage-dev/reimage/providers/sim"
)

// TestKECVectors sends the reference vectors' exact requests (keys, time,
// host, body) and expects them accepted; a date 16 minutes off, a tampered
// body, header or date, and no signature are refused with KEC's codes.
func TestKECVectors(t *testing.T) {
	type vec struct {
		name, method, url, body string
		wantSig                 string
	}
	vecs := []vec{
		{"GET StopInstances", "GET", "/?Action=StopInstances&InstanceId.1=i-1&Version=2016-03-04", "",
			"fd5c27c28182e3216b9f72d095e64ee7e50cfa540548769c381942d284036739"},
		{"POST DescribeInstances", "POST", "/?Action=DescribeInstances&Version=2016-03-04",
			"Action=DescribeInstances&InstanceId.1=i-1&Marker=0&MaxResults=200&Version=2016-03-04",
			"777790ddeb50b151fb503082a960000aeddedd10a4f3a845249ff8d5f4731e32"},
	}
	tests := []struct {
		name     string
		skew     time.Duration
		tamper   func(r *http.Request) *http.Request
		wantCode string
	}{
		{name: "accept"},
		{name: "accept 14m late", skew: 14 * time.Minute},
		{name: "date 16m off", skew: 16 * time.Minute, wantCode: "RequestTimeTooSkewed"},
		{name: "date 16m early", skew: -16 * time.Minute, wantCode: "RequestTimeTooSkewed"},
		{name: "tampered header", wantCode: "SignatureDoesNotMatch", tamper: func(r *http.Request) *http.Request {
			r.Header.Set("Accept", "application/json, text/plain")
			return r
		}},
		{name: "tampered date", wantCode: "SignatureDoesNotMatch", tamper: func(r *http.Request) *http.Request {
			r.Header.Set("X-Amz-Date", "20240102T030406Z")
			return r
		}},
		{name: "tampered query", wantCode: "SignatureDoesNotMatch", tamper: func(r *http.Request) *http.Request {
			r.URL.RawQuery += "&DryRun=true"
			return r
		}},
		{name: "unsigned", wantCode: "MissingAuthenticationToken", tamper: func(r *http.Request) *http.Request {
			r.Header.Del("Authorization")
			return r
		}},
		{name: "unknown key", wantCode: "SignatureDoesNotMatch", tamper: func(r *http.Request) *http.Request {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testKAK, "AKLTother", 1))
			return r
		}},
	}
	for _, v := range vecs {
		for _, tt := range tests {
			t.Run(v.name+"/"+tt.name, func(t *testing.T) {
				h := newHarness(t)
				req, _ := http.NewRequest(v.method, h.URL+v.url, strings.NewReader(v.body))
				var body []byte
				if v.body == "" {
					req.Body, req.ContentLength = nil, 0
				} else {
					body = []byte(v.body)
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
				}
				req.Host = "kec.api.ksyun.com"
				req.Header.Set("Accept", "application/json")
				if err := ksyun.Sign(req, body, testKAK, testKSK, "cn-beijing-6", vecTime); err != nil {
					t.Fatal(err)
				}
				if !strings.HasSuffix(req.Header.Get("Authorization"), "Signature="+v.wantSig) {
					t.Fatalf("not the vector's signature: %s", req.Header.Get("Authorization"))
				}
				if tt.tamper != nil {
					req = tt.tamper(req)
				}
				h.Clock.Advance(tt.skew)
				r := h.Do(req)
				if tt.wantCode == "" {
					if r.Status != 200 {
						t.Fatalf("status %d: %s", r.Status, r.Raw)
					}
					return
				}
				if r.Status != 403 || r.KECCode() != tt.wantCode {
					t.Fatalf("got %d %s, want 403 %s: %s", r.Status, r.KECCode(), tt.wantCode, r.Raw)
				}
				if r.Str("RequestId") == "" {
					t.Error("error without RequestId")
				}
			})
		}
	}
}

// TestKECTamperedBody: a POST whose body changed after signing is refused.
func TestKECTamperedBody(t *testing.T) {
	h := newHarness(t)
	p := vals("Action", "DescribeInstances", "InstanceId.1", kecRunning, "MaxResults", "10")
	req := h.KECRequest("POST", p)
	tampered := strings.Replace(p.Encode(), "MaxResults=10", "MaxResults=20", 1)
	req.Body = nopBody(tampered)
	r := h.Do(req)
	if r.Status != 403 || r.KECCode() != "SignatureDoesNotMatch" {
		t.Fatalf("got %d %s: %s", r.Status, r.KECCode(), r.Raw)
	}
}

func TestKECDescribeForms(t *testing.T) {
	for _, method := range []string{"GET", "POST"} {
		for _, base := range []int{0, 1} {
			t.Run(fmt.Sprintf("%s/%d-based", method, base), func(t *testing.T) {
				h := newHarness(t)
				p := vals("Action", "DescribeInstances", "MaxResults", "10",
					fmt.Sprintf("InstanceId.%d", base), kecStopped,
					fmt.Sprintf("InstanceId.%d", base+1), kecRunning,
					fmt.Sprintf("InstanceId.%d", base+2), "33333333-3333-4333-8333-333333333333")
				r := h.KEC(method, p)
				if r.Status != 200 {
					t.Fatalf("status %d: %s", r.Status, r.Raw)
				}
				set := r.Body["InstancesSet"].([]any)
				if len(set) != 2 || r.Body["InstanceCount"].(float64) != 2 {
					t.Fatalf("want 2 instances: %s", r.Raw)
				}
				first := set[0].(map[string]any)
				var keys []string
				for k := range first {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				want := "AvailabilityZone ChargeType CreationDate ImageId InstanceId InstanceName InstanceState InstanceType KeySet NetworkInterfaceSet PrivateIpAddress ProjectId SystemDisk"
				if strings.Join(keys, " ") != want {
					t.Errorf("fields %v, want %s", keys, want)
				}
				if first["InstanceId"] != kecStopped || first["ImageId"] != imgOld {
					t.Errorf("first = %v", first)
				}
				st := first["InstanceState"].(map[string]any)
				if st["Name"] != "stopped" || st["TaskState"] != "" {
					t.Errorf("InstanceState = %v", st)
				}
				if _, ok := first["SystemDisk"].(map[string]any)["DiskSize"]; !ok {
					t.Error("SystemDisk.DiskSize missing")
				}
				for _, k := range []string{"RequestId", "Marker", "InstanceCount", "InstancesSet"} {
					if _, ok := r.Body[k]; !ok {
						t.Errorf("response lacks %s", k)
					}
				}
			})
		}
	}
}

func TestKECDescribePagingAndFilters(t *testing.T) {
	h := newHarness(t)
	for i := range 12 {
		if err := h.Sim.AddInstance(sim.Instance{Provider: ksyun.Type, ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: fmt.Sprintf("batch-%02d", i), Image: imgNew}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for marker := 0; ; marker += 5 {
		r := h.KEC("POST", vals("Action", "DescribeInstances", "MaxResults", "5", "Marker", fmt.Sprint(marker)))
		if r.Status != 200 {
			t.Fatalf("status %d: %s", r.Status, r.Raw)
		}
		if r.Body["InstanceCount"].(float64) != 15 || r.Body["Marker"].(float64) != float64(marker) {
			t.Fatalf("count/marker: %s", r.Raw)
		}
		set := r.Body["InstancesSet"].([]any)
		for _, x := range set {
			got = append(got, x.(map[string]any)["InstanceId"].(string))
		}
		if len(set) < 5 {
			break
		}
	}
	if len(got) != 15 || got[0] != kecRunning {
		t.Fatalf("paged %d instances: %v", len(got), got)
	}
	// Default page is 10.
	if r := h.KEC("GET", vals("Action", "DescribeInstances")); len(r.Body["InstancesSet"].([]any)) != 10 {
		t.Errorf("default MaxResults: %s", r.Raw)
	}
	for _, tt := range []struct {
		p    url.Values
		want int
	}{
		{vals("Filter.1.Name", "image-id", "Filter.1.Value.1", imgNew), 12},
		{vals("Filter.1.Name", "instance-state.name", "Filter.1.Value.1", "stopped"), 1},
		{vals("Filter.1.Name", "instance-state.name", "Filter.1.Value.1", "stopped", "Filter.1.Value.2", "active"), 15},
		{vals("Filter.1.Name", "instance-name", "Filter.1.Value.1", "web-01"), 1},
		{vals("Filter.1.Name", "instance-id", "Filter.1.Value.1", kecOther, "Filter.2.Name", "image-id", "Filter.2.Value.1", imgOld), 1},
		{vals("Filter.1.Name", "availability-zone-name", "Filter.1.Value.1", "cn-beijing-6a"), 15},
		{vals("Search", "batch-1"), 2},
		{vals("ProjectId.1", "7"), 0},
		{vals("ProjectId.1", "0"), 15},
	} {
		tt.p.Set("Action", "DescribeInstances")
		tt.p.Set("MaxResults", "1000")
		r := h.KEC("GET", tt.p)
		if r.Status != 200 || int(r.Body["InstanceCount"].(float64)) != tt.want {
			t.Errorf("%v: got %d %v, want %d", tt.p, r.Status, r.Body["InstanceCount"], tt.want)
		}
	}
}

func TestKECDescribeErrors(t *testing.T) {
	h := newHarness(t)
	many := vals("Action", "DescribeInstances")
	for i := 1; i <= 101; i++ {
		many.Set(fmt.Sprintf("InstanceId.%d", i%101), fmt.Sprintf("id-%d", i))
	}
	for _, tt := range []struct {
		name   string
		p      url.Values
		status int
		code   string
	}{
		{"MaxResults 4", vals("Action", "DescribeInstances", "MaxResults", "4"), 400, "InvalidParameterValue"},
		{"MaxResults 1001", vals("Action", "DescribeInstances", "MaxResults", "1001"), 400, "InvalidParameterValue"},
		{"Marker not integer", vals("Action", "DescribeInstances", "Marker", "abc"), 400, "InvalidParameterValue"},
		{"101 ids", many, 400, "InstanceIdLimitExceeded"},
		{"index 101", vals("Action", "DescribeInstances", "InstanceId.101", "x"), 400, "InvalidParameterValue"},
		{"unknown filter", vals("Action", "DescribeInstances", "Filter.1.Name", "tag:env", "Filter.1.Value.1", "x"), 400, "InvalidParameterValue"},
		{"filter without value", vals("Action", "DescribeInstances", "Filter.1.Name", "image-id"), 400, "MissingParameter"},
		{"wrong version", vals("Action", "DescribeInstances", "Version", "2016-03-05"), 400, "InvalidParameterValue"},
		{"unknown action", vals("Action", "RebootInstances"), 400, "InvalidAction"},
		{"no action", vals("MaxResults", "10"), 400, "MissingParameter"},
		{"dry run", vals("Action", "DescribeInstances", "DryRun", "true"), 412, "DryRunOperation"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.KEC("GET", tt.p)
			if r.Status != tt.status || r.KECCode() != tt.code {
				t.Fatalf("got %d %s, want %d %s: %s", r.Status, r.KECCode(), tt.status, tt.code, r.Raw)
			}
			if r.Str("Error", "Type") != "Sender" {
				t.Errorf("Error.Type = %q", r.Str("Error", "Type"))
			}
		})
	}
	// No Version at all: the signer helper fills it in, so build the GET by hand.
	req, _ := http.NewRequest("GET", h.URL+"/?Action=DescribeInstances", nil)
	req.Header.Set("Accept", "application/json")
	ksyun.Sign(req, nil, testKAK, testKSK, "cn-beijing-6", h.Clock.Now())
	if r := h.Do(req); r.Status != 400 || r.KECCode() != "MissingParameter" {
		t.Errorf("no Version: %d %s", r.Status, r.Raw)
	}
	// A POST body that is not a form.
	req, _ = http.NewRequest("POST", h.URL+"/?Action=DescribeInstances&Version=2016-03-04", strings.NewReader(`{"MaxResults":10}`))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	ksyun.Sign(req, []byte(`{"MaxResults":10}`), testKAK, testKSK, "cn-beijing-6", h.Clock.Now())
	if r := h.Do(req); r.Status != 415 {
		t.Errorf("JSON body: %d %s", r.Status, r.Raw)
	}
}

// TestKECXML: without Accept: application/json KEC answers XML.
func TestKECXML(t *testing.T) {
	h := newHarness(t)
	req, _ := http.NewRequest("GET", h.URL+"/?Action=DescribeInstances&Version=2016-03-04&InstanceId.1="+kecRunning, nil)
	ksyun.Sign(req, nil, testKAK, testKSK, "cn-beijing-6", h.Clock.Now())
	r := h.Do(req)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/xml") {
		t.Fatalf("%d %s", r.Status, r.Header.Get("Content-Type"))
	}
	for _, want := range []string{"<DescribeInstancesResponse>", "<InstancesSet><item><InstanceId>" + kecRunning + "</InstanceId>", "<Name>active</Name>", "<TaskState></TaskState>"} {
		if !strings.Contains(string(r.Raw), want) {
			t.Errorf("XML lacks %s:\n%s", want, r.Raw)
		}
	}
}

func TestKECStopStart(t *testing.T) {
	h := newHarness(t)
	unknown := "33333333-3333-4333-8333-333333333333"
	for _, method := range []string{"GET", "POST"} {
		h := newHarness(t)
		r := h.KEC(method, vals("Action", "StopInstances", "InstanceId.1", kecRunning, "InstanceId.2", kecStopped, "InstanceId.3", unknown, "ForceStop", "true", "StoppedMode", "StopCharging"))
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", method, r.Status, r.Raw)
		}
		set := r.Body["InstancesSet"].([]any)
		if len(set) != 3 {
			t.Fatalf("%s: %s", method, r.Raw)
		}
		wantReturn := []bool{true, false, false}
		wantMsg := []string{"", "InstanceStateNotSupported", "InstanceNotFound"}
		for i, x := range set {
			e := x.(map[string]any)
			// StopInstances spells its message field Messgae (sic).
			if e["Return"] != wantReturn[i] || !strings.Contains(fmt.Sprint(e["Messgae"]), wantMsg[i]) || e["Message"] != nil {
				t.Errorf("%s: entry %d = %v", method, i, e)
			}
		}
	}
	// Stop: active → stopping → stopped.
	h.KEC("GET", vals("Action", "StopInstances", "InstanceId.1", kecRunning))
	if v := h.View(ksyun.Type, kecRunning); v.State != "stopping" {
		t.Fatalf("after stop: %s", v.State)
	}
	// An operation on a transitional instance is refused, per id.
	r := h.KEC("GET", vals("Action", "StopInstances", "InstanceId.1", kecRunning))
	if e := r.Body["InstancesSet"].([]any)[0].(map[string]any); e["Return"] != false || !strings.Contains(fmt.Sprint(e["Messgae"]), "InstanceStateNotSupported") {
		t.Errorf("stop while stopping: %s", r.Raw)
	}
	r = h.KEC("GET", vals("Action", "DescribeInstances", "InstanceId.1", kecRunning))
	if st := r.Body["InstancesSet"].([]any)[0].(map[string]any)["InstanceState"].(map[string]any); st["Name"] != "stopping" || st["TaskState"] == "" {
		t.Errorf("while stopping: %v", st)
	}
	h.Clock.Advance(9 * time.Second)
	if v := h.View(ksyun.Type, kecRunning); v.State != "stopping" {
		t.Fatalf("9s after stop: %s", v.State)
	}
	h.Clock.Advance(time.Second)
	if v := h.View(ksyun.Type, kecRunning); v.State != "stopped" {
		t.Fatalf("10s after stop: %s", v.State)
	}
	// Start: stopped → starting → active; start on an active instance fails per id.
	r = h.KEC("POST", vals("Action", "StartInstances", "InstanceId.0", kecRunning, "InstanceId.1", kecOther))
	set := r.Body["InstancesSet"].([]any)
	if set[0].(map[string]any)["Return"] != true || set[1].(map[string]any)["Return"] != false {
		t.Fatalf("start: %s", r.Raw)
	}
	if v := h.View(ksyun.Type, kecRunning); v.State != "starting" {
		t.Fatalf("after start: %s", v.State)
	}
	h.Clock.Advance(20 * time.Second)
	if v := h.View(ksyun.Type, kecRunning); v.State != "active" || v.Changes != 0 {
		t.Fatalf("20s after start: %+v", v)
	}
	// Errors of the whole request.
	many := vals("Action", "StopInstances")
	for i := 1; i <= 101; i++ {
		many.Set(fmt.Sprintf("InstanceId.%d", i%101), fmt.Sprintf("id-%d", i))
	}
	for _, tt := range []struct {
		p      url.Values
		status int
		code   string
	}{
		{many, 400, "InstanceIdLimitExceeded"},
		{vals("Action", "StartInstances"), 400, "MissingParameter"},
		{vals("Action", "StopInstances", "InstanceId.1", kecOther, "StoppedMode", "Off"), 400, "InvalidParameterValue"},
		{vals("Action", "StopInstances", "InstanceId.1", kecOther, "DryRun", "true"), 412, "DryRunOperation"},
	} {
		r := h.KEC("GET", tt.p)
		if r.Status != tt.status || r.KECCode() != tt.code {
			t.Errorf("%v: %d %s", tt.p, r.Status, r.Raw)
		}
	}
	if v := h.View(ksyun.Type, kecOther); v.State != "active" {
		t.Errorf("dry run stopped the instance: %s", v.State)
	}
}

func modify(id string, kv ...string) url.Values {
	p := vals("Action", "ModifyInstanceImage", "InstanceId", id)
	for i := 0; i+1 < len(kv); i += 2 {
		p.Add(kv[i], kv[i+1])
	}
	return p
}

func TestKECModifyErrors(t *testing.T) {
	h := newHarness(t)
	var keys []string
	for i := range 11 {
		keys = append(keys, fmt.Sprintf("KeyId.%d", i+1), fmt.Sprintf("552a0523-b9b4-4868-b8d9-%012d", i))
	}
	big := base64.StdEncoding.EncodeToString(make([]byte, 16<<10+1))
	for _, tt := range []struct {
		name string
		p    url.Values
		code string
		st   int
	}{
		{"unknown instance", modify("33333333-3333-4333-8333-333333333333", "ImageId", imgNew, "KeyId.1", keyID), "InstanceNotFound", 400},
		{"running", modify(kecRunning, "ImageId", imgNew, "KeyId.1", keyID), "InstanceStateNotSupported", 400},
		{"unknown image", modify(kecStopped, "ImageId", "99999999-9999-4999-8999-999999999999", "KeyId.1", keyID), "ImageIdInvalidParameterValue", 400},
		{"malformed image", modify(kecStopped, "ImageId", "img-1", "KeyId.1", keyID), "ImageIdInvalidParameterValue", 400},
		{"11 keys", modify(kecStopped, append([]string{"ImageId", imgNew}, keys...)...), "InvalidParameter.InstanceKeyLimitExceeded", 400},
		{"key not a UUID", modify(kecStopped, "ImageId", imgNew, "KeyId.1", "mykey"), "KeyIdInvalidParameterValue", 400},
		{"password short", modify(kecStopped, "ImageId", imgNew, "InstancePassword", "Ab1"), "InstancePasswordInvalidParameterValue", 400},
		{"password no digit", modify(kecStopped, "ImageId", imgNew, "InstancePassword", "Abcdefghij"), "InstancePasswordInvalidParameterValue", 400},
		{"password too long", modify(kecStopped, "ImageId", imgNew, "InstancePassword", "Ab1"+strings.Repeat("x", 30)), "InstancePasswordInvalidParameterValue", 400},
		{"password not ASCII", modify(kecStopped, "ImageId", imgNew, "InstancePassword", "Ab1défghij"), "InstancePasswordInvalidParameterValue", 400},
		{"no login", modify(kecStopped, "ImageId", imgNew), "MissingParameter", 400},
		{"keep false alone", modify(kecStopped, "ImageId", imgNew, "KeepImageLogin", "false"), "MissingParameter", 400},
		{"keep not bool", modify(kecStopped, "ImageId", imgNew, "KeepImageLogin", "yes"), "InvalidParameterValue", 400},
		{"user data not base64", modify(kecStopped, "ImageId", imgNew, "KeyId.1", keyID, "UserData", "not base64!"), "InvalidParameterValue", 400},
		{"user data too big", modify(kecStopped, "ImageId", imgNew, "KeyId.1", keyID, "UserData", big), "InvalidParameterValue", 400},
		{"disk size", modify(kecStopped, "ImageId", imgNew, "KeyId.1", keyID, "SystemDisk.DiskSize", "big"), "RootDiskGbInvalidParameterValue", 400},
		{"resize type", modify(kecStopped, "ImageId", imgNew, "KeyId.1", keyID, "SystemDisk.ResizeType", "hot"), "InvalidParameterValue", 400},
		{"no instance id", vals("Action", "ModifyInstanceImage", "ImageId", imgNew), "MissingParameter", 400},
		{"dry run", modify(kecStopped, "ImageId", imgNew, "KeyId.1", keyID, "DryRun", "true"), "DryRunOperation", 412},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, method := range []string{"GET", "POST"} {
				r := h.KEC(method, tt.p)
				if r.Status != tt.st || r.KECCode() != tt.code {
					t.Fatalf("%s: got %d %s, want %d %s: %s", method, r.Status, r.KECCode(), tt.st, tt.code, r.Raw)
				}
			}
		})
	}
	if v := h.View(ksyun.Type, kecStopped); v.State != "stopped" || v.Image != imgOld || v.Changes != 0 {
		t.Fatalf("refused requests had an effect: %+v", v)
	}
}

func TestKECModifyLifecycle(t *testing.T) {
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			h := newHarness(t)
			r := h.KEC(method, modify(kecStopped, "ImageId", imgNew, "KeyId.1", keyID, "SystemDisk.DiskSize", "40",
				"SystemDisk.DiskType", "ESSD_PL1", "SystemDisk.ResizeType", "online", "UserData", base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\n"))))
			if r.Status != 200 || r.Body["Return"] != true || r.Str("RequestId") == "" {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
			steps := []struct {
				after   time.Duration
				state   string
				image   string
				changes int
			}{
				{0, "rebuilding", imgOld, 0},
				{59 * time.Second, "rebuilding", imgOld, 0},
				{time.Second, "starting", imgNew, 1},
				{20 * time.Second, "active", imgNew, 1},
			}
			for _, st := range steps {
				h.Clock.Advance(st.after)
				if v := h.View(ksyun.Type, kecStopped); v.State != st.state || v.Image != st.image || v.Changes != st.changes {
					t.Fatalf("+%s: %+v, want %s %s %d", st.after, v, st.state, st.image, st.changes)
				}
				if st.state == "rebuilding" {
					// Busy: a second change is refused.
					if r := h.KEC(method, modify(kecStopped, "ImageId", imgNew, "KeyId.1", keyID)); r.KECCode() != "InstanceStateNotSupported" {
						t.Fatalf("modify while rebuilding: %s", r.Raw)
					}
				}
			}
			r = h.KEC("POST", vals("Action", "DescribeInstances", "InstanceId.1", kecStopped))
			e := r.Body["InstancesSet"].([]any)[0].(map[string]any)
			if e["SystemDisk"].(map[string]any)["DiskSize"] != 40.0 || e["KeySet"].([]any)[0] != keyID {
				t.Errorf("after modify: %v", e)
			}
			// Reinstall (no ImageId) of the now-running instance needs a stop first.
			h.KEC("GET", vals("Action", "StopInstances", "InstanceId.1", kecStopped))
			h.Clock.Advance(10 * time.Second)
			if r := h.KEC(method, modify(kecStopped, "KeepImageLogin", "true")); r.Status != 200 {
				t.Fatalf("reinstall: %s", r.Raw)
			}
			h.Clock.Advance(80 * time.Second)
			if v := h.View(ksyun.Type, kecStopped); v.State != "active" || v.Image != imgNew || v.Changes != 2 {
				t.Fatalf("after reinstall: %+v", v)
			}
		})
	}
}

func TestKECModifyFails(t *testing.T) {
	h := newHarness(t, func(o *sim.Options) { o.FailIDs = []string{kecStopped} })
	if r := h.KEC("GET", modify(kecStopped, "ImageId", imgNew, "InstancePassword", "1qaQ!abc")); r.Status != 200 {
		t.Fatalf("%s", r.Raw)
	}
	h.Clock.Advance(59 * time.Second)
	if v := h.View(ksyun.Type, kecStopped); v.State != "rebuilding" {
		t.Fatalf("%+v", v)
	}
	h.Clock.Advance(time.Second)
	if v := h.View(ksyun.Type, kecStopped); v.State != "error" || v.Image != imgOld || v.Changes != 0 {
		t.Fatalf("failed rebuild: %+v", v)
	}
	// Only a stop gets an error instance out of it.
	if r := h.KEC("GET", modify(kecStopped, "ImageId", imgNew, "InstancePassword", "1qaQ!abc")); r.KECCode() != "InstanceStateNotSupported" {
		t.Fatalf("modify on error: %s", r.Raw)
	}
	r := h.KEC("GET", vals("Action", "StopInstances", "InstanceId.1", kecStopped))
	if r.Body["InstancesSet"].([]any)[0].(map[string]any)["Return"] != true {
		t.Fatalf("stop on error: %s", r.Raw)
	}
	h.Clock.Advance(10 * time.Second)
	if v := h.View(ksyun.Type, kecStopped); v.State != "stopped" {
		t.Fatalf("%+v", v)
	}
}

// TestKECModifyFailRate: the rate decides, seeded, which rebuilds fail.
func TestKECModifyFailRate(t *testing.T) {
	outcomes := func() string {
		h := newHarness(t, func(o *sim.Options) { o.RebuildFailRate = 0.5; o.Seed = 7 })
		var b strings.Builder
		for i := range 40 {
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			h.Sim.AddInstance(sim.Instance{Provider: ksyun.Type, ID: id, Image: imgOld, State: "stopped"})
			if r := h.KEC("GET", modify(id, "ImageId", imgNew, "KeyId.1", keyID)); r.Status != 200 {
				t.Fatalf("%s", r.Raw)
			}
		}
		h.Clock.Advance(time.Hour)
		for _, v := range h.Sim.Instances() {
			if strings.HasPrefix(v.ID, "00000000") {
				b.WriteString(v.State[:1])
			}
		}
		return b.String()
	}
	a, b := outcomes(), outcomes()
	if a != b {
		t.Fatalf("same seed, different outcomes:\n%s\n%s", a, b)
	}
	if n := strings.Count(a, "e"); n < 10 || n > 30 {
		t.Fatalf("%d of 40 failed with rate 0.5: %s", n, a)
	}
}

// TestKECDescribeEncoder: the hand-written encoder writes what encoding/json
// would write for the same struct.
func TestKECDescribeEncoder(t *testing.T) {
	type plain kecDescribeResponse // drops the MarshalJSON method
	r := kecDescribeResponse{RequestID: "r-1", Marker: 5, InstanceCount: 7, InstancesSet: []kecInstance{
		{InstanceID: "a", InstanceName: `we"b <01> é`, KeySet: []string{"k1", "k2"}, SystemDisk: kecSystemDisk{"SSD3.0", 40},
			InstanceState: kecInstanceState{"active", ""}, ProjectID: 0},
		{InstanceID: "b"},
	}}
	want, _ := json.Marshal(plain(r))
	if got := r.appendJSON(nil); string(got) != string(want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// With the fixed fields cached, as listings write them.
	in := &sim.Inst{ID: "i-1", Name: `a "b"`, Image: "img", Project: "0", IP: "10.0.0.1", Zone: "x", CreatedStr: "t",
		Ext: &attrs{keys: []string{}, diskType: "SSD3.0", diskSize: 20}}
	for range 2 {
		r = kecDescribeResponse{InstancesSet: []kecInstance{kecView(in)}}
		want, _ = json.Marshal(plain(r))
		if got := r.appendJSON(nil); string(got) != string(want) {
			t.Fatalf("cached: got  %s\nwant %s", got, want)
		}
	}
}

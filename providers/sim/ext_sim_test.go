package sim_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/ksyun"
	"github.com/reimage-dev/reimage/providers/sim"
)

func TestThrottle(t *testing.T) {
	h := newHarness(t, func(o *sim.Options) { o.RateLimit = map[string]float64{ksyun.Type: 2, huaweicloud.Type: 1} })
	// KEC: a burst of 2, then 429 RequestLimitExceeded with no effect.
	for i := range 2 {
		if r := h.KEC("GET", vals("Action", "DescribeInstances")); r.Status != 200 {
			t.Fatalf("request %d: %d", i, r.Status)
		}
	}
	r := h.KEC("GET", vals("Action", "StopInstances", "InstanceId.1", kecRunning))
	if r.Status != 429 || r.KECCode() != "RequestLimitExceeded" || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("third KEC request: %d %s %s", r.Status, r.Header.Get("Retry-After"), r.Raw)
	}
	if v := h.View(ksyun.Type, kecRunning); v.State != "active" {
		t.Fatalf("a throttled stop had an effect: %s", v.State)
	}
	// The ECS bucket is separate.
	if r := h.ECS("GET", "/cloudservers/detail", nil, nil); r.Status != 200 {
		t.Fatalf("ECS: %d", r.Status)
	}
	r = h.ECS("POST", "/cloudservers/"+ecsStopped+"/changeos", nil, changeOS(imgECSNew, ""))
	if r.Status != 429 || r.Str("error_code") != "APIGW.0308" || r.Str("request_id") == "" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("second ECS request: %d %s", r.Status, r.Raw)
	}
	if v := h.View(huaweicloud.Type, ecsStopped); v.State != "SHUTOFF" {
		t.Fatalf("a throttled changeos had an effect: %s", v.State)
	}
	// Time refills the buckets.
	h.Clock.Advance(time.Second)
	if r := h.KEC("GET", vals("Action", "DescribeInstances")); r.Status != 200 {
		t.Fatalf("after a second: %d", r.Status)
	}
	st := h.Sim.Stats()
	if st.Throttled != 2 || st.Requests["ksyun/StopInstances/429"] != 1 || st.Requests["huaweicloud/ChangeServerOsWithoutCloudInit/429"] != 1 ||
		st.Requests["ksyun/DescribeInstances/200"] != 3 {
		t.Fatalf("stats: %+v", st)
	}
	// Limits change at run time; 0 removes them.
	h.Sim.SetOptions(func(o *sim.Options) { o.RateLimit = nil })
	for range 5 {
		if r := h.KEC("GET", vals("Action", "DescribeInstances")); r.Status != 200 {
			t.Fatalf("unlimited: %d", r.Status)
		}
	}
}

func TestServerErrors(t *testing.T) {
	h := newHarness(t, func(o *sim.Options) { o.ServerErrorRate = 1 })
	r := h.KEC("GET", modify(kecStopped, "ImageId", imgNew, "KeyId.1", keyID))
	r2 := h.KEC("POST", modify(kecStopped, "ImageId", imgNew, "KeyId.1", keyID))
	codes := map[string]int{r.KECCode(): r.Status, r2.KECCode(): r2.Status}
	// KEC: InternalError with HTTP 400, as the seed shows (only the code tells it from a
	// refusal), and ServiceUnavailable with 503, so that -error-rate answers are 5xx too.
	if codes["InternalError"] != 400 || codes["ServiceUnavailable"] != 503 || r.Str("Error", "Type") != "Receiver" {
		t.Fatalf("KEC server errors: %s / %s", r.Raw, r2.Raw)
	}
	// ECS: Ecs.0002 "failed to submit the task" as a 400, and as a 500.
	e := h.ECS("POST", "/cloudservers/"+ecsStopped+"/changeos", nil, changeOS(imgECSNew, ""))
	e2 := h.ECS("POST", "/cloudservers/"+ecsStopped+"/changeos", nil, changeOS(imgECSNew, ""))
	if e.ECSCode() != "Ecs.0002" || e2.ECSCode() != "Ecs.0002" || e.Status+e2.Status != 400+500 {
		t.Fatalf("ECS server errors: %d %s / %d %s", e.Status, e.Raw, e2.Status, e2.Raw)
	}
	for _, v := range []sim.InstanceView{h.View(ksyun.Type, kecStopped), h.View(huaweicloud.Type, ecsStopped)} {
		if v.Image != imgOld || v.Changes != 0 || (v.State != "stopped" && v.State != "SHUTOFF") {
			t.Fatalf("a 5xx had an effect: %+v", v)
		}
	}
	// Authentication comes first: an unsigned request is a 403, not a 5xx.
	req, _ := http.NewRequest("GET", h.URL+"/?Action=DescribeInstances&Version=2016-03-04", nil)
	req.Header.Set("Accept", "application/json")
	if r := h.Do(req); r.Status != 403 {
		t.Fatalf("unsigned under faults: %d", r.Status)
	}
	h.Sim.SetOptions(func(o *sim.Options) { o.ServerErrorRate = 0 })
	if r := h.KEC("GET", modify(kecStopped, "ImageId", imgNew, "KeyId.1", keyID)); r.Status != 200 {
		t.Fatalf("faults off: %d %s", r.Status, r.Raw)
	}
}

// TestServerErrorRateSeeded: the same seed and requests give the same 5xx decisions.
func TestServerErrorRateSeeded(t *testing.T) {
	run := func() string {
		h := newHarness(t, func(o *sim.Options) { o.ServerErrorRate = 0.3; o.Seed = 42 })
		var b strings.Builder
		for range 60 {
			r := h.KEC("GET", vals("Action", "DescribeInstances"))
			b.WriteByte("x."[min(1, 1-r.Status/400)])
		}
		return b.String()
	}
	a, b := run(), run()
	if a != b {
		t.Fatalf("not reproducible:\n%s\n%s", a, b)
	}
	if n := strings.Count(a, "x"); n < 8 || n > 30 {
		t.Fatalf("%d of 60 failed at rate 0.3: %s", n, a)
	}
}

func TestLatency(t *testing.T) {
	h := newHarness(t, func(o *sim.Options) { o.Latency = 50 * time.Millisecond })
	start := time.Now()
	if r := h.KEC("GET", vals("Action", "DescribeInstances")); r.Status != 200 {
		t.Fatal(r.Status)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("answered in %s with 50ms latency", d)
	}
}

func TestJitter(t *testing.T) {
	h := newHarness(t, func(o *sim.Options) { o.Jitter = 0.5 })
	h.KEC("GET", vals("Action", "StopInstances", "InstanceId.1", kecRunning))
	// StopDuration 10s ± 50 %: stopping at 4.9s, stopped at 15.1s.
	h.Clock.Advance(4900 * time.Millisecond)
	if v := h.View(ksyun.Type, kecRunning); v.State != "stopping" {
		t.Fatalf("4.9s: %s", v.State)
	}
	h.Clock.Advance(10200 * time.Millisecond)
	if v := h.View(ksyun.Type, kecRunning); v.State != "stopped" {
		t.Fatalf("15.1s: %s", v.State)
	}
}

func TestInspectionEndpoints(t *testing.T) {
	h := newHarness(t)
	h.KEC("GET", vals("Action", "DescribeInstances"))
	h.ECS("GET", "/cloudservers/detail", nil, nil)
	get := func(path string) []byte {
		res, err := http.Get(h.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: %d %s", path, res.StatusCode, b)
		}
		return b
	}
	var insts []map[string]any
	if err := json.Unmarshal(get("/_sim/instances"), &insts); err != nil {
		t.Fatal(err)
	}
	if len(insts) != 5 {
		t.Fatalf("%d instances", len(insts))
	}
	want := map[string]any{"provider": "ksyun", "id": kecRunning, "image": imgOld, "state": "active", "changes": 0.0,
		"name": "web-01", "zone": "cn-beijing-6a", "privateIp": "127.0.1.1"}
	if !reflect.DeepEqual(insts[0], want) {
		t.Errorf("first = %v, want %v", insts[0], want)
	}
	if insts[4]["provider"] != "huaweicloud" || insts[4]["state"] != "SHUTOFF" {
		t.Errorf("last = %v", insts[4])
	}
	var stats map[string]any
	if err := json.Unmarshal(get("/_sim/stats"), &stats); err != nil {
		t.Fatal(err)
	}
	want = map[string]any{"requests": map[string]any{"ksyun/DescribeInstances/200": 1.0, "huaweicloud/ListServersDetails/200": 1.0}, "throttled": 0.0, "faults": map[string]any{}}
	if !reflect.DeepEqual(stats, want) {
		t.Errorf("stats = %v, want %v", stats, want)
	}
}

func TestSeedSyntheticDeterministic(t *testing.T) {
	fleet := func(seed int64) []sim.InstanceView {
		s := sim.New(sim.Options{Seed: seed})
		s.SeedSynthetic(101, 0.25)
		return s.Instances()
	}
	a, b, c := fleet(3), fleet(3), fleet(4)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different fleets")
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds, same fleet")
	}
	var kec, stopped int
	for _, v := range a {
		if v.Provider == ksyun.Type {
			kec++
		}
		if v.State == "stopped" || v.State == "SHUTOFF" {
			stopped++
		}
		if !sim.IsUUID(v.ID) {
			t.Fatalf("id %q", v.ID)
		}
	}
	if kec != 51 || stopped < 10 || stopped > 45 {
		t.Fatalf("kec %d, stopped %d of 101", kec, stopped)
	}
	first, second := sim.New(sim.Options{Seed: 3}).Options(), sim.New(sim.Options{Seed: 3}).Options()
	if first.Keys["ksyun"].SecretKey != second.Keys["ksyun"].SecretKey {
		t.Fatal("generated credentials differ for one seed")
	}
}

func TestSeedPlan(t *testing.T) {
	p := &plan.Plan{
		Name: "fleet",
		Providers: map[string]*plan.Provider{
			"kec": {Name: "kec", Type: ksyun.Type, Region: "cn-shanghai-2"},
			"ecs": {Name: "ecs", Type: huaweicloud.Type, Region: "cn-north-4", Settings: map[string]string{providers.ProjectSetting: testProject}},
		},
		Instances: []*plan.Instance{
			{ID: kecRunning, Name: "web-01", Provider: "kec", Image: imgNew},
			{ID: kecStopped, Provider: "kec", Image: imgNew, Protect: true},
			{ID: ecsRunning, Provider: "ecs", Image: imgECSNew},
		},
	}
	s := sim.New(sim.Options{Seed: 1, ProjectIDs: []string{"ffffffffffffffffffffffffffffffff"}})
	if err := s.SeedPlan(p, 0); err != nil {
		t.Fatal(err)
	}
	got := s.Instances()
	if len(got) != 3 {
		t.Fatalf("%+v", got)
	}
	for i, v := range got {
		if v.Image != sim.OlderImage(p.Instances[i].Image) || v.Image == p.Instances[i].Image || (v.State != "active" && v.State != "ACTIVE") {
			t.Errorf("%+v", v)
		}
	}
	for _, img := range []string{imgNew, sim.OlderImage(imgNew)} {
		if !slices.Contains(s.Images(ksyun.Type), img) {
			t.Errorf("image %s not catalogued", img)
		}
	}
	s.Lock()
	defer s.Unlock()
	if !s.KnownProject(testProject) {
		t.Error("plan's project not accepted")
	}
	if s.Fleet(ksyun.Type)[kecRunning].Region != "cn-shanghai-2" {
		t.Error("region not taken from the plan")
	}
	// Every instance stopped with fraction 1; a second seeding collides.
	s2 := sim.New(sim.Options{})
	s2.SeedPlan(p, 1)
	for _, v := range s2.Instances() {
		if v.State != "stopped" && v.State != "SHUTOFF" {
			t.Errorf("%+v", v)
		}
	}
	if err := s2.SeedPlan(p, 1); err == nil {
		t.Error("seeding twice: no error")
	}
}

func TestStartAndClose(t *testing.T) {
	s := sim.New(sim.Options{Seed: 1})
	s.SeedSynthetic(4, 0)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("base URL %q", base)
	}
	res, err := http.Get(base + "/_sim/instances")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/_sim/instances"); err == nil {
		t.Fatal("still serving after Close")
	}
}

// TestSeedPlanStoppedShare: ids that differ only in their last digits still
// split near the requested fraction.
func TestSeedPlanStoppedShare(t *testing.T) {
	p := &plan.Plan{Providers: map[string]*plan.Provider{"kec": {Name: "kec", Type: ksyun.Type}}}
	for i := range 200 {
		p.Instances = append(p.Instances, &plan.Instance{ID: fmt.Sprintf("98284100-f6d1-4bbf-886a-1b07650247%02d", i), Provider: "kec", Image: imgNew})
	}
	s := sim.New(sim.Options{Seed: 1})
	if err := s.SeedPlan(p, 0.5); err != nil {
		t.Fatal(err)
	}
	stopped := 0
	for _, v := range s.Instances() {
		if v.State == "stopped" {
			stopped++
		}
	}
	if stopped < 70 || stopped > 130 {
		t.Fatalf("%d of 200 stopped at 0.5", stopped)
	}
}

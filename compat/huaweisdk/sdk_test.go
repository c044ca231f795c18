package huaweisdk

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	ecs "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ecs/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ecs/v2/model"

	"github.com/reimage-dev/reimage/providers/huaweicloud/ecssim"
	"github.com/reimage-dev/reimage/providers/sim"
)

const (
	ak, sk  = "HWCOMPATAK0000000000", "compatSecretKey000000000000000000000000"
	project = "0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e"
	running = "98284100-f6d1-4bbf-886a-1b0765024738"
	stopped = "1a2b3c4d-0000-4000-8000-000000000002"
	imgOld  = "aaaaaaaa-0000-4000-8000-000000000001"
	imgNew  = "e215580f-73ad-429d-b6f2-5433947433b0"
)

// clock is the simulator's clock: it starts at the real time (the SDK signs with it) and moves
// only when the test says, so that transitions need no sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// start runs a simulator on loopback with two ECS servers and returns the official SDK's ECS
// client for it, signing with secret.
func start(t *testing.T) (*sim.Server, *clock, string) {
	t.Helper()
	clk := &clock{t: time.Now()}
	s := sim.New(sim.Options{Seed: 1, Frontends: []sim.NewFrontend{ecssim.New},
		Keys: map[string]sim.Credential{"huaweicloud": {AccessKey: ak, SecretKey: sk}}, ProjectIDs: []string{project},
		StopDuration: 10 * time.Second, RebuildDuration: time.Minute, StartDuration: 10 * time.Second, Clock: clk.now})
	for _, in := range []sim.Instance{
		{Provider: "huaweicloud", ID: running, Name: "api-01", Image: imgOld},
		{Provider: "huaweicloud", ID: stopped, Name: "api-02", Image: imgOld, State: "stopped"},
	} {
		if err := s.AddInstance(in); err != nil {
			t.Fatal(err)
		}
	}
	s.AddImage("huaweicloud", imgNew)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clk, base
}

func client(t *testing.T, base, secret string) *ecs.EcsClient {
	t.Helper()
	cred, err := basic.NewCredentialsBuilder().WithAk(ak).WithSk(secret).WithProjectId(project).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := ecs.EcsClientBuilder().WithEndpoints([]string{base}).WithCredential(cred).
		WithHttpConfig(config.DefaultHttpConfig().WithTimeout(10 * time.Second)).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	return ecs.NewEcsClient(hc)
}

func ptr[T any](v T) *T { return &v }

// TestOfficialSDKDrivesTheSimulator: look-up (parsed by the SDK's models, addresses included),
// stop, changeos, reinstallos and jobs, as the SDK sends and reads them.
func TestOfficialSDKDrivesTheSimulator(t *testing.T) {
	s, clk, base := start(t)
	c := client(t, base, sk)

	list, err := c.ListServersDetails(&model.ListServersDetailsRequest{ServerId: ptr(running + "," + stopped), Limit: ptr(int32(100))})
	if err != nil {
		t.Fatalf("ListServersDetails: %v", err)
	}
	if list.Servers == nil || len(*list.Servers) != 2 {
		t.Fatalf("servers: %v", list)
	}
	for _, srv := range *list.Servers {
		if srv.Image == nil || srv.Image.Id != imgOld {
			t.Errorf("%s: image %v", srv.Id, srv.Image)
		}
		for _, addrs := range srv.Addresses {
			for _, a := range addrs {
				if a.Version != "4" || a.Addr == "" {
					t.Errorf("%s: address %+v", srv.Id, a)
				}
			}
		}
	}
	if (*list.Servers)[0].Status != "ACTIVE" || (*list.Servers)[1].Status != "SHUTOFF" {
		t.Errorf("statuses %s %s", (*list.Servers)[0].Status, (*list.Servers)[1].Status)
	}

	soft := model.GetBatchStopServersOptionTypeEnum().SOFT
	stop, err := c.BatchStopServers(&model.BatchStopServersRequest{Body: &model.BatchStopServersRequestBody{
		OsStop: &model.BatchStopServersOption{Servers: []model.ServerId{{Id: running}}, Type: &soft}}})
	if err != nil || stop.JobId == nil {
		t.Fatalf("BatchStopServers: %v %v", stop, err)
	}
	clk.advance(time.Minute)
	job, err := c.ShowJob(&model.ShowJobRequest{JobId: *stop.JobId})
	if err != nil {
		t.Fatalf("ShowJob: %v", err)
	}
	if job.Status == nil || job.Status.Value() != "SUCCESS" || job.Entities == nil || job.Entities.SubJobs == nil || len(*job.Entities.SubJobs) != 1 {
		t.Fatalf("stop job: %v", job)
	}

	change, err := c.ChangeServerOsWithoutCloudInit(&model.ChangeServerOsWithoutCloudInitRequest{ServerId: running,
		Body: &model.ChangeServerOsWithoutCloudInitRequestBody{OsChange: &model.ChangeServerOsWithoutCloudInitOption{
			Adminpass: ptr("Passw0rd!x"), Imageid: imgNew}}})
	if err != nil || change.JobId == nil {
		t.Fatalf("ChangeServerOsWithoutCloudInit: %v %v", change, err)
	}
	reinstall, err := c.ReinstallServerWithoutCloudInit(&model.ReinstallServerWithoutCloudInitRequest{ServerId: stopped,
		Body: &model.ReinstallServerWithoutCloudInitRequestBody{OsReinstall: &model.ReinstallServerWithoutCloudInitOption{
			Adminpass: ptr("Passw0rd!x")}}})
	if err != nil || reinstall.JobId == nil {
		t.Fatalf("ReinstallServerWithoutCloudInit: %v %v", reinstall, err)
	}
	clk.advance(5 * time.Minute)
	for id, want := range map[string]string{*change.JobId: "changeOS", *reinstall.JobId: "reInitOs"} {
		j, err := c.ShowJob(&model.ShowJobRequest{JobId: id})
		if err != nil {
			t.Fatalf("ShowJob %s: %v", id, err)
		}
		if j.Status.Value() != "SUCCESS" || *j.JobType != want || j.EndTime == nil || j.ErrorCode != nil {
			t.Errorf("job %s: %v", want, j)
		}
	}
	list, err = c.ListServersDetails(&model.ListServersDetailsRequest{ServerId: ptr(running)})
	if err != nil {
		t.Fatal(err)
	}
	if srv := (*list.Servers)[0]; srv.Status != "ACTIVE" || srv.Image.Id != imgNew {
		t.Errorf("after changeos: %s on %s", srv.Status, srv.Image.Id)
	}
	st := s.Stats().Requests
	for _, key := range []string{"huaweicloud/ListServersDetails/200", "huaweicloud/BatchStopServers/200",
		"huaweicloud/ChangeServerOsWithoutCloudInit/200", "huaweicloud/ReinstallServerWithoutCloudInit/200", "huaweicloud/ShowJob/200"} {
		if st[key] == 0 {
			t.Errorf("stats lack %s: %v", key, st)
		}
	}
}

// TestOfficialSDKWrongSignatureRefused: a request signed with the wrong secret is refused by the
// gateway with APIGW.0301, which the SDK reports as a service error.
func TestOfficialSDKWrongSignatureRefused(t *testing.T) {
	s, _, base := start(t)
	c := client(t, base, "not-the-secret-key-0000000000000000000000")
	_, err := c.ListServersDetails(&model.ListServersDetailsRequest{ServerId: ptr(running)})
	var se *sdkerr.ServiceResponseError
	if !errors.As(err, &se) || se.StatusCode != 401 || se.ErrorCode != "APIGW.0301" {
		t.Fatalf("wrong secret: %v", err)
	}
	if n := s.Stats().Requests["huaweicloud/ListServersDetails/401"]; n != 1 {
		t.Errorf("stats: %v", s.Stats().Requests)
	}
}

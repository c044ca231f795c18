package providers_test

// The conformance suite: the same behaviours checked on both clients, over
// loopback HTTP against the simulator (providers/sim), which verifies
// signatures as the clouds do and counts every request in its stats.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
	_ "github.com/reimage-dev/reimage/providers/drivers"
	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/ksyun"
	"github.com/reimage-dev/reimage/providers/sim"
)

const (
	kAK, kSK  = "AKLTconformanceAK", "conformanceKecSecret"
	hAK, hSK  = "HWCONFORMANCEAK00000", "conformanceEcsSecret00000000000000000000"
	projectID = "0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e"
	oldImage  = "aaaaaaaa-0000-4000-8000-000000000001"
	newImage  = "8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2"
	keyID     = "552a0523-b9b4-4868-b8d9-52ad7a38bf89"
)

// cloud is one registered driver under test, with what the suite must know
// of its simulator front-end.
type cloud struct {
	typ string
	// lookupOp is the stats key part of the lookup call.
	lookupOp string
	// changeOp is the stats key part of the change call.
	changeOp string
	// region and projectID place the client; the simulator takes any region.
	region, projectID string
	// keyLogin is the driver's options of a login by the key pair keyID.
	keyLogin plan.Options
}

// settings are the fixture's provider settings.
func (c cloud) settings() map[string]string {
	if c.projectID == "" {
		return nil
	}
	return map[string]string{providers.ProjectSetting: c.projectID}
}

// fixtures: one entry per registered driver. A driver registered without one
// fails TestEveryDriverHasAFixture, so a new cloud cannot skip the suite.
var fixtures = map[string]cloud{
	"ksyun": {lookupOp: "DescribeInstances", changeOp: "ModifyInstanceImage", region: "cn-beijing-6",
		keyLogin: &ksyun.Options{KeyIDs: []string{keyID}}},
	"huaweicloud": {lookupOp: "ListServersDetails", changeOp: "ChangeServerOsWithoutCloudInit", region: "cn-north-4", projectID: projectID,
		keyLogin: &huaweicloud.Options{KeyName: "KeyPair-350b"}},
}

// clouds is every registered driver that has a fixture, in registration order.
var clouds = func() []cloud {
	var out []cloud
	for _, typ := range providers.Types() {
		if c, ok := fixtures[typ]; ok {
			c.typ = typ
			out = append(out, c)
		}
	}
	return out
}()

func TestEveryDriverHasAFixture(t *testing.T) {
	if len(providers.Types()) == 0 {
		t.Fatal("no driver registered: the suite would test nothing")
	}
	for _, typ := range providers.Types() {
		if _, ok := fixtures[typ]; !ok {
			t.Errorf("driver %q is registered but the conformance suite has no fixture for it", typ)
		}
	}
}

// newClient builds c's client through its registered driver against the
// simulator at baseURL, with the simulator's credentials for c unless cfg has some.
func (c cloud) newClient(t testing.TB, s *sim.Server, baseURL string, cfg providers.Config) (providers.Provider, error) {
	d, ok := providers.Lookup(c.typ)
	if !ok {
		t.Fatalf("driver %q is not registered", c.typ)
	}
	ak, sk, known := s.Options().Credentials(c.typ)
	if !known {
		t.Fatalf("the simulator does not simulate %q", c.typ)
	}
	if cfg.AccessKey == "" && cfg.SecretKey == "" {
		cfg.AccessKey, cfg.SecretKey = ak, sk
	}
	cfg.Endpoint, cfg.Region, cfg.Settings = baseURL, c.region, c.settings()
	p, closeFn, err := d.New(cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(closeFn)
	if p.Type() != c.typ {
		t.Fatalf("driver %q built a client of type %q", c.typ, p.Type())
	}
	return p, nil
}

// env is a simulator on loopback and a client of one cloud talking to it.
type env struct {
	t     testing.TB
	cloud cloud
	sim   *sim.Server
	url   string
	p     providers.Provider
}

func fastRetry() providers.RetryPolicy {
	return providers.RetryPolicy{BaseDelay: 10 * time.Millisecond, MaxDelay: 200 * time.Millisecond}
}

// newEnv starts a simulator with opts edited by edit and a client with cfg
// (Name and fast retries filled in when unset).
func newEnv(t testing.TB, c cloud, edit func(*sim.Options), cfg providers.Config) *env {
	t.Helper()
	opts := sim.Options{
		Seed:         7,
		Keys:         map[string]sim.Credential{"ksyun": {AccessKey: kAK, SecretKey: kSK}, "huaweicloud": {AccessKey: hAK, SecretKey: hSK}},
		ProjectIDs:   []string{projectID},
		StopDuration: 30 * time.Millisecond, RebuildDuration: 80 * time.Millisecond, StartDuration: 30 * time.Millisecond,
	}
	if edit != nil {
		edit(&opts)
	}
	s := sim.New(opts)
	s.AddImage(c.typ, newImage)
	u, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if cfg.Name == "" {
		cfg.Name = c.typ + "-test"
	}
	if cfg.Retry == (providers.RetryPolicy{}) {
		cfg.Retry = fastRetry()
	}
	if cfg.BatchWindow == 0 {
		cfg.BatchWindow = 10 * time.Millisecond
	}
	p, err := c.newClient(t, s, u, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, cloud: c, sim: s, url: u, p: p}
}

func (e *env) add(id, image, state string) {
	e.t.Helper()
	if err := e.sim.AddInstance(sim.Instance{Provider: e.cloud.typ, ID: id, Image: image, State: state}); err != nil {
		e.t.Fatal(err)
	}
}

// count sums the simulator's requests of op with the given HTTP status ("" = any).
func (e *env) count(op, status string) int {
	n := 0
	for k, v := range e.sim.Stats().Requests {
		parts := strings.Split(k, "/")
		if len(parts) == 3 && parts[0] == e.cloud.typ && parts[1] == op && (status == "" || parts[2] == status) {
			n += int(v)
		}
	}
	return n
}

func (e *env) changes() map[string]int {
	out := map[string]int{}
	for _, v := range e.sim.Instances() {
		if v.Provider == e.cloud.typ {
			out[v.ID] = v.Changes
		}
	}
	return out
}

func id(prefix, i int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", prefix, i)
}

// waitState polls Status until the instance shows want.
func waitState(ctx context.Context, p providers.Provider, iid string, want providers.State) error {
	for {
		inst, err := p.Status(ctx, iid)
		if err != nil {
			return err
		}
		if inst.State == want {
			return nil
		}
		if inst.State == providers.StateError {
			return fmt.Errorf("%s: state error", iid)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for %s, last %s: %w", iid, want, inst.RawState, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// follow polls Progress until the change is no longer in progress.
func follow(ctx context.Context, p providers.Provider, sub providers.Submission) (providers.Progress, error) {
	for {
		pr, err := p.Progress(ctx, sub)
		if err != nil || pr.Phase != providers.PhaseInProgress {
			return pr, err
		}
		select {
		case <-ctx.Done():
			return pr, ctx.Err()
		case <-time.After(30 * time.Millisecond):
		}
	}
}

// reimage runs what the engine runs for one instance: stop first when the
// cloud's change does not, change, follow to the end.
func reimage(ctx context.Context, p providers.Provider, req providers.ChangeRequest) (providers.Progress, error) {
	if req.Running && !p.Capabilities().ChangeStopsRunning {
		if err := p.Stop(ctx, req.InstanceID); err != nil {
			return providers.Progress{}, err
		}
		if err := waitState(ctx, p, req.InstanceID, providers.StateStopped); err != nil {
			return providers.Progress{}, err
		}
		req.Running = false
	}
	sub, err := p.Change(ctx, req)
	if err != nil {
		return providers.Progress{}, err
	}
	return follow(ctx, p, sub)
}

func changeReq(typ, iid string, running bool) providers.ChangeRequest {
	return providers.ChangeRequest{InstanceID: iid, ImageID: newImage, Running: running, Options: fixtures[typ].keyLogin}
}

func forEachCloud(t *testing.T, f func(t *testing.T, c cloud)) {
	for _, c := range clouds {
		t.Run(c.typ, func(t *testing.T) {
			t.Parallel()
			f(t, c)
		})
	}
}

// TestLookupTenThousand: looking up 10,000 instances costs at most 100 lookup calls.
func TestLookupTenThousand(t *testing.T) {
	forEachCloud(t, func(t *testing.T, c cloud) {
		e := newEnv(t, c, nil, providers.Config{})
		ids := make([]string, 10000)
		for i := range ids {
			ids[i] = id(1, i)
			st := "running"
			if i%3 == 0 {
				st = "stopped"
			}
			e.add(ids[i], oldImage, st)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		got, err := e.p.Lookup(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ids) {
			t.Fatalf("Lookup returned %d instances, want %d", len(got), len(ids))
		}
		for i, iid := range ids {
			want := providers.StateRunning
			if i%3 == 0 {
				want = providers.StateStopped
			}
			if got[iid].State != want || got[iid].Image != oldImage {
				t.Fatalf("%s: %+v, want %s on %s", iid, got[iid], want, oldImage)
			}
		}
		calls := e.count(c.lookupOp, "")
		t.Logf("%s: 10,000 instances looked up in %d %s calls", c.typ, calls, c.lookupOp)
		if calls > 100 {
			t.Errorf("%d lookup calls for 10,000 instances, want at most 100", calls)
		}
	})
}

// TestLookupNotFound: unknown ids come back as not found, next to known ones.
func TestLookupNotFound(t *testing.T) {
	forEachCloud(t, func(t *testing.T, c cloud) {
		e := newEnv(t, c, nil, providers.Config{})
		e.add(id(2, 1), oldImage, "running")
		got, err := e.p.Lookup(context.Background(), []string{id(2, 1), id(2, 2)})
		if err != nil {
			t.Fatal(err)
		}
		if got[id(2, 1)].State != providers.StateRunning || got[id(2, 2)].State != providers.StateNotFound {
			t.Errorf("got %+v", got)
		}
		inst, err := e.p.Status(context.Background(), id(2, 2))
		if err != nil || inst.State != providers.StateNotFound {
			t.Errorf("Status of an unknown id: %+v, %v", inst, err)
		}
	})
}

// TestOperations: stop, start, change and reinstall each do what they say,
// concurrent per-instance calls share batch calls, and each instance is
// changed exactly once.
func TestOperations(t *testing.T) {
	forEachCloud(t, func(t *testing.T, c cloud) {
		// A wide window, so that a loaded test machine still gathers the 30 calls in a few batches.
		e := newEnv(t, c, nil, providers.Config{BatchWindow: 50 * time.Millisecond})
		const n = 30
		for i := range n {
			e.add(id(3, i), oldImage, "running")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()

		// Stop and start all at once: batch calls, not one per instance.
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				iid := id(3, i)
				if err := e.p.Stop(ctx, iid); err != nil {
					errs[i] = err
					return
				}
				if err := waitState(ctx, e.p, iid, providers.StateStopped); err != nil {
					errs[i] = err
					return
				}
				if err := e.p.Start(ctx, iid); err != nil {
					errs[i] = err
					return
				}
				errs[i] = waitState(ctx, e.p, iid, providers.StateRunning)
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		stopOp, startOp := "StopInstances", "StartInstances"
		if c.typ == "huaweicloud" {
			stopOp, startOp = "BatchStopServers", "BatchStartServers"
		}
		if got := e.count(stopOp, "200"); got > 5 {
			t.Errorf("%d %s calls for %d concurrent stops, want a few batches", got, stopOp, n)
		}
		if got := e.count(startOp, "200"); got > 5 {
			t.Errorf("%d %s calls for %d concurrent starts, want a few batches", got, startOp, n)
		}

		// Change every instance (running), and reinstall one.
		for i := range n {
			wg.Go(func() {
				pr, err := reimage(ctx, e.p, changeReq(c.typ, id(3, i), true))
				if err == nil && pr.Phase != providers.PhaseDone {
					err = fmt.Errorf("%s: %s: %s", id(3, i), pr.Phase, pr.Reason)
				}
				if err == nil && pr.Instance.Image != newImage {
					err = fmt.Errorf("%s: done on image %s", id(3, i), pr.Instance.Image)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if err := waitState(ctx, e.p, id(3, 0), providers.StateRunning); err != nil {
			t.Fatal(err)
		}
		re := changeReq(c.typ, id(3, 0), true)
		re.Reinstall = true
		pr, err := reimage(ctx, e.p, re)
		if err != nil || pr.Phase != providers.PhaseDone {
			t.Fatalf("reinstall: %+v, %v", pr, err)
		}
		ch := e.changes()
		for i := range n {
			want := 1
			if i == 0 {
				want = 2
			}
			if ch[id(3, i)] != want {
				t.Errorf("%s changed %d times, want %d", id(3, i), ch[id(3, i)], want)
			}
		}
		total := 0
		for k, v := range e.sim.Stats().Requests {
			if strings.HasPrefix(k, c.typ+"/") {
				total += int(v)
			}
		}
		t.Logf("%s: %d API calls for %d stop+start cycles, %d changes and a reinstall", c.typ, total, n, n)
	})
}

// TestThrottledAtHalfRate: with the simulator allowing half the client's rate,
// every call eventually succeeds and no write is sent twice.
func TestThrottledAtHalfRate(t *testing.T) {
	if testing.Short() {
		t.Skip("takes seconds")
	}
	forEachCloud(t, func(t *testing.T, c cloud) {
		e := newEnv(t, c, func(o *sim.Options) {
			o.RateLimit = map[string]float64{c.typ: 10}
		}, providers.Config{RequestsPerSecond: 20, Burst: 20})
		const n = 20
		for i := range n {
			e.add(id(4, i), oldImage, "running")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		ids := make([]string, n)
		for i := range ids {
			ids[i] = id(4, i)
		}
		if _, err := e.p.Lookup(ctx, ids); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				pr, err := reimage(ctx, e.p, changeReq(c.typ, id(4, i), true))
				if err == nil && pr.Phase != providers.PhaseDone {
					err = fmt.Errorf("%s: %s: %s", id(4, i), pr.Phase, pr.Reason)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		st := e.sim.Stats()
		if st.Throttled == 0 {
			t.Errorf("the simulator throttled nothing; the test does not test throttling")
		}
		for iid, ch := range e.changes() {
			if ch != 1 {
				t.Errorf("%s changed %d times, want 1", iid, ch)
			}
		}
		if got := e.count(c.changeOp, "200"); got != n {
			t.Errorf("%d accepted %s calls, want %d (one per instance)", got, c.changeOp, n)
		}
		t.Logf("%s: throttled %d times; change calls by status: 200=%d 429=%d", c.typ, st.Throttled,
			e.count(c.changeOp, "200"), e.count(c.changeOp, "429"))
	})
}

// TestServerErrors: with 10 % of answers 5xx, reads succeed, and writes end
// done or in doubt, never sent twice.
func TestServerErrors(t *testing.T) {
	forEachCloud(t, func(t *testing.T, c cloud) {
		e := newEnv(t, c, func(o *sim.Options) { o.ServerErrorRate = 0.1 }, providers.Config{})
		const n = 60
		ids := make([]string, n)
		for i := range n {
			ids[i] = id(5, i)
			e.add(ids[i], oldImage, "stopped")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for range 5 {
			if _, err := e.p.Lookup(ctx, ids); err != nil {
				t.Fatalf("Lookup with 10%% 5xx: %v", err)
			}
		}
		var mu sync.Mutex
		done, doubt := map[string]bool{}, map[string]bool{}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				iid := ids[i]
				sub, err := e.p.Change(ctx, changeReq(c.typ, iid, false))
				if providers.IsInDoubt(err) {
					mu.Lock()
					doubt[iid] = true
					mu.Unlock()
					return
				}
				if err != nil {
					errs[i] = fmt.Errorf("a write ended neither done nor in doubt: %w", err)
					return
				}
				pr, err := follow(ctx, e.p, sub)
				if err != nil || pr.Phase != providers.PhaseDone {
					errs[i] = fmt.Errorf("%s: %+v, %v", iid, pr, err)
					return
				}
				mu.Lock()
				done[iid] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if len(doubt) == 0 {
			t.Errorf("no write in doubt out of %d with 10%% 5xx; the test does not test them", n)
		}
		ch := e.changes()
		for _, iid := range ids {
			switch {
			case ch[iid] > 1:
				t.Errorf("%s changed %d times: a write was sent twice", iid, ch[iid])
			case done[iid] && ch[iid] != 1:
				t.Errorf("%s reported done but changed %d times", iid, ch[iid])
			}
		}
		if got, want := e.count(c.changeOp, ""), n; got != want {
			t.Errorf("%d %s requests for %d instances: a write was retried", got, c.changeOp, want)
		}
		t.Logf("%s: %d done, %d in doubt, %d reads answered 5xx", c.typ, len(done), len(doubt),
			e.count(c.lookupOp, "500")+e.count(c.lookupOp, "503"))
	})
}

// TestPartialBatchFailure: in one coalesced stop batch, the instances the
// cloud refuses fail, and only they.
func TestPartialBatchFailure(t *testing.T) {
	forEachCloud(t, func(t *testing.T, c cloud) {
		e := newEnv(t, c, nil, providers.Config{BatchWindow: 100 * time.Millisecond})
		const n = 10
		for i := range n {
			st := "running"
			if i == 3 {
				st = "stopped" // KEC refuses to stop a stopped instance
			}
			if i != 7 {
				e.add(id(6, i), oldImage, st)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// id(6, 7) is not added: the cloud does not know it.
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { errs[i] = e.p.Stop(ctx, id(6, i)) })
		}
		wg.Wait()
		for i, err := range errs {
			wantFail := i == 7 || (i == 3 && c.typ == "ksyun") // ECS takes a stop of a stopped server
			if (err != nil) != wantFail {
				t.Errorf("Stop %s: %v, want failure %v", id(6, i), err, wantFail)
			}
			if err != nil && providers.IsInDoubt(err) {
				t.Errorf("Stop %s: a refusal reported in doubt: %v", id(6, i), err)
			}
			if err != nil && !strings.Contains(err.Error(), id(6, i)) {
				t.Errorf("error does not name its instance: %v", err)
			}
		}
		for i := range n {
			if i == 3 || i == 7 {
				continue
			}
			if err := waitState(ctx, e.p, id(6, i), providers.StateStopped); err != nil {
				t.Error(err)
			}
		}
	})
}

// TestFailedRebuild: a rebuild that fails surfaces the cloud's reason.
func TestFailedRebuild(t *testing.T) {
	forEachCloud(t, func(t *testing.T, c cloud) {
		bad := id(7, 1)
		e := newEnv(t, c, func(o *sim.Options) { o.FailIDs = []string{bad} }, providers.Config{})
		e.add(bad, oldImage, "running")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		pr, err := reimage(ctx, e.p, changeReq(c.typ, bad, true))
		if err != nil {
			t.Fatal(err)
		}
		if pr.Phase != providers.PhaseFailed || pr.Reason == "" {
			t.Fatalf("progress %+v, want failed with a reason", pr)
		}
		if c.typ == "huaweicloud" && !strings.Contains(pr.Reason, "Failed to rebuild") {
			t.Errorf("reason %q does not carry the job's fail_reason", pr.Reason)
		}
		t.Logf("%s: failed rebuild reason: %s", c.typ, pr.Reason)
	})
}

// TestRefusedChange: a change the cloud refuses is a typed error with the
// cloud's code, HTTP status and request id, not in doubt.
func TestRefusedChange(t *testing.T) {
	forEachCloud(t, func(t *testing.T, c cloud) {
		e := newEnv(t, c, nil, providers.Config{})
		e.add(id(8, 1), oldImage, "running")
		req := changeReq(c.typ, id(8, 1), false) // running, without stopping first
		_, err := e.p.Change(context.Background(), req)
		var apiErr *providers.APIError
		if !errors.As(err, &apiErr) || providers.IsInDoubt(err) {
			t.Fatalf("Change: %v, want an *APIError", err)
		}
		want := "InstanceStateNotSupported"
		if c.typ == "huaweicloud" {
			want = "Ecs.0100"
		}
		if apiErr.Code != want || apiErr.HTTPStatus != 400 || apiErr.RequestID == "" || apiErr.Resource != id(8, 1) {
			t.Errorf("error %+v, want code %s, HTTP 400, a request id and the instance", apiErr, want)
		}
		t.Logf("%s: %v", c.typ, err)
	})
}

// TestWrongSecret: a bad signature is a typed error, not retried, and the
// error does not show the secret.
func TestWrongSecret(t *testing.T) { testBadCredentials(t, false) }

// TestUnknownAccessKey: an unknown access key is a typed error, not retried.
func TestUnknownAccessKey(t *testing.T) { testBadCredentials(t, true) }

func testBadCredentials(t *testing.T, wrongKey bool) {
	forEachCloud(t, func(t *testing.T, c cloud) {
		e := newEnv(t, c, nil, providers.Config{})
		ak, _, _ := e.sim.Options().Credentials(c.typ)
		if wrongKey {
			// Same length and prefix, so that only the key's identity is wrong.
			ak = ak[:len(ak)-4] + "WRNG"
		}
		p, err := c.newClient(t, e.sim, e.url, providers.Config{Name: "bad", AccessKey: ak, SecretKey: "wrong", Retry: fastRetry()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Lookup(context.Background(), []string{id(9, 1)})
		var apiErr *providers.APIError
		if !errors.As(err, &apiErr) || (apiErr.HTTPStatus != 401 && apiErr.HTTPStatus != 403) {
			t.Fatalf("Lookup with a wrong secret: %v", err)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("the error shows the secret: %v", err)
		}
		if got := e.count(c.lookupOp, ""); got != 1 {
			t.Errorf("%d lookup requests, want 1 (an auth error is final)", got)
		}
	})
}

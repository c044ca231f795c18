package ecssim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/sim"
)

// TestLockedServerThroughTheClient: end to end, the ECS client looks up a
// locked server as one reimage does not change (with the lock as its
// reason), and a change submitted after the server was locked is refused
// once with Ecs.0605: not retried, not in doubt, the server untouched.
func TestLockedServerThroughTheClient(t *testing.T) {
	h := newHarness(t)
	h.Clock.Advance(time.Until(h.Clock.Now()) * -1) // the client signs with the real time
	c, err := huaweicloud.New(providers.Config{Name: "ecs", Region: "cn-north-4", Settings: map[string]string{providers.ProjectSetting: testProject}, Endpoint: h.URL,
		AccessKey: testHAK, SecretKey: testHSK, BatchWindow: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	h.Sim.SetOptions(func(o *sim.Options) { o.LockedIDs = []string{ecsStopped} })
	got, err := c.Lookup(ctx, []string{ecsStopped})
	if err != nil {
		t.Fatal(err)
	}
	if in := got[ecsStopped]; in.State != providers.StateUnknown || !strings.Contains(in.Fault, "locked") {
		t.Fatalf("look-up of a locked server: %+v", in)
	}

	before := h.Sim.Stats().Requests["huaweicloud/ChangeServerOsWithoutCloudInit/409"]
	_, err = c.Change(ctx, providers.ChangeRequest{InstanceID: ecsStopped, ImageID: imgECSNew, Password: "Passw0rd!x"})
	if err == nil || providers.ErrorCode(err) != "Ecs.0605" || providers.IsInDoubt(err) {
		t.Fatalf("change of a locked server: %v (code %q, in doubt %v), want Ecs.0605, not in doubt", err, providers.ErrorCode(err), providers.IsInDoubt(err))
	}
	if n := h.Sim.Stats().Requests["huaweicloud/ChangeServerOsWithoutCloudInit/409"] - before; n != 1 {
		t.Fatalf("%d refused changeos requests, want 1 (a lock is no reason to retry)", n)
	}
	if v := h.View(huaweicloud.Type, ecsStopped); v.State != "SHUTOFF" || v.Image != imgOld || v.Changes != 0 {
		t.Fatalf("server touched: %+v", v)
	}
}

package executor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// preflightCloud is a fakeCloud with images, key pairs and a password policy.
type preflightCloud struct {
	*fakeCloud
	images   map[string]providers.Image
	keys     map[string]bool
	calls    int
	policyOK func(string) error
	checked  int
	err      error // every call fails with it
}

func (p *preflightCloud) Images(_ context.Context, ids []string) (map[string]providers.Image, error) {
	p.calls++
	if p.err != nil {
		return nil, p.err
	}
	out := map[string]providers.Image{}
	for _, id := range ids {
		if img, ok := p.images[id]; ok {
			out[id] = img
		}
	}
	return out, nil
}
func (p *preflightCloud) ImagesByName(context.Context, string) ([]providers.Image, error) {
	return nil, nil
}
func (p *preflightCloud) KeyPairs(_ context.Context, keys []string) (map[string]bool, error) {
	p.calls++
	out := map[string]bool{}
	for _, k := range keys {
		out[k] = p.keys[k]
	}
	return out, nil
}
func (p *preflightCloud) CheckPassword(pw string) error {
	p.checked++
	return p.policyOK(pw)
}

// TestPreflightBlocksBadImagesAndKeysAndNamesEachSecretOnce: a missing image,
// an unusable one and a missing key pair block exactly their instances with the
// reason; a password breaking the cloud's policy is one error naming the
// secret, however many instances use it; the cloud is asked in batch, once.
func TestPreflightBlocksBadImagesAndKeysAndNamesEachSecretOnce(t *testing.T) {
	cloud := newFakeCloud(6, true)
	pc := &preflightCloud{fakeCloud: cloud,
		images: map[string]providers.Image{
			"good":   {ID: "good", State: "active", Usable: true, MinDiskGB: 40},
			"killed": {ID: "killed", State: "killed", Usable: false, Reason: `image is in state "killed", not active`},
		},
		keys:     map[string]bool{"kp-ok": true},
		policyOK: func(pw string) error { return errors.New("an ECS password must be 8 to 26 characters long") },
	}
	p := testPlan(cloud, canaryWaves, plan.Size{}, 2)
	weak := &plan.SecretRef{Env: "WEAK_PW"}
	set := func(i int, image string, login plan.Login, opts plan.Options) {
		p.Instances[i].Image = image
		p.Instances[i].Login = login
		p.Instances[i].Options = opts
	}
	set(0, "good", plan.Login{}, testOptions{keys: []string{"kp-ok"}, diskGB: 20})
	set(1, "missing", plan.Login{}, testOptions{keys: []string{"kp-ok"}})
	set(2, "killed", plan.Login{}, testOptions{keys: []string{"kp-ok"}})
	set(3, "good", plan.Login{}, testOptions{keys: []string{"kp-gone"}})
	set(4, "good", plan.Login{Password: weak}, nil)
	set(5, "missing", plan.Login{Password: weak}, nil)

	provs := map[string]providers.Provider{"fake": pc}
	obs, err := Lookup(context.Background(), p, provs, nil)
	if err != nil {
		t.Fatal(err)
	}
	changes := plan.Diff(p, obs, nil)
	res, err := Preflight(context.Background(), provs, changes, func(*plan.SecretRef) (string, error) { return "short", nil })
	if err != nil {
		t.Fatalf("error %v: a password that breaks the policy blocks its instances (DESIGN.md), it is not an error", err)
	}
	if pc.checked != 1 || pc.calls != 2 {
		t.Errorf("policy checked %d times, cloud asked %d times; want 1 and 2 (images, key pairs)", pc.checked, pc.calls)
	}
	want := map[string]string{
		"i-000": "pre-flight: a disk of 20 GB is smaller than target image good needs (40 GB)",
		"i-001": "pre-flight: target image missing does not exist in the region (or this account cannot see it)",
		"i-002": `pre-flight: target image killed cannot be used: image is in state "killed", not active`,
		"i-003": "pre-flight: key pair kp-gone does not exist",
		"i-004": "pre-flight: login password {env: WEAK_PW}: an ECS password must be 8 to 26 characters long",
		"i-005": "pre-flight: target image missing does not exist in the region (or this account cannot see it); login password {env: WEAK_PW}: an ECS password must be 8 to 26 characters long",
	}
	for _, c := range changes {
		w := want[c.Instance.ID]
		if c.Action != plan.ActionBlocked || c.Reason != w || c.StopFirst {
			t.Errorf("%s: %s %q, want blocked %q", c.Instance.ID, c.Action, c.Reason, w)
		}
		if strings.Contains(c.Reason, "short") {
			t.Errorf("%s: the reason shows the password: %q", c.Instance.ID, c.Reason)
		}
	}
	if res.Blocked != 6 || strings.Join(res.BadImages, "|") != `fake killed: cannot be used: image is in state "killed", not active|fake missing: does not exist in the region (or this account cannot see it)` {
		t.Errorf("result %+v", res)
	}
}

// TestPreflightWithoutCapabilities: a provider that cannot be asked is not,
// and its passwords meet the generic policy.
func TestPreflightWithoutCapabilities(t *testing.T) {
	cloud := newFakeCloud(2, false)
	p := testPlan(cloud, canaryWaves, plan.Size{}, 2)
	for _, in := range p.Instances {
		in.Login = plan.Login{Password: &plan.SecretRef{File: "/run/pw"}}
	}
	provs := map[string]providers.Provider{"fake": cloud}
	obs, _ := Lookup(context.Background(), p, provs, nil)
	changes := plan.Diff(p, obs, nil)
	res, err := Preflight(context.Background(), provs, changes, func(*plan.SecretRef) (string, error) { return "alllowercase1", nil })
	if err != nil || res.Blocked != 2 {
		t.Fatalf("error %v, %d blocked; want both blocked by the generic policy", err, res.Blocked)
	}
	for _, c := range changes {
		if c.Action != plan.ActionBlocked || !strings.HasPrefix(c.Reason, "pre-flight: login password {file: /run/pw}: ") {
			t.Errorf("%s: %s %q", c.Instance.ID, c.Action, c.Reason)
		}
	}
}

// TestPreflightErrorNamesTheProviderOnce: a failed pre-flight call is reported
// with the client's own error, which names the cloud, the provider and the
// call, and only the step added: not "provider X: … X: …".
func TestPreflightErrorNamesTheProviderOnce(t *testing.T) {
	cloud := newFakeCloud(1, false)
	p := testPlan(cloud, canaryWaves, plan.Size{}, 1)
	pc := &preflightCloud{fakeCloud: cloud, err: errors.New("fake fake: DescribeImages (1 image): HTTP 503")}
	provs := map[string]providers.Provider{"fake": pc}
	obs, _ := Lookup(context.Background(), p, provs, nil)
	_, err := Preflight(context.Background(), provs, plan.Diff(p, obs, nil), nil)
	if err == nil {
		t.Fatal("no error")
	}
	if got, want := err.Error(), "pre-flight: images: fake fake: DescribeImages (1 image): HTTP 503"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}

// testOptions are a cloud's options as the engine sees them: the key pairs
// a login names and a disk size the target image must fit.
type testOptions struct {
	keys   []string
	diskGB int
}

func (o testOptions) Keys() []string { return o.keys }

func (o testOptions) CheckImage(image string, minDiskGB int) string {
	if o.diskGB > 0 && minDiskGB > o.diskGB {
		return fmt.Sprintf("a disk of %d GB is smaller than target image %s needs (%d GB)", o.diskGB, image, minDiskGB)
	}
	return ""
}

func (o testOptions) SpecParts() (string, string) { return "", "" }

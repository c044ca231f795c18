package sim_test

import (
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/huaweicloud/ecssim"
	"github.com/reimage-dev/reimage/providers/ksyun"
	"github.com/reimage-dev/reimage/providers/ksyun/kecsim"
	"github.com/reimage-dev/reimage/providers/sim"
)

func TestCredentialsByProviderType(t *testing.T) {
	var o sim.Options
	for _, c := range []struct{ typ, ak, sk string }{{ksyun.Type, "AKLTk", "ks"}, {huaweicloud.Type, "HWAK", "hs"}} {
		o.SetCredentials(c.typ, c.ak, c.sk)
	}
	for _, c := range []struct{ typ, ak, sk string }{{ksyun.Type, "AKLTk", "ks"}, {huaweicloud.Type, "HWAK", "hs"}} {
		if ak, sk, ok := o.Credentials(c.typ); !ok || ak != c.ak || sk != c.sk {
			t.Errorf("Credentials(%s) = %q, %q, %v", c.typ, ak, sk, ok)
		}
	}
	if _, _, ok := o.Credentials("aws"); ok {
		t.Error("Credentials(aws) found credentials nobody set")
	}
}

// Credentials nobody set are generated in each front-end's shape, from the
// seed by New and at random by RandomCredentials; set ones are kept.
func TestGeneratedCredentialsPerFrontend(t *testing.T) {
	fronts := []sim.NewFrontend{kecsim.New, ecssim.New}
	var o sim.Options
	o.Frontends = fronts
	o.SetCredentials(huaweicloud.Type, "HWMINE", "mine")
	sim.RandomCredentials(&o)
	if k := o.Keys[ksyun.Type]; !strings.HasPrefix(k.AccessKey, "AKLTsim") || k.SecretKey == "" {
		t.Errorf("random KEC keys %+v", k)
	}
	if k := o.Keys[huaweicloud.Type]; k.AccessKey != "HWMINE" || k.SecretKey != "mine" {
		t.Errorf("set Huawei keys replaced: %+v", k)
	}
	a := sim.New(sim.Options{Seed: 9, Frontends: fronts}).Options()
	b := sim.New(sim.Options{Seed: 9, Frontends: fronts}).Options()
	if a.Keys[huaweicloud.Type] != b.Keys[huaweicloud.Type] || !strings.HasPrefix(a.Keys[huaweicloud.Type].AccessKey, "HWSIM") {
		t.Errorf("seeded Huawei keys %+v and %+v", a.Keys[huaweicloud.Type], b.Keys[huaweicloud.Type])
	}
}

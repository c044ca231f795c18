package sim

import "testing"

func TestCredentialsByProviderType(t *testing.T) {
	var o Options
	for _, c := range []struct{ typ, ak, sk string }{{Ksyun, "AKLTk", "ks"}, {HuaweiCloud, "HWAK", "hs"}} {
		if !o.SetCredentials(c.typ, c.ak, c.sk) {
			t.Fatalf("SetCredentials(%s) refused a simulated cloud", c.typ)
		}
	}
	for _, c := range []struct{ typ, ak, sk string }{{Ksyun, "AKLTk", "ks"}, {HuaweiCloud, "HWAK", "hs"}} {
		if ak, sk, ok := o.Credentials(c.typ); !ok || ak != c.ak || sk != c.sk {
			t.Errorf("Credentials(%s) = %q, %q, %v", c.typ, ak, sk, ok)
		}
	}
	if o.SetCredentials("aws", "a", "s") {
		t.Error("SetCredentials(aws) accepted a cloud the simulator does not simulate")
	}
	if _, _, ok := o.Credentials("aws"); ok {
		t.Error("Credentials(aws) found credentials of a cloud the simulator does not simulate")
	}
}

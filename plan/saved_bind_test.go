package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A fresh change whose action or target differs from the saved one is stale,
// even when the instance looks the same: apply never makes an unreviewed
// change.
func TestSavedPlanStaleWhenActionOrTargetDiffers(t *testing.T) {
	in := &Instance{Provider: "kec", ID: "a", Image: "img", Reinstall: "t1"}
	p := &Plan{Name: "fleet", File: "fleet.yaml", Instances: []*Instance{in}}
	obs := map[string]Observed{Key("kec", "a"): {Found: true, Image: "img", Power: PowerStopped, Raw: "stopped"}}
	saved := NewSaved(p, "sum", Shard{}, Diff(p, obs, nil), time.Now())
	if len(saved.Changes) != 1 || saved.Changes[0].Action != "reinstall" {
		t.Fatalf("saved %+v", saved.Changes)
	}
	tests := []struct {
		name string
		edit func(*Instance) func(provider, id string) History
		want string
	}{
		{"token done elsewhere since: ok, not reinstall", func(*Instance) func(string, string) History {
			return func(string, string) History { return History{DoneToken: "t1"} }
		}, "kec/a: the saved plan would reinstall it, it is now ok"},
		{"reinstall in doubt since: blocked", func(*Instance) func(string, string) History {
			return func(string, string) History { return History{InDoubt: "reinstall in doubt"} }
		}, "kec/a: the saved plan would reinstall it, it is now blocked"},
		{"another login", func(in *Instance) func(string, string) History {
			in.Login.KeyName = "other"
			return nil
		}, "kec/a: what the change submits"},
		{"other user data", func(in *Instance) func(string, string) History {
			in.UserData = &UserData{File: "boot.sh", Base64: "ZWNobyB0d28K"}
			return nil
		}, "kec/a: what the change submits"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fresh := *in
			fp := &Plan{Name: "fleet", Instances: []*Instance{&fresh}}
			hist := tc.edit(&fresh)
			stale := saved.Stale(DiffHistory(fp, obs, hist))
			if len(stale) != 1 || !strings.HasPrefix(stale[0], tc.want) {
				t.Fatalf("stale = %q, want %q", stale, tc.want)
			}
		})
	}
	// A different target image on the same instance.
	fresh := *in
	fresh.Image, fresh.Reinstall = "img2", ""
	stale := saved.Stale(Diff(&Plan{Instances: []*Instance{&fresh}}, obs, nil))
	if len(stale) != 1 || !strings.Contains(stale[0], "the saved plan would reinstall it, it is now change") {
		t.Fatalf("stale = %q", stale)
	}
}

func TestSavedPlanStoresAbsolutePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	p := &Plan{Name: "fleet", File: "fleet.yaml"}
	s := NewSaved(p, "sum", Shard{}, nil, time.Now())
	if s.File != filepath.Join(dir, "fleet.yaml") {
		t.Fatalf("File = %q, want absolute", s.File)
	}
	// An older saved plan's relative path is taken relative to the saved plan.
	s.File = "fleet.yaml"
	if got := s.PlanFile("/srv/plans/fleet.plan"); got != "/srv/plans/fleet.yaml" {
		t.Fatalf("PlanFile = %q", got)
	}
}

// The sum a saved plan binds is that of the bytes parsed, from the one read.
func TestLoadSumsTheBytesParsed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.yaml")
	data := []byte(`version: 1
name: fleet
providers:
  kec: {type: ksyun, region: cn-beijing-6}
instances:
  - {id: 98284100-f6d1-4bbf-886a-1b07650247a1, provider: kec, image: 8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2, login: {keyIds: [552a0523-b9b4-4868-b8d9-52ad7a38bf89]}}
`)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.SHA256 != Sum(data) {
		t.Fatalf("SHA256 = %s, want %s", p.SHA256, Sum(data))
	}
}

func TestSavedPlanStaleEndpoints(t *testing.T) {
	s := &Saved{Endpoints: map[string]string{"kec": "ksyun cn-beijing-6 default"}}
	if st := s.StaleEndpoints(map[string]string{"kec": "ksyun cn-beijing-6 default"}); len(st) != 0 {
		t.Fatalf("same endpoints stale: %v", st)
	}
	st := s.StaleEndpoints(map[string]string{"kec": "ksyun cn-beijing-6 http://127.0.0.1:8080"})
	if len(st) != 1 || !strings.Contains(st[0], "saved for ksyun cn-beijing-6 default, now ksyun cn-beijing-6 http://127.0.0.1:8080") {
		t.Fatalf("stale = %v", st)
	}
}

// TestSpecBindsEverythingTheChangeSubmits: a saved plan is stale when anything
// its change would submit differs, isAutoPay (a prepaid server's order paid at
// once) included.
func TestSpecBindsEverythingTheChangeSubmits(t *testing.T) {
	base := func() *Instance {
		return &Instance{ID: "i-1", Image: "img", Login: Login{KeyName: "k"}}
	}
	for _, tc := range []struct {
		name   string
		change func(*Instance)
	}{
		{"image", func(in *Instance) { in.Image = "other" }},
		{"token", func(in *Instance) { in.Reinstall = "2026-12" }},
		{"byol", func(in *Instance) { in.BYOL = true }},
		{"isAutoPay", func(in *Instance) { in.AutoPay = true }},
		{"key pair", func(in *Instance) { in.Login.KeyName = "other" }},
		{"system disk", func(in *Instance) { in.SystemDisk = &SystemDisk{SizeGB: 40} }},
		{"user data", func(in *Instance) { in.UserData = &UserData{Base64: "aGk="} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.change(in)
			if Spec(in) == Spec(base()) {
				t.Errorf("a change of %s leaves the spec as it was", tc.name)
			}
		})
	}
}

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
			in.Login.Password = &SecretRef{Env: "OTHER"}
			return nil
		}, "kec/a: what the change submits"},
		{"other cloud options", func(in *Instance) func(string, string) History {
			in.Options = testOptions{after: "\x00userdata=other"}
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
// its change would submit differs, the cloud's options (isAutoPay, a prepaid
// server's order paid at once, included) as well.
func TestSpecBindsEverythingTheChangeSubmits(t *testing.T) {
	const plan = `version: 1
name: spec
providers:
  kec: {type: ksyun, region: cn-beijing-6}
  ecs: {type: huaweicloud, region: cn-north-4, projectId: 0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e}
defaults: {image: 11111111-f6d1-4bbf-886a-1b0765024738}
instances:
  - id: 98284100-f6d1-4bbf-886a-1b0765024731
`
	specOf := func(t *testing.T, fields string) string {
		t.Helper()
		p, err := Parse("p.yaml", []byte(plan+fields))
		if err != nil {
			t.Fatal(err)
		}
		return Spec(p.Instances[0])
	}
	for _, tc := range []struct{ name, base, changed string }{
		{"image", "    provider: ecs\n    login: {keyName: k}\n", "    provider: ecs\n    login: {keyName: k}\n    image: 22222222-f6d1-4bbf-886a-1b0765024738\n"},
		{"token", "    provider: ecs\n    login: {keyName: k}\n", "    provider: ecs\n    login: {keyName: k}\n    reinstall: 2026-12\n"},
		{"byol", "    provider: ecs\n    login: {keyName: k}\n", "    provider: ecs\n    login: {keyName: k}\n    byol: true\n"},
		{"isAutoPay", "    provider: ecs\n    login: {keyName: k}\n", "    provider: ecs\n    login: {keyName: k}\n    isAutoPay: true\n"},
		{"key pair", "    provider: ecs\n    login: {keyName: k}\n", "    provider: ecs\n    login: {keyName: other}\n"},
		{"password reference", "    provider: ecs\n    login: {password: {env: A}}\n", "    provider: ecs\n    login: {password: {env: B}}\n"},
		{"key ids", "    provider: kec\n    login: {keyIds: [22222222-f6d1-4bbf-886a-1b0765024738]}\n", "    provider: kec\n    login: {keyIds: [33333333-f6d1-4bbf-886a-1b0765024738]}\n"},
		{"system disk", "    provider: kec\n    login: {keepImageLogin: true}\n", "    provider: kec\n    login: {keepImageLogin: true}\n    systemDisk: {sizeGB: 40}\n"},
		{"user data", "    provider: kec\n    login: {keepImageLogin: true}\n", "    provider: kec\n    login: {keepImageLogin: true}\n    userData: {base64: aGk=}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if specOf(t, tc.changed) == specOf(t, tc.base) {
				t.Errorf("a change of %s leaves the spec as it was", tc.name)
			}
		})
	}
}

// TestSpecUnchangedSinceOptionsMovedToDrivers: the spec of each kind of
// instance is byte for byte what it was when the clouds' fields were the
// plan's (the sums below were printed by that code), so that plans saved
// before still apply.
func TestSpecUnchangedSinceOptionsMovedToDrivers(t *testing.T) {
	p, err := Parse("spec.yaml", []byte(`version: 1
name: spec
providers:
  kec:
    type: ksyun
    region: cn-beijing-6
  ecs:
    type: huaweicloud
    region: cn-north-4
    projectId: 0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e
instances:
  - id: 98284100-f6d1-4bbf-886a-1b0765024731
    provider: kec
    image: 11111111-f6d1-4bbf-886a-1b0765024738
    login: {password: {env: PW}}
  - id: 98284100-f6d1-4bbf-886a-1b0765024732
    provider: kec
    image: 11111111-f6d1-4bbf-886a-1b0765024738
    login: {keyIds: [22222222-f6d1-4bbf-886a-1b0765024738, 33333333-f6d1-4bbf-886a-1b0765024738]}
    systemDisk: {sizeGB: 40, type: SSD3.0, resize: online}
    userData: {base64: aGk=}
    reinstall: "2026-11"
  - id: 98284100-f6d1-4bbf-886a-1b0765024733
    provider: kec
    image: 11111111-f6d1-4bbf-886a-1b0765024738
    login: {keepImageLogin: true}
    running: skip
  - id: 98284100-f6d1-4bbf-886a-1b0765024734
    provider: ecs
    image: 11111111-f6d1-4bbf-886a-1b0765024738
    login: {keyName: kp, userId: 7e25b1da389f4697a79df3a0e5bd494e}
    byol: true
    isAutoPay: true
  - id: 98284100-f6d1-4bbf-886a-1b0765024735
    provider: ecs
    image: 11111111-f6d1-4bbf-886a-1b0765024738
    login: {password: {file: pw.txt}}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"98284100-f6d1-4bbf-886a-1b0765024731": "f369ae78e50a0f8a866fff8c76fa4fb8",
		"98284100-f6d1-4bbf-886a-1b0765024732": "6262a601b156f1546d4cc62917c378ce",
		"98284100-f6d1-4bbf-886a-1b0765024733": "7f1c9cb6a2fb1323c0b8ea7d7c76f8c7",
		"98284100-f6d1-4bbf-886a-1b0765024734": "ec385c4b4d823a09d0255fd0cb201f96",
		"98284100-f6d1-4bbf-886a-1b0765024735": "bb07d0ea0d8cd61835d0fb290a2e3d0e",
	}
	for _, in := range p.Instances {
		if got := Spec(in); got != want[in.ID] {
			t.Errorf("instance %s: spec %s, want %s", in.ID, got, want[in.ID])
		}
	}
}

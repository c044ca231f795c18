package plan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const basePlan = `version: 1
name: web
providers:
  kec-bj:
    type: ksyun
    region: cn-beijing-6
  ecs-n4:
    type: huaweicloud
    region: cn-north-4
    projectId: 0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e
defaults:
  provider: kec-bj
  image: 8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2
  login: {keyIds: [552a0523-b9b4-4868-b8d9-52ad7a38bf89]}
`

func TestLoadExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Instances) == 0 {
				t.Fatal("no instances")
			}
			for _, inst := range p.Instances {
				if inst.Provider == "" || inst.Image == "" && inst.ImageByName == nil || inst.Line == 0 || inst.Col == 0 {
					t.Errorf("incomplete instance %+v", inst)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	p, err := Parse("p.yaml", []byte(basePlan+`instances:
  - id: 98284100-f6d1-4bbf-886a-1b0765024738
  - id: e0a4c9d2-7b1f-4e35-9a6c-2d8f0b3e5a01
    provider: ecs-n4
    image: e215580f-73ad-429d-b6f2-5433947433b0
    login: {keyName: kp, userId: 7e25b1da389f4697a79df3a0e5bd494e}
    running: skip
    byol: true
`))
	if err != nil {
		t.Fatal(err)
	}
	r := p.Rollout
	if r.Concurrency != 10 || r.InstanceTimeout != 30*time.Minute || r.MaxFailures != (Size{}) {
		t.Errorf("rollout defaults: %+v", r)
	}
	if len(r.Waves) != 2 || r.Waves[0].Size != (Size{Count: 1}) || r.Waves[1].Size != (Size{Percent: 100, IsPercent: true}) {
		t.Errorf("default waves: %+v", r.Waves)
	}
	for name, pr := range p.Providers {
		if pr.Limits.RequestsPerSecond != 10 || pr.Limits.Burst != 8 || pr.Name != name {
			t.Errorf("provider %s: %+v", name, pr)
		}
	}
	kec, ecs := p.Instances[0], p.Instances[1]
	if kec.Provider != "kec-bj" || kec.Image != "8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2" || kec.Running != RunningStop ||
		optionsJSON(kec) != `{"KeyIDs":["552a0523-b9b4-4868-b8d9-52ad7a38bf89"],"KeepImageLogin":false,"SystemDisk":null,"UserData":null}` ||
		kec.Line != 16 || kec.Col != 5 {
		t.Errorf("kec instance: %+v %s", kec, optionsJSON(kec))
	}
	if ecs.Provider != "ecs-n4" || optionsJSON(ecs) != `{"KeyName":"kp","UserID":"7e25b1da389f4697a79df3a0e5bd494e","BYOL":true,"AutoPay":false}` ||
		ecs.Running != RunningSkip || ecs.Line != 17 {
		t.Errorf("ecs instance: %+v %s", ecs, optionsJSON(ecs))
	}
	if got := p.Summary(); got["kec-bj"] != 1 || got["ecs-n4"] != 1 {
		t.Errorf("summary: %v", got)
	}
}

func TestRolloutAndLimits(t *testing.T) {
	src := strings.Replace(basePlan, "    region: cn-beijing-6\n", "    region: cn-beijing-6\n    limits: {requestsPerSecond: 2.5}\n", 1) + `rollout:
  concurrency: 3
  waves: [1, "10%", {size: 5, pause: 90s}]
  maxFailures: "5%"
  instanceTimeout: 1h
instances:
  - id: 98284100-f6d1-4bbf-886a-1b0765024738
`
	p, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if l := p.Providers["kec-bj"].Limits; l.RequestsPerSecond != 2.5 || l.Burst != 2 {
		t.Errorf("limits: %+v", l)
	}
	want := []Wave{{Size: Size{Count: 1}}, {Size: Size{Percent: 10, IsPercent: true}}, {Size: Size{Count: 5}, Pause: 90 * time.Second}}
	if len(p.Rollout.Waves) != 3 {
		t.Fatalf("waves: %+v", p.Rollout.Waves)
	}
	for i, w := range want {
		if p.Rollout.Waves[i] != w {
			t.Errorf("wave %d: got %+v, want %+v", i, p.Rollout.Waves[i], w)
		}
	}
	if r := p.Rollout; r.Concurrency != 3 || r.MaxFailures != (Size{Percent: 5, IsPercent: true}) || r.InstanceTimeout != time.Hour {
		t.Errorf("rollout: %+v", r)
	}
}

func TestUserDataFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "init.sh"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plan := filepath.Join(dir, "plan.yaml")
	src := basePlan + "  userData: {file: init.sh}\ninstances:\n  - id: 98284100-f6d1-4bbf-886a-1b0765024738\n  - id: 1a2b3c4d-0000-4000-8000-000000000002\n    userData: {base64: aGk=}\n"
	if err := os.WriteFile(plan, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(plan)
	if err != nil {
		t.Fatal(err)
	}
	if ud := optionsJSON(p.Instances[0]); !strings.Contains(ud, `"UserData":{"File":"init.sh","Base64":"IyEvYmluL3NoCg=="}`) {
		t.Errorf("file user data: %s", ud)
	}
	if ud := optionsJSON(p.Instances[1]); !strings.Contains(ud, `"UserData":{"File":"","Base64":"aGk="}`) {
		t.Errorf("base64 user data: %s", ud)
	}
}

// TestInvalid checks that each kind of problem is reported at the right place. The wording is
// covered by the golden files of testdata/script/validate_*.txtar.
func TestInvalid(t *testing.T) {
	id := "  - id: 98284100-f6d1-4bbf-886a-1b0765024738\n"
	tests := []struct {
		name, src string
		want      []string // "LINE:COL: PATH: substring"
	}{
		{"empty", "", []string{"1:1: : the plan is empty"}},
		{"null", "~\n", []string{"1:1: : the plan is empty"}},
		{"list", "- 1\n", []string{"1:1: : the plan must be a mapping"}},
		{"syntax", "a: [\n", []string{": : YAML syntax error"}},
		{"tab", "a:\n\tb: 1\n", []string{"2:1: : tab character"}},
		{"utf8", "a: \xff\n", []string{"1:4: : the plan is not valid UTF-8"}},
		{"duplicate", "version: 1\nversion: 1\n", []string{"2:1: version: duplicate key"}},
		{"unknown field", basePlan + "instances:\n" + id + "    imgae: x\n", []string{"17:5: instances[0].imgae: unknown field \"imgae\"; did you mean \"image\"?"}},
		{"two forms", basePlan + "instances:\n" + id + "    login: {password: {env: P}, keyIds: [552a0523-b9b4-4868-b8d9-52ad7a38bf89]}\n",
			[]string{"17:12: instances[0].login: exactly one login form is allowed, found password and keyIds"}},
		{"wrong cloud", basePlan + "instances:\n" + id + "    byol: true\n", []string{"17:5: instances[0].byol: only huaweicloud"}},
		{"duplicate id", basePlan + "instances:\n" + id + id, []string{"17:9: instances[1].id: instance 98284100-f6d1-4bbf-886a-1b0765024738 is listed twice"}},
		{"unknown provider", basePlan + "instances:\n" + id + "    provider: kec-bk\n", []string{"17:15: instances[0].provider: unknown provider \"kec-bk\"; did you mean \"kec-bj\"?"}},
		{"http endpoint", strings.Replace(basePlan, "region: cn-north-4", "region: cn-north-4\n    endpoint: http://10.0.0.1", 1) + "instances:\n" + id,
			[]string{"10:15: providers.ecs-n4.endpoint: plain http is allowed only to a loopback address"}},
		{"zero timeout", basePlan + "rollout: {instanceTimeout: 0s}\ninstances:\n" + id, []string{"15:28: rollout.instanceTimeout: must be longer than 0"}},
		{"merge key", "a: &a {b: 1}\nc:\n  <<: *a\n", []string{"3:3: c: merge keys"}},
		{"big user data", basePlan + "instances:\n" + id + "    userData: {base64: " + strings.Repeat("QUFB", 5462) + "}\n",
			[]string{"17:24: instances[0].userData.base64: user data is 16386 bytes decoded"}},
		{"nesting", "a: " + strings.Repeat("[", 300) + strings.Repeat("]", 300) + "\n", []string{"1:1: : the plan nests more than 200 levels"}},
		{"deep mapping", "a:" + strings.Repeat(" {a:", 250) + " 1" + strings.Repeat("}", 250) + "\n", []string{"1:1: : the plan nests more than 200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.src))
			var d *Diagnostics
			if !errors.As(err, &d) {
				t.Fatalf("want *Diagnostics, got %v", err)
			}
			for _, w := range tt.want {
				// w is "LINE:COL: PATH: start of message"; an empty PATH is written as ": ".
				found := false
				for _, x := range d.List {
					g := fmt.Sprintf("%d:%d: %s: %s", x.Line, x.Col, x.Path, x.Message)
					if strings.HasPrefix(g, w) || (strings.HasPrefix(w, ": : ") && strings.Contains(x.Message, w[4:])) {
						found = true
					}
				}
				if !found {
					t.Errorf("want %q in\n%v", w, d)
				}
			}
		})
	}
}

func TestDiagnosticsSortedAndDeduplicated(t *testing.T) {
	d := &Diagnostics{}
	d.add("f", 3, 1, "b", "x")
	d.add("f", 1, 5, "a", "y")
	d.add("f", 3, 1, "b", "x")
	d.add("f", 1, 2, "", "z")
	err := d.err()
	want := "f:1:2: z\nf:1:5: a: y\nf:3:1: b: x"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	if (&Diagnostics{}).err() != nil {
		t.Error("empty diagnostics must be no error")
	}
}

// TestAliasBombRefused checks the refusal itself; that it is fast is shown by FuzzLoad's seeds
// and the benchmark, not timed here.
func TestAliasBombRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 30; i++ {
		b.WriteString("a" + itoa(i) + ": &a" + itoa(i) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + itoa(i-1))
		}
		b.WriteString("]\n")
	}
	_, err := Parse("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "alias bomb") {
		t.Fatalf("got %v", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestAliasesAllowed(t *testing.T) {
	src := basePlan + "instances:\n  - id: 98284100-f6d1-4bbf-886a-1b0765024738\n    login: &l {password: {env: PW}}\n  - id: 1a2b3c4d-0000-4000-8000-000000000002\n    login: *l\n"
	p, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if p.Instances[1].Login.Password == nil || p.Instances[1].Login.Password.Env != "PW" {
		t.Errorf("alias not followed: %+v", p.Instances[1].Login)
	}
}

func TestLoadTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = Load(path)
	var d *Diagnostics
	if !errors.As(err, &d) || !strings.Contains(err.Error(), "larger than 64 MiB") {
		t.Fatalf("got %v", err)
	}
	if _, err := Parse("x", make([]byte, MaxFileSize+1)); err == nil || !strings.Contains(err.Error(), "larger than 64 MiB") {
		t.Fatalf("Parse: got %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
}

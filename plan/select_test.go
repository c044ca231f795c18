package plan

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeCatalog answers selectors from a fixed fleet per provider and image
// names from a fixed table, filtering like a cloud's Lister, and counts calls.
type fakeCatalog struct {
	fleet  map[string][]fakeServer // provider -> servers
	images map[string][]string     // provider + "/" + name -> ids
	lists  atomic.Int32            // List may be called for several selectors at once
	names  int
	err    error
}

type fakeServer struct {
	id, name, zone string
	tags           map[string]string
}

func (c *fakeCatalog) List(_ context.Context, provider string, s *Selector) ([]Found, error) {
	c.lists.Add(1)
	if c.err != nil {
		return nil, c.err
	}
	var out []Found
	for _, sv := range c.fleet[provider] {
		if s.Where.Name != "" && !MatchName(s.Where.Name, sv.name) {
			continue
		}
		if s.Where.Zone != "" && s.Where.Zone != sv.zone {
			continue
		}
		ok := true
		for k, v := range s.Where.Tags {
			if got, has := sv.tags[k]; !has || got != v {
				ok = false
			}
		}
		if ok {
			out = append(out, Found{ID: sv.id, Name: sv.name})
		}
	}
	return out, nil
}

func (c *fakeCatalog) ImagesByName(_ context.Context, provider, name string) ([]string, error) {
	c.names++
	return c.images[provider+"/"+name], nil
}

const (
	idA    = "98284100-f6d1-4bbf-886a-1b0765024738"
	idB    = "e0a4c9d2-7b1f-4e35-9a6c-2d8f0b3e5a01"
	idC    = "e0a4c9d2-7b1f-4e35-9a6c-2d8f0b3e5a02"
	idD    = "e0a4c9d2-7b1f-4e35-9a6c-2d8f0b3e5a03"
	imgOld = "11111111-1111-4111-8111-111111111111"
	imgNew = "22222222-2222-4222-8222-222222222222"
)

func testFleet() *fakeCatalog {
	return &fakeCatalog{
		fleet: map[string][]fakeServer{
			"kec-bj": {
				{id: idB, name: "web-02", zone: "cn-beijing-6a", tags: map[string]string{"role": "web", "env": "prod"}},
				{id: idA, name: "web-01", zone: "cn-beijing-6b", tags: map[string]string{"role": "web", "env": "prod"}},
				{id: idC, name: "db-01", zone: "cn-beijing-6a", tags: map[string]string{"role": "db", "env": "prod"}},
			},
			"ecs-n4": {
				{id: idD, name: "web-03", zone: "cn-north-4a", tags: map[string]string{"role": "web"}},
			},
		},
		images: map[string][]string{
			"kec-bj/CentOS 7.9 64-bit 2026-11": {imgNew},
			"kec-bj/dup":                       {imgNew, imgOld},
			"ecs-n4/Ubuntu 22.04":              {imgOld},
		},
	}
}

func mustParse(t *testing.T, src string) *Plan {
	t.Helper()
	p, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ids(p *Plan) []string {
	var out []string
	for _, in := range p.Instances {
		s := in.Provider + " " + in.ID + " " + in.Name + " " + in.Image
		if in.SelectedBy != "" {
			s += " " + in.SelectedBy
		}
		out = append(out, s)
	}
	return out
}

func TestResolveSelectors(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		want   []string
		errors string // the diagnostics, one a line; empty: no error
	}{
		{
			name: "by tag, sorted by name, after explicit entries",
			src: basePlan + `select:
  - where: {tags: {role: web}}
    image: ` + imgNew + `
instances:
  - id: ` + idC + `
`,
			want: []string{
				"kec-bj " + idC + "  8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2",
				"kec-bj " + idA + " web-01 " + imgNew + " select[0]",
				"kec-bj " + idB + " web-02 " + imgNew + " select[0]",
			},
		},
		{
			name: "explicit entry wins over a selected one",
			src: basePlan + `select:
  - where: {name: "web-*"}
instances:
  - id: ` + idA + `
    image: ` + imgOld + `
`,
			want: []string{
				"kec-bj " + idA + "  " + imgOld,
				"kec-bj " + idB + " web-02 8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2 select[0]",
			},
		},
		{
			name: "name and zone on the other cloud with its provider defaults",
			src: `version: 1
name: web
providers:
  ecs-n4:
    type: huaweicloud
    region: cn-north-4
    projectId: 0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e
    defaults: {image: {name: "Ubuntu 22.04"}, login: {keyName: kp}}
select:
  - where: {name: "web-*", zone: cn-north-4a}
`,
			want: []string{"ecs-n4 " + idD + " web-03 " + imgOld + " select[0]"},
		},
		{
			name: "a selector matching nothing names its position",
			src: basePlan + `select:
  - where: {tags: {role: web}}
  - where: {tags: {role: cache}, zone: cn-beijing-6a}
`,
			errors: `p.yaml:17:5: select[1]: matches no instance of provider "kec-bj" (tags role=cache, zone cn-beijing-6a)`,
		},
		{
			name: "an instance two selectors match",
			src: basePlan + `select:
  - where: {tags: {role: web}}
  - where: {name: "web-0[2-9]"}
`,
			errors: `p.yaml:17:5: select[1]: instance web-02 (` + idB + `) also matches select[0] (line 16); narrow the selectors' where, or list the instance under instances`,
		},
		{
			name: "image by name, missing and ambiguous",
			src: basePlan + `instances:
  - id: ` + idA + `
    image: {name: "CentOS 7.9 64-bit 2026-11"}
  - id: ` + idB + `
    image: {name: "CentOS 8"}
  - id: ` + idC + `
    image: {name: dup}
`,
			errors: `p.yaml:19:13: instances[1].image.name: no image named "CentOS 8" in provider "kec-bj"
p.yaml:21:13: instances[2].image.name: 2 images are named "dup" in provider "kec-bj" (` + imgOld + `, ` + imgNew + `); give the id instead`,
		},
		{
			name: "image by name from defaults is looked up once",
			src: strings.Replace(basePlan, "image: 8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2", `image: {name: "CentOS 7.9 64-bit 2026-11"}`, 1) + `instances:
  - id: ` + idA + `
  - id: ` + idB + `
`,
			want: []string{"kec-bj " + idA + "  " + imgNew, "kec-bj " + idB + "  " + imgNew},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.src)
			c := testFleet()
			err := p.Resolve(context.Background(), c)
			if tt.errors != "" {
				var d *Diagnostics
				if !errors.As(err, &d) {
					t.Fatalf("got %v, want diagnostics", err)
				}
				if got := d.Error(); got != tt.errors {
					t.Fatalf("got\n%s\nwant\n%s", got, tt.errors)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(ids(p), "\n"); got != strings.Join(tt.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", got, strings.Join(tt.want, "\n"))
			}
			if c.names > 1 {
				t.Errorf("%d image look-ups, want at most 1", c.names)
			}
		})
	}
}

func TestResolveCatalogErrorIsWrapped(t *testing.T) {
	p := mustParse(t, basePlan+"select:\n  - where: {zone: z}\n")
	boom := errors.New("boom")
	err := p.Resolve(context.Background(), &fakeCatalog{err: boom})
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "select[0]: ") {
		t.Fatalf("got %v", err)
	}
}

func TestSelectAndProviderDefaultsDecode(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"neither instances nor select", basePlan, "p.yaml:1:1: no instances: list them under instances, choose them with select, or both"},
		{"where is required and not empty", basePlan + "select:\n  - image: " + imgNew + "\n  - where: {}\n",
			"p.yaml:16:5: select[0]: missing required field \"where\"\np.yaml:17:12: select[1].where: must be a mapping with tags, name or zone, found an empty mapping"},
		{"id is not a selector field", basePlan + "select:\n  - where: {zone: z}\n    id: " + idA + "\n",
			`p.yaml:17:5: select[0].id: unknown field "id"`},
		{"bad glob", basePlan + "select:\n  - where: {name: \"web-[\"}\n",
			`p.yaml:16:13: select[0].where.name: not a valid glob "web-[": syntax error in pattern (globs take * ? [a-z] and \ to escape)`},
		{"provider defaults field of the other cloud", `version: 1
name: web
providers:
  ecs-n4:
    type: huaweicloud
    region: cn-north-4
    projectId: 0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e
    defaults:
      image: ` + imgNew + `
      systemDisk: {sizeGB: 40}
      login: {keyIds: [552a0523-b9b4-4868-b8d9-52ad7a38bf89]}
instances:
  - id: ` + idA + `
`, `p.yaml:10:7: providers.ecs-n4.defaults.systemDisk: only ksyun providers take systemDisk; provider "ecs-n4" is huaweicloud
p.yaml:11:15: providers.ecs-n4.defaults.login.keyIds: only ksyun providers take keyIds; provider "ecs-n4" is huaweicloud (use keyName or password)`},
		{"provider is not a provider default", `version: 1
name: web
providers:
  kec-bj:
    type: ksyun
    region: cn-beijing-6
    defaults: {provider: kec-bj}
instances:
  - id: ` + idA + `
    image: ` + imgNew + `
    login: {keepImageLogin: true}
`, `p.yaml:7:16: providers.kec-bj.defaults.provider: unknown field "provider"`},
		{"image name must not be empty", basePlan + "instances:\n  - id: " + idA + "\n    image: {name: \"\"}\n",
			`p.yaml:17:19: instances[0].image.name: must not be empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.src))
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestProviderDefaultsMergeOrder(t *testing.T) {
	p := mustParse(t, `version: 1
name: web
providers:
  kec-bj:
    type: ksyun
    region: cn-beijing-6
    defaults: {image: `+imgNew+`, running: skip}
  ecs-n4:
    type: huaweicloud
    region: cn-north-4
    projectId: 0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e
    defaults: {login: {keyName: kp}}
defaults:
  image: `+imgOld+`
  login: {keepImageLogin: true}
instances:
  - {id: `+idA+`, provider: kec-bj}
  - {id: `+idB+`, provider: kec-bj, image: `+imgOld+`}
  - {id: `+idC+`, provider: ecs-n4}
`)
	a, b, c := p.Instances[0], p.Instances[1], p.Instances[2]
	if a.Image != imgNew || a.Running != RunningSkip || !strings.Contains(optionsJSON(a), `"KeepImageLogin":true`) {
		t.Errorf("kec instance from provider defaults: %+v %s", a, optionsJSON(a))
	}
	if b.Image != imgOld {
		t.Errorf("the instance's own image must win: %s", b.Image)
	}
	if c.Image != imgOld || optionsJSON(c) != `{"KeyName":"kp","UserID":"","BYOL":false,"AutoPay":false}` || c.Running != RunningStop {
		t.Errorf("ecs instance: %+v %s", c, optionsJSON(c))
	}
}

func TestTarget(t *testing.T) {
	p := mustParse(t, basePlan+`instances:
  - {id: `+idA+`, name: web-01}
  - {id: `+idB+`, name: web-02}
  - {id: `+idC+`, name: db-01}
`)
	tests := []struct {
		name string
		t    Targeting
		want int
		err  string
	}{
		{"none", Targeting{}, 3, ""},
		{"by name", Targeting{Include: []string{"web-*"}}, 2, ""},
		{"by id", Targeting{Include: []string{idC}}, 1, ""},
		{"by id prefix and exclude by name", Targeting{Include: []string{"e0a4c9d2-*"}, Exclude: []string{"db-*"}}, 1, ""},
		{"exclude only", Targeting{Exclude: []string{"web-01"}}, 2, ""},
		{"target matching nothing", Targeting{Include: []string{"web-*", "cache-*"}}, 0, `-target "cache-*" matches no instance of the plan (by id or name)`},
		{"bad pattern", Targeting{Exclude: []string{"[x"}}, 0, `-exclude "[x": syntax error in pattern (globs take * ? [a-z] and \ to escape)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := p.Target(tt.t)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("got %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(q.Instances) != tt.want {
				t.Fatalf("kept %d, want %d", len(q.Instances), tt.want)
			}
			if q.Name != p.Name || len(p.Instances) != 3 {
				t.Fatal("Target must copy the plan and keep its name")
			}
		})
	}
}

// TestFrozenResolutionReplays: a saved plan resolves to the same instances and
// image ids as the plan it was made from, without asking the clouds, even when
// the fleet has changed since.
func TestFrozenResolutionReplays(t *testing.T) {
	src := strings.Replace(basePlan, "image: 8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2", `image: {name: "CentOS 7.9 64-bit 2026-11"}`, 1) + `select:
  - where: {tags: {role: web}}
instances:
  - id: ` + idA + `
    protect: true
`
	p := mustParse(t, src)
	if err := p.Resolve(context.Background(), testFleet()); err != nil {
		t.Fatal(err)
	}
	s := NewSaved(p, "sum", Shard{}, nil, time.Unix(0, 0))
	s.FreezeResolution(p)
	dir := t.TempDir()
	if err := s.Write(filepath.Join(dir, "p.plan")); err != nil {
		t.Fatal(err)
	}
	back, err := ReadSaved(filepath.Join(dir, "p.plan"))
	if err != nil {
		t.Fatal(err)
	}
	q := mustParse(t, src)
	c := testFleet()
	c.fleet["kec-bj"] = append(c.fleet["kec-bj"], fakeServer{id: idD, name: "web-09", tags: map[string]string{"role": "web"}})
	c.images["kec-bj/CentOS 7.9 64-bit 2026-11"] = []string{imgOld}
	if err := q.Resolve(context.Background(), back.Frozen.Catalog()); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(ids(q), "\n"), strings.Join(ids(p), "\n"); got != want {
		t.Fatalf("replayed\n%s\nwant\n%s", got, want)
	}
	// A saved plan that froze nothing for a selector refuses rather than lists.
	q = mustParse(t, strings.Replace(src, "select:\n", "select:\n  - where: {zone: z}\n", 1))
	if err := q.Resolve(context.Background(), back.Frozen.Catalog()); err == nil || !strings.Contains(err.Error(), "the saved plan has no instances for select[1]") {
		t.Fatalf("got %v", err)
	}
}

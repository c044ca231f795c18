package plan

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// twoAccountsPlan has two provider entries of one cloud (another account, another
// region): an instance id is a UUID unique within the cloud, so one id under
// both is one server.
const twoAccountsPlan = `version: 1
name: web
providers:
  kec-bj:
    type: ksyun
    region: cn-beijing-6
  kec-ops:
    type: ksyun
    region: cn-shanghai-2
  ecs-n4:
    type: huaweicloud
    region: cn-north-4
    projectId: 0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e
defaults:
  provider: kec-bj
  image: 8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2
  login: {keyIds: [552a0523-b9b4-4868-b8d9-52ad7a38bf89]}
`

// The same instance reached through two provider entries of one cloud, by a
// selector: refused at the selector's position, naming both entries; under one
// entry an explicit entry wins, as before.
func TestResolveSameInstanceUnderTwoProviders(t *testing.T) {
	both := &fakeCatalog{fleet: map[string][]fakeServer{
		"kec-bj":  {{id: idA, name: "web-01", tags: map[string]string{"role": "web"}}},
		"kec-ops": {{id: idA, name: "web-01", tags: map[string]string{"role": "web"}}, {id: idB, name: "web-02", tags: map[string]string{"role": "web"}}},
		// Another cloud: an equal id there is another server.
		"ecs-n4": {{id: idA, name: "web-01", tags: map[string]string{"role": "web"}}},
	}}
	tests := []struct {
		name   string
		src    string
		want   []string
		errors string
	}{
		{
			name: "selected under another entry than the explicit one",
			src: twoAccountsPlan + `instances:
  - id: ` + idA + `
select:
  - provider: kec-ops
    where: {tags: {role: web}}
`,
			errors: `p.yaml:21:5: select[0]: instance web-01 (` + idA + `) of provider "kec-ops" is also instances[0] (line 19) of provider "kec-bj": both are ksyun, where an instance id names one server, so both would re-image it`,
		},
		{
			name: "selected under two entries",
			src: twoAccountsPlan + `select:
  - where: {tags: {role: web}}
  - provider: kec-ops
    where: {name: "web-01"}
`,
			errors: `p.yaml:20:5: select[1]: instance web-01 (` + idA + `) of provider "kec-ops" is also select[0] (line 19) of provider "kec-bj": both are ksyun, where an instance id names one server, so both would re-image it`,
		},
		{
			name: "explicit under the selector's own entry wins",
			src: twoAccountsPlan + `instances:
  - id: ` + idA + `
    provider: kec-ops
select:
  - provider: kec-ops
    where: {tags: {role: web}}
`,
			want: []string{
				"kec-ops " + idA + "  8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2",
				"kec-ops " + idB + " web-02 8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2 select[0]",
			},
		},
		{
			name: "an equal id on another cloud is another server",
			src: twoAccountsPlan + `instances:
  - id: ` + idA + `
select:
  - provider: ecs-n4
    where: {tags: {role: web}}
    image: e215580f-73ad-429d-b6f2-5433947433b0
    login: {keyName: kp}
`,
			want: []string{
				"kec-bj " + idA + "  8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2",
				"ecs-n4 " + idA + " web-01 e215580f-73ad-429d-b6f2-5433947433b0 select[0]",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.src)
			err := p.Resolve(context.Background(), both)
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
		})
	}
}

// Explicit entries: one id under two entries of one cloud is refused whatever
// their regions (or accounts, endpoints); on two clouds it is two servers.
func TestLoadSameInstanceUnderTwoProviders(t *testing.T) {
	tests := []struct {
		name   string
		extra  string
		errors string
	}{
		{
			name: "another region of the same cloud",
			extra: `  - id: ` + idA + `
    provider: kec-ops
`,
			errors: `p.yaml:20:9: instances[1].id: instance ` + idA + ` of provider "kec-ops" is also instances[0] (line 19) of provider "kec-bj": both are ksyun, where an instance id names one server, so both would re-image it`,
		},
		{
			name: "another cloud",
			extra: `  - id: ` + idA + `
    provider: ecs-n4
    image: e215580f-73ad-429d-b6f2-5433947433b0
    login: {keyName: kp}
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(twoAccountsPlan+"instances:\n  - id: "+idA+"\n"+tt.extra))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.errors {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.errors)
			}
		})
	}
}

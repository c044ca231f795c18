package main

import (
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/ksyun"
)

// TestDiscoveredPlanReadsBack: whatever names the cloud gives, the printed
// plan loads, keeps every name and id, and targets each instance's current
// image (so that its plan changes nothing).
func TestDiscoveredPlanReadsBack(t *testing.T) {
	const (
		imgA = "11111111-1111-4111-8111-111111111111"
		imgB = "22222222-2222-4222-8222-222222222222"
	)
	names := []string{"web-01", "123", "yes", "2026-11-01", "a: b", "- x", "#c", "new\nline", `q"uote\`, "", "日本", "0x1f", "1e3", "null", "~"}
	var found []providers.Instance
	for i, n := range names {
		img := imgA
		if i%4 == 0 {
			img = imgB
		}
		found = append(found, providers.Instance{ID: "e0a4c9d2-7b1f-4e35-9a6c-2d8f0b3e5a" + string(rune('a'+i/10)) + string(rune('0'+i%10)), Name: n, Image: img})
	}
	for _, typ := range []string{ksyun.Type, huaweicloud.Type} {
		t.Run(typ, func(t *testing.T) {
			df := discoverFlags{typ: typ, region: "cn-north-4", tags: tagFlags{"role": "web"}, name: "we\nb*", planName: "discovered", schemaRef: "x.json"}
			if typ == huaweicloud.Type {
				df.project = "0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e"
			}
			pp, err := df.provider()
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			images := map[string]providers.Image{imgA: {ID: imgA, Name: "CentOS 7.9\n# not a comment: x"}}
			if err := writeDiscovered(&out, df, pp, append([]providers.Instance(nil), found...), images); err != nil {
				t.Fatal(err)
			}
			text := out.String()
			if !strings.HasPrefix(text, "# yaml-language-server: $schema=x.json\n") {
				t.Fatalf("first line: %q", strings.SplitN(text, "\n", 2)[0])
			}
			p, err := plan.Parse("discovered.yaml", []byte(text))
			if err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			got := map[string]*plan.Instance{}
			for _, in := range p.Instances {
				got[in.ID] = in
			}
			for _, f := range found {
				in := got[f.ID]
				if in == nil || in.Name != f.Name || in.Image != f.Image || in.Provider != "ksyun-cn-north-4" && in.Provider != "huaweicloud-cn-north-4" {
					t.Errorf("instance %s: got %+v, want name %q image %s", f.ID, in, f.Name, f.Image)
				}
			}
			if len(p.Instances) != len(found) {
				t.Errorf("%d instances, want %d", len(p.Instances), len(found))
			}
		})
	}
}

func TestDiscoverFlags(t *testing.T) {
	tests := []struct {
		df   discoverFlags
		want string
	}{
		{discoverFlags{region: "r"}, "-provider is required: ksyun or huaweicloud"},
		{discoverFlags{typ: "aws", region: "r"}, `-provider "aws": want ksyun or huaweicloud`},
		{discoverFlags{typ: "ksyun"}, "-region is required"},
		{discoverFlags{typ: "huaweicloud", region: "r"}, "-project is required for huaweicloud (the project id of the region)"},
		{discoverFlags{typ: "ksyun", region: "r", project: "p"}, "-project is only for huaweicloud"},
		{discoverFlags{typ: "ksyun", region: "r", name: "[x"}, `-name: "[x": syntax error in pattern (globs take * ? [a-z] and \ to escape)`},
		{discoverFlags{typ: "ksyun", region: "R_1", planName: "p"}, `-provider-name "ksyun-r_1": use lowercase letters, digits and '-', at most 63 characters, not starting with '-'`},
	}
	for _, tt := range tests {
		_, err := tt.df.provider()
		if err == nil || err.Error() != tt.want {
			t.Errorf("%+v: got %v, want %s", tt.df, err, tt.want)
		}
	}
	tags := tagFlags{}
	if err := tags.Set("a=1"); err != nil {
		t.Fatal(err)
	}
	if err := tags.Set("a=2"); err == nil {
		t.Error("a tag given twice with two values must be refused")
	}
	if err := tags.Set("novalue"); err == nil {
		t.Error("a tag without = must be refused")
	}
}

package main

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/ksyun"
)

// TestSimImageAndKeyFaults: reimage sim -missing-images and -unusable-images
// reach the clients' pre-flight over HTTP (KEC DescribeImages, Huawei IMS),
// and -fleet creates the key pairs the plan's logins name (SKS, KPS).
func TestSimImageAndKeyFaults(t *testing.T) {
	const (
		kecImage = "8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2" // mixed-fleet.yaml's KEC target
		ecsImage = "e215580f-73ad-429d-b6f2-5433947433b0" // and its Huawei one
	)
	t.Setenv("KSYUN_ACCESS_KEY", "")
	t.Setenv("KSYUN_SECRET_KEY", "")
	t.Setenv("HUAWEICLOUD_SDK_AK", "")
	t.Setenv("HUAWEICLOUD_SDK_SK", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- SimCommand{}.Run(ctx, []string{"-listen", "127.0.0.1:0", "-fleet", filepath.Join(repoRoot, "examples", "mixed-fleet.yaml"),
			"-missing-images", kecImage, "-unusable-images", ecsImage}, Stdio{Out: outW, Err: io.Discard})
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	env := map[string]string{}
	var base string
	for len(env) < 5 && lines.Scan() {
		if k, v, ok := strings.Cut(lines.Text(), "="); ok {
			env[k] = v
		} else {
			base = lines.Text()
		}
	}
	go io.Copy(io.Discard, outR)
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	kec, err := ksyun.New(providers.Config{Name: "kec", Region: "cn-beijing-6", Endpoint: base,
		AccessKey: env["KSYUN_ACCESS_KEY"], SecretKey: env["KSYUN_SECRET_KEY"]})
	if err != nil {
		t.Fatal(err)
	}
	defer kec.Close()
	ecs, err := huaweicloud.New(providers.Config{Name: "ecs", Region: "cn-north-4", Endpoint: base, Settings: map[string]string{providers.ProjectSetting: env["HUAWEICLOUD_SDK_PROJECT_ID"]},
		AccessKey: env["HUAWEICLOUD_SDK_AK"], SecretKey: env["HUAWEICLOUD_SDK_SK"]})
	if err != nil {
		t.Fatal(err)
	}
	defer ecs.Close()

	if got, err := kec.Images(ctx, []string{kecImage}); err != nil || len(got) != 0 {
		t.Errorf("KEC image named by -missing-images: %v, %v; want absent", got, err)
	}
	got, err := ecs.Images(ctx, []string{ecsImage})
	if err != nil || got[ecsImage].Usable || got[ecsImage].Reason == "" {
		t.Errorf("Huawei image named by -unusable-images: %+v, %v; want unusable with a reason", got, err)
	}
	if keys, err := kec.KeyPairs(ctx, []string{"552a0523-b9b4-4868-b8d9-52ad7a38bf89", "00000000-0000-4000-8000-000000000000"}); err != nil ||
		!keys["552a0523-b9b4-4868-b8d9-52ad7a38bf89"] || keys["00000000-0000-4000-8000-000000000000"] {
		t.Errorf("KEC key pairs: %v, %v", keys, err)
	}
	if keys, err := ecs.KeyPairs(ctx, []string{"KeyPair-350b", "KeyPair-none"}); err != nil || !keys["KeyPair-350b"] || keys["KeyPair-none"] {
		t.Errorf("Huawei key pairs: %v, %v", keys, err)
	}
}

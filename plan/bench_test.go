package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFleet writes a plan of n instances over two providers, the shape of a large real fleet:
// shared fields in defaults, every third instance a Huawei one with its own login.
func writeFleet(tb testing.TB, n int) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString(`# yaml-language-server: $schema=../schema/plan.schema.json
version: 1
name: big-fleet
providers:
  kec-bj:
    type: ksyun
    region: cn-beijing-6
    limits: {requestsPerSecond: 20, burst: 40}
  ecs-n4:
    type: huaweicloud
    region: cn-north-4
    projectId: 0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e
defaults:
  provider: kec-bj
  image: 8f12ad9e-ae9a-44b9-95f3-c4e65ce582e2
  login: {keyIds: [552a0523-b9b4-4868-b8d9-52ad7a38bf89]}
rollout:
  concurrency: 50
  waves: [{size: 1, pause: 10m}, {size: "1%", pause: 1m}, "10%"]
  maxFailures: "1%"
instances:
`)
	for i := 0; i < n; i++ {
		if i%3 == 2 {
			fmt.Fprintf(&b, "  - id: e0a4c9d2-7b1f-4e35-9a6c-%012x\n    name: worker-%d\n    provider: ecs-n4\n    image: e215580f-73ad-429d-b6f2-5433947433b0\n    login: {keyName: KeyPair-350b}\n", i, i)
			continue
		}
		fmt.Fprintf(&b, "  - {id: 98284100-f6d1-4bbf-886a-%012x, name: web-%d}\n", i, i)
	}
	path := filepath.Join(tb.TempDir(), "fleet.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkLoad100k loads and validates a 100,000-instance plan: reading, YAML parsing, the
// schema, decoding and the semantic checks. Target: under 1.5 s and 500 MB peak RSS.
func BenchmarkLoad100k(b *testing.B) {
	path := writeFleet(b, 100_000)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := Load(path)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Instances) != 100_000 {
			b.Fatalf("loaded %d instances", len(p.Instances))
		}
	}
}

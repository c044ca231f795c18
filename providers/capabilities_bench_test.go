package providers_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/reimage-dev/reimage/providers"
)

// BenchmarkList100k lists a synthetic fleet of 100,000 instances (50,000 per
// cloud) by tag, zone and name glob, and reports the listing calls per List:
//
//	go test -run '^$' -bench List100k -benchtime 3x ./providers
func BenchmarkList100k(b *testing.B) {
	for _, c := range clouds {
		b.Run(c.typ, func(b *testing.B) {
			rt := &countingTransport{next: http.DefaultTransport}
			e := newEnv(b, c, nil, providers.Config{HTTPClient: &http.Client{Transport: rt}})
			e.sim.SeedSynthetic(100000, 0)
			l := e.p.(providers.Lister)
			region := "cn-beijing-6"
			if c.typ == "huaweicloud" {
				region = "cn-north-4"
			}
			for _, f := range []struct {
				name string
				f    providers.Filter
			}{
				{"tag", providers.Filter{Tags: map[string]string{"role": "web", "env": "prod"}}},
				{"zone+name", providers.Filter{Zone: region + "b", Name: "db-00*"}},
			} {
				b.Run(f.name, func(b *testing.B) {
					start := rt.n.Load()
					n := 0
					for b.Loop() {
						got, err := l.List(context.Background(), f.f)
						if err != nil {
							b.Fatal(err)
						}
						n = len(got)
					}
					b.ReportMetric(float64(rt.n.Load()-start)/float64(b.N), "calls/op")
					b.ReportMetric(float64(n), "instances")
				})
			}
		})
	}
}

// countingTransport counts the requests a client sends: counted on the
// client's side, a call is counted once its answer was read.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.next.RoundTrip(r)
}

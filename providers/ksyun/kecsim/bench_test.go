package kecsim

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/providers/ksyun"
	"github.com/reimage-dev/reimage/providers/sim"
)

// BenchmarkDescribeInstances100k measures the simulator serving signed KEC
// DescribeInstances lookups of 100 ids each (the engine's batch lookup), as
// the official SDK sends them (POST form, SigV4), from parallel clients over
// loopback, with 100,000 instances loaded. Every request is signed by the
// client and verified by the server. It reports requests per second.
//
//	go test -run '^$' -bench DescribeInstances100k -benchtime 30000x ./providers/ksyun/kecsim
func BenchmarkDescribeInstances100k(b *testing.B) {
	const n = 100_000
	s := sim.New(sim.Options{Seed: 1, Frontends: []sim.NewFrontend{New}})
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-%012d", i, i)
		if err := s.AddInstance(sim.Instance{Provider: ksyun.Type, ID: ids[i], Image: "aaaaaaaa-0000-4000-8000-000000000001"}); err != nil {
			b.Fatal(err)
		}
	}
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	o := s.Options()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var form []byte
		var answer bytes.Buffer
		answer.Grow(64 << 10)
		for pb.Next() {
			start := int(next.Add(100)) % (n - 100)
			// The form as an SDK writes it; ids need no escaping.
			form = append(form[:0], "Action=DescribeInstances&Version=2016-03-04&MaxResults=100"...)
			for i := range 100 {
				form = append(form, "&InstanceId."...)
				form = strconv.AppendInt(form, int64(i+1), 10)
				form = append(form, '=')
				form = append(form, ids[start+i]...)
			}
			body := form
			req, _ := http.NewRequest("POST", base+"/?Action=DescribeInstances&Version=2016-03-04", bytes.NewReader(body))
			req.Header.Set("Accept", "application/json")
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			if err := ksyun.Sign(req, body, o.Keys["ksyun"].AccessKey, o.Keys["ksyun"].SecretKey, "cn-beijing-6", time.Now()); err != nil {
				b.Error(err)
				return
			}
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			answer.Reset()
			_, err = answer.ReadFrom(res.Body)
			res.Body.Close()
			got := answer.Bytes()
			if err != nil {
				b.Error(err)
				return
			}
			if res.StatusCode != 200 || !bytes.Contains(got, []byte(`"InstanceCount":100`)) {
				b.Errorf("status %d: %.200s", res.StatusCode, got)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

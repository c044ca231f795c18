package forecast

import (
	"fmt"
	"testing"
	"time"
)

const s = time.Second

func est(d time.Duration) Estimate { return Estimate{D: d} }

// kec is a cloud that needs a stop call before the change; ecs one whose
// change stops a running instance itself.
func kec(rate float64, burst int, stop, change, call time.Duration) Provider {
	return Provider{Rate: rate, Burst: burst, Durations: Durations{Stop: est(stop), Change: est(change), Call: est(call)}}
}

func ecs(rate float64, burst int, changeRunning, call time.Duration) Provider {
	return Provider{Rate: rate, Burst: burst, ChangeStopsRunning: true, Durations: Durations{ChangeRunning: est(changeRunning), Change: est(changeRunning), Call: est(call)}}
}

func many(n int, i Instance) []Instance {
	out := make([]Instance, n)
	for k := range out {
		out[k] = i
	}
	return out
}

func TestForecast(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    Input
		total time.Duration
		waves []WaveResult
	}{{
		name: "one stopped instance: the re-check's read at the wave's start, the change call, the change until the tick that sees it done",
		// The change ends at 2 + 301 s; of the 301 s measured, half a tick (2.5 s)
		// is the rounding already: the tick that sees it is at 305 s.
		in: Input{Instances: many(1, Instance{Provider: "k"}), Waves: []Wave{{Size: 1}}, Concurrency: 1, Poll: 5 * s,
			Providers: map[string]Provider{"k": kec(10, 8, 30*s, 301*s, s)}},
		total: 305 * s,
	}, {
		name: "a running instance on a cloud that needs a stop call first",
		in: Input{Instances: many(1, Instance{Provider: "k", Running: true}), Waves: []Wave{{Size: 1}}, Concurrency: 1,
			Providers: map[string]Provider{"k": kec(10, 8, 30*s, 300*s, 0)}},
		total: 330 * s,
	}, {
		name: "a running instance on a cloud whose change stops it itself",
		in: Input{Instances: many(1, Instance{Provider: "e", Running: true}), Waves: []Wave{{Size: 1}}, Concurrency: 1,
			Providers: map[string]Provider{"e": ecs(10, 8, 400*s, 0)}},
		total: 400 * s,
	}, {
		name: "concurrency bounds: 10 instances of 10 s through 2 slots take 5 rounds",
		in: Input{Instances: many(10, Instance{Provider: "k"}), Waves: []Wave{{Size: 10}}, Concurrency: 2,
			Providers: map[string]Provider{"k": kec(0, 0, 0, 10*s, 0)}},
		total: 50 * s,
	}, {
		name: "the rate bounds: 100 changes at 10/s without burst, the last one's change of 1 s",
		in: Input{Instances: many(100, Instance{Provider: "k"}), Waves: []Wave{{Size: 100}}, Concurrency: 100,
			Providers: map[string]Provider{"k": kec(10, 1, 0, s, 0)}},
		total: 9900*time.Millisecond + s,
	}, {
		name: "250 stops asked at once go in 3 batch calls, then 250 changes",
		// 500/s without burst: a call every 2 ms; the lane takes 250 instances
		// (half a second of writes) at once.
		in: Input{Instances: many(250, Instance{Provider: "k", Running: true}), Waves: []Wave{{Size: 250}}, Concurrency: 250,
			Providers: map[string]Provider{"k": kec(500, 1, 0, 0, 0)}},
		// Stop calls at 0, 2 and 4 ms; the changes from 6 ms: the last at 504 ms.
		total: 504 * time.Millisecond,
	}, {
		name: "a slow provider's lane holds few instances at once: at 1/s, one writes at a time",
		// Each call answers in 1 s; the next instance starts once the change
		// call has answered (the first one's re-check is a read at the wave's
		// start, the others' are read ahead).
		in: Input{Instances: many(5, Instance{Provider: "k"}), Waves: []Wave{{Size: 5}}, Concurrency: 5,
			Providers: map[string]Provider{"k": kec(1, 1, 0, 0, s)}},
		total: 6 * s,
	}, {
		name: "the last round starts the lane whose instances take longest",
		// One 10 s instance and two of 2 s through 2 slots: the long one first,
		// the short ones beside it, one after the other: 10 s, not 2 + 10.
		in: Input{Instances: []Instance{{Provider: "e"}, {Provider: "e"}, {Provider: "k"}}, Waves: []Wave{{Size: 3}}, Concurrency: 2,
			Providers: map[string]Provider{"k": kec(0, 0, 0, 10*s, 0), "e": ecs(0, 0, 2*s, 0)}},
		total: 10 * s,
	}, {
		name: "a fast provider's lane takes them all: the same calls at 100/s",
		in: Input{Instances: many(5, Instance{Provider: "k"}), Waves: []Wave{{Size: 5}}, Concurrency: 5,
			Providers: map[string]Provider{"k": kec(100, 1, 0, 0, s)}},
		total: 2*s + 40*time.Millisecond,
	}, {
		name: "a reinstall sets two markers: three writes at 1/s",
		in: Input{Instances: many(1, Instance{Provider: "k", Reinstall: true}), Waves: []Wave{{Size: 1}}, Concurrency: 1,
			Providers: map[string]Provider{"k": kec(1, 1, 0, 10*s, 0)}},
		// marker at 0, change at 1 s, its 10 s, done marker at 11 s.
		total: 11 * s,
	}, {
		name: "health: the warmup and the checks after the change",
		in: Input{Instances: many(1, Instance{Provider: "k"}), Waves: []Wave{{Size: 1}}, Concurrency: 1, Health: true, Warmup: 20 * s, Hooks: true,
			Providers: map[string]Provider{"k": {Durations: Durations{Change: est(60 * s), Health: est(5 * s), Hooks: est(2 * s)}}}},
		total: 87 * s,
	}, {
		name: "waves and pauses: each wave starts after the last one and its pause; no pause after the last",
		in: Input{Instances: many(7, Instance{Provider: "k"}), Waves: []Wave{{Size: 1, Pause: 60 * s}, {Size: 2, Pause: 30 * s}, {Size: 4, Pause: 30 * s}}, Concurrency: 2,
			Providers: map[string]Provider{"k": kec(0, 0, 0, 10*s, 0)}},
		total: 10*s + 60*s + 10*s + 30*s + 20*s,
		waves: []WaveResult{{Size: 1, Start: 0, Duration: 10 * s, Pause: 60 * s}, {Size: 2, Start: 70 * s, Duration: 10 * s, Pause: 30 * s}, {Size: 4, Start: 110 * s, Duration: 20 * s}},
	}, {
		name: "lanes: a plan grouped by provider keeps both rate budgets busy",
		// 20 instances of each cloud, k's listed first, 1 write/s each, 10 slots.
		// In plan order, k's 20 would hold the slots for 20 s while e idles;
		// with lanes the two clouds write side by side: about 20 s in all.
		in: Input{Instances: append(many(20, Instance{Provider: "k"}), many(20, Instance{Provider: "e"})...), Waves: []Wave{{Size: 40}}, Concurrency: 10,
			Providers: map[string]Provider{"k": kec(1, 1, 0, s, 0), "e": ecs(1, 1, s, 0)}},
		total: 20 * s,
	}, {
		name: "ETA: the rest of a pause, instances in flight holding slots, then what is left",
		in: Input{Instances: many(2, Instance{Provider: "k"}), Waves: []Wave{{Size: 2}}, Concurrency: 2, Delay: 5 * s,
			InFlight:  []InFlight{{Provider: "k", Left: 3 * s}, {Provider: "k", Left: 8 * s}},
			Providers: map[string]Provider{"k": kec(0, 0, 0, 10*s, 0)}},
		// Slots free at 3 s and 8 s after the delay: the two left end at 13 and 18.
		total: 5*s + 18*s,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := Forecast(tc.in)
			if got.Total != tc.total {
				t.Errorf("total = %v, want %v (waves %+v)", got.Total, tc.total, got.Waves)
			}
			if tc.waves != nil && fmt.Sprint(got.Waves) != fmt.Sprint(tc.waves) {
				t.Errorf("waves = %+v, want %+v", got.Waves, tc.waves)
			}
			// The bound counts n calls as n intervals, where the first goes at once.
			if b := Bound(tc.in); b.Total > got.Total+10*time.Millisecond {
				t.Errorf("bound %v above the forecast %v", b.Total, got.Total)
			}
		})
	}
}

// The rollout benchmark's scenario (bench/rollout_test.go): 2,000 interleaved
// instances, KEC stopped (rebuild 3 s + boot 1 s), ECS running (stop 1 s +
// rebuild 3 s + start 1 s, inside its change), 50 requests/s, concurrency 200,
// waves 1, 200, 1799.
func benchScenario() Input {
	in := Input{Concurrency: 200, Waves: []Wave{{Size: 1}, {Size: 200}, {Size: 1799}},
		Providers: map[string]Provider{"kec": kec(50, 40, s, 4*s, 0), "ecs": ecs(50, 40, 5*s, 0)}}
	for i := 0; i < 1000; i++ {
		in.Instances = append(in.Instances, Instance{Provider: "kec"}, Instance{Provider: "ecs", Running: true})
	}
	return in
}

func TestBound(t *testing.T) {
	// Steps dominate: 4 s (one KEC instance), then (100×4 + 100×5)/200 = 4.5 s
	// but at least the 5 s of one ECS instance, then (899×4 + 900×5)/200 = 40.48 s.
	b := Bound(benchScenario())
	if want := 49480 * time.Millisecond; b.Total.Round(time.Millisecond) != want {
		t.Errorf("bound = %v, want %v", b.Total, want)
	}
	var got []time.Duration
	for _, w := range b.Waves {
		got = append(got, w.Duration.Round(time.Millisecond))
	}
	if fmt.Sprint(got) != "[4s 5s 40.48s]" {
		t.Errorf("waves = %v", got)
	}
	// The rate bounds when it is low: 900 KEC changes and 9 stop batches at 5/s.
	in := benchScenario()
	p := in.Providers["kec"]
	p.Rate = 5
	in.Providers["kec"] = p
	for i := range in.Instances {
		in.Instances[i].Running = true
	}
	if w := Bound(in).Waves[2]; w.Duration.Round(time.Millisecond) != 181600*time.Millisecond {
		t.Errorf("rate-bound wave = %v, want 181.6s ((899 + 9) / 5)", w.Duration)
	}
}

func TestForecastNearBound(t *testing.T) {
	// With no poll and no call latency the forecast of a step-bound rollout
	// is its bound, give or take the last round's stragglers.
	in := benchScenario()
	f, b := Forecast(in), Bound(in)
	if f.Total < b.Total || f.Total > b.Total*11/10 {
		t.Errorf("forecast %v, bound %v: want within 10 %%", f.Total, b.Total)
	}
}

func BenchmarkForecast100k(b *testing.B) {
	in := Input{Concurrency: 200, Waves: []Wave{{Size: 1}, {Size: 10000}, {Size: 89999}}, Poll: 5 * s,
		Providers: map[string]Provider{"kec": kec(20, 16, 30*s, 300*s, 300*time.Millisecond), "ecs": ecs(20, 16, 360*s, 300*time.Millisecond)}}
	for i := 0; i < 50000; i++ {
		in.Instances = append(in.Instances, Instance{Provider: "kec", Running: true}, Instance{Provider: "ecs", Running: true})
	}
	for b.Loop() {
		Forecast(in)
	}
}

func TestRest(t *testing.T) {
	in := Input{Instances: many(7, Instance{Provider: "k"}), Waves: []Wave{{Size: 1, Pause: 60 * s}, {Size: 2, Pause: 30 * s}, {Size: 4, Pause: 30 * s}}, Concurrency: 2,
		Providers: map[string]Provider{"k": kec(0, 0, 0, 10*s, 0)}}
	for _, tc := range []struct {
		name  string
		p     Progress
		total time.Duration
	}{
		{"at the start, the whole rollout", Progress{}, 130 * s},
		{"in the first pause, 20 s of it left", Progress{Wave: 1, Started: []bool{true}, Pause: 20 * s}, 20*s + 10*s + 30*s + 20*s},
		{"in wave 2, one done, one in flight with 4 s left", Progress{Wave: 1, Started: []bool{true, true, true}, InFlight: []InFlight{{Provider: "k", Left: 4 * s}}},
			4*s + 30*s + 20*s},
		{"in the last wave, 3 of 4 started, 2 in flight", Progress{Wave: 2, Started: []bool{true, true, true, true, true, true}, InFlight: []InFlight{{Provider: "k", Left: 2 * s}, {Provider: "k", Left: 9 * s}}},
			// The last one takes the slot free at 2 s: 12 s.
			12 * s},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Forecast(in.Rest(tc.p)).Total; got != tc.total {
				t.Errorf("rest = %v, want %v", got, tc.total)
			}
		})
	}
	if got := in.Alone(Instance{Provider: "k", Running: true}); got != 10*s {
		t.Errorf("alone = %v, want 10s", got)
	}
}

package executor

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/reimage-dev/reimage/providers"
)

// pollTimes runs one wait of kind through pollUntil on a synctest clock
// until endsAfter (the cloud's step ends then), and returns when, from the
// wait's start, each poll was made.
func pollTimes(t *testing.T, e *Executor, kind waitKind, endsAfter time.Duration) []time.Duration {
	t.Helper()
	start := time.Now()
	var at []time.Duration
	_, err := e.pollUntil(context.Background(), kind, func() (providers.Instance, error) {
		el := time.Since(start)
		at = append(at, el)
		if el >= endsAfter {
			return providers.Instance{}, nil
		}
		return providers.Instance{}, errPollAgain
	})
	if err != nil {
		t.Fatalf("pollUntil: %v", err)
	}
	return at
}

func ms(vs ...int) []time.Duration {
	out := make([]time.Duration, len(vs))
	for i, v := range vs {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

// TestPollScheduleAdaptsToDurationsObserved shows the poll times of one wait,
// on an injected clock whose poll ticks fall on multiples of 100 ms, after
// what the run observed and what the estimate says.
func TestPollScheduleAdaptsToDurationsObserved(t *testing.T) {
	kec := waitKind{"kec", WaitChange}
	tests := []struct {
		name     string
		observed []time.Duration // earlier waits of kec's kind in this run
		estimate time.Duration   // Options.WaitEstimate for kec
		ends     time.Duration   // when the step ends
		want     []time.Duration
	}{{
		name: "nothing known: every tick from the start",
		ends: 450 * time.Millisecond,
		want: ms(100, 200, 300, 400, 500),
	}, {
		name:     "observed in the run: first poll at nine tenths of the shortest, then halving towards the first quartile, then every tick",
		observed: ms(4600, 3000, 4000, 4200, 4400, 4000, 4800, 5000),
		estimate: time.Hour, // the run's own figures win
		ends:     4450 * time.Millisecond,
		// 0.9×3 s = 2.7 s; first quartile 4 s: (4−2.7)/2 = 0.65 s → the tick
		// before 3.35 s, 3.3 s; 0.35 s → 3.6 s; 0.2 s → 3.8 s; 0.1 s → 3.9 s;
		// then every tick (0.1 s) up to and past 4 s.
		want: ms(2700, 3300, 3600, 3800, 3900, 4000, 4100, 4200, 4300, 4400, 4500),
	}, {
		name:     "before one has ended: half the estimate, then halving",
		estimate: 4 * time.Second,
		ends:     4150 * time.Millisecond,
		// 2 s → 3 s → 3.5 s → 3.7 s (the tick before 3.75 s) → 3.8, 3.9 …
		want: ms(2000, 3000, 3500, 3700, 3800, 3900, 4000, 4100, 4200),
	}, {
		name:     "a step that ends early is seen at the first poll after it",
		estimate: 4 * time.Second,
		ends:     2100 * time.Millisecond,
		want:     ms(2000, 3000),
	}, {
		name:     "a long step: no gap longer than maxQuiet",
		estimate: 10 * time.Minute,
		ends:     3 * time.Minute,
		want:     []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := New(Options{PollInterval: 100 * time.Millisecond, WaitEstimate: func(provider string, w Wait) time.Duration {
					if provider == "kec" && w == WaitChange {
						return tt.estimate
					}
					return 0
				}})
				for _, d := range tt.observed {
					e.polls.observe(kec, d)
				}
				got := pollTimes(t, e, kec, tt.ends)
				if !slices.Equal(got, tt.want) {
					t.Errorf("polls at %v, want %v", got, tt.want)
				}
			})
		})
	}
}

// TestPollScheduleOverdueNeverSlowerThanInterval: a wait past its expected
// end is polled at every tick, however long it overruns.
func TestPollScheduleOverdueNeverSlowerThanInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Options{PollInterval: time.Second})
		kind := waitKind{"ecs", WaitChangeRunning}
		for range 5 {
			e.polls.observe(kind, 10*time.Second)
		}
		got := pollTimes(t, e, kind, 40*time.Second)
		if got[0] != 9*time.Second {
			t.Fatalf("first poll at %v, want 9s (nine tenths of 10s)", got[0])
		}
		for i := 1; i < len(got); i++ {
			if got[i] > 10*time.Second && got[i]-got[i-1] > time.Second {
				t.Fatalf("overdue at %v, the next poll came %v later, more than the 1s interval: %v", got[i-1], got[i]-got[i-1], got)
			}
		}
		if last := got[len(got)-1]; last != 40*time.Second {
			t.Fatalf("last poll at %v, want 40s (the step's end)", last)
		}
	})
}

// TestPollScheduleLearnsPerProviderAndWait: what one provider's change took
// says nothing of another's, nor of a stop; a failed wait teaches nothing.
func TestPollScheduleLearnsPerProviderAndWait(t *testing.T) {
	s := pollSchedule{poll: 100 * time.Millisecond}
	s.observe(waitKind{"kec", WaitChange}, 4*time.Second)
	s.observe(waitKind{}, time.Hour)
	for _, tt := range []struct {
		kind  waitKind
		first time.Duration
	}{
		{waitKind{"kec", WaitChange}, 3600 * time.Millisecond},
		{waitKind{"ecs", WaitChange}, 0},
		{waitKind{"kec", WaitStop}, 0},
		{waitKind{}, 0},
	} {
		if got := s.next(tt.kind, 0, 0); got != tt.first {
			t.Errorf("%+v: first poll at %v, want %v", tt.kind, got, tt.first)
		}
	}
	// The quartile is of the latest keepWaits only: a run whose steps slow
	// down moves its expected end with them.
	for i := range keepWaits {
		s.observe(waitKind{"kec", WaitChange}, time.Duration(10+i%4)*time.Second)
	}
	if _, expected := s.figures(waitKind{"kec", WaitChange}); expected != 11*time.Second {
		t.Errorf("first quartile of the latest %d waits (10s, 11s, 12s, 13s) = %v, want 11s", keepWaits, expected)
	}
	if first, _ := s.figures(waitKind{"kec", WaitChange}); first != 3600*time.Millisecond {
		t.Errorf("first poll from the shortest wait ever seen = %v, want 3.6s", first)
	}
}

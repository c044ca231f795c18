package executor

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestQuietPeriods(t *testing.T) {
	var q quietPeriods
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	// A cancelled context tells whether wait would sleep, without timing it.
	if err := q.wait(cancelled, "kec/change", time.Now()); err != nil {
		t.Fatalf("nothing observed yet: wait = %v, want no quiet period", err)
	}
	q.observe("kec/change", time.Hour)
	q.observe("kec/change", 2*time.Second)
	q.observe("kec/change", 3*time.Second)
	if err := q.wait(cancelled, "kec/change", time.Now()); !errors.Is(err, context.Canceled) {
		t.Fatalf("after observing 2s: wait = %v, want a quiet period", err)
	}
	if err := q.wait(cancelled, "kec/change", time.Now().Add(-1900*time.Millisecond)); err != nil {
		t.Fatalf("1.9s after the start (past 9/10 of 2s): wait = %v, want none", err)
	}
	if err := q.wait(cancelled, "ecs/change", time.Now()); err != nil {
		t.Fatalf("another kind: wait = %v, want none", err)
	}
	q.observe("slow", 10*time.Hour)
	if err := q.wait(cancelled, "slow", time.Now().Add(-maxQuiet)); err != nil {
		t.Fatalf("quiet period not capped at %v: %v", maxQuiet, err)
	}
}

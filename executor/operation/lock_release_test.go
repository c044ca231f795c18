package operation

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/providers"
)

// stuckStopCloud stops instances through a batch StopInstances call that,
// once sent, does not end until release is closed, even when its context is
// cancelled: a call still on its way to the cloud (a request being written,
// an answer being read) after the run gave up on it. As a driver's batcher
// does, Stop returns when its caller gives up, while the call goes on in a
// goroutine of the client, which Close waits for.
type stuckStopCloud struct {
	*cloud
	calls   sync.WaitGroup
	sent    chan struct{} // closed when the batch call is in flight
	release chan struct{} // closing it ends the batch call
	once    sync.Once
}

func newStuckStopCloud(c *cloud) *stuckStopCloud {
	return &stuckStopCloud{cloud: c, sent: make(chan struct{}), release: make(chan struct{})}
}

func (s *stuckStopCloud) Stop(ctx context.Context, id string) error {
	done := make(chan struct{})
	s.calls.Add(1)
	go func() {
		defer s.calls.Done()
		defer close(done)
		s.once.Do(func() { close(s.sent) })
		<-s.release
	}()
	select {
	case <-done:
		return ctx.Err()
	case <-ctx.Done():
		return &providers.InDoubtError{Operation: "StopInstances", Resource: id, Cause: ctx.Err()}
	}
}

// Close waits for the batch calls in flight, as a driver client's does.
func (s *stuckStopCloud) Close() { s.calls.Wait() }

// After a signal, and a second one (the run stops waiting), a batch
// StopInstances call of the run is still in flight: the lock stays held until
// that call has ended, so that a second apply cannot start while a stop of
// the first is on its way to the cloud; once it ends, the lock is released.
// Apply quiesces the clients (here the client's Close, which waits for its
// batch calls) before it releases the lock: were the two swapped, or the
// quiesce left out, the lock would be free while the call is in flight.
func TestLockHeldUntilBatchCallsInFlightEnd(t *testing.T) {
	log := &recorder{}
	c := newStuckStopCloud(newCloud(log, 1))
	f := testFleet(c.cloud)
	f.Providers = map[string]providers.Provider{"fake": c}
	opts := testOptions(t.TempDir(), log, nil)
	opts.AutoApprove = true
	drain := make(chan struct{})
	opts.Drain = drain
	quiescing := make(chan struct{})
	opts.Quiesce = func() {
		close(quiescing)
		c.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Apply(ctx, f, opts, &view{log: log})
		done <- err
	}()

	<-c.sent
	close(drain) // the first signal: no new instance starts
	cancel()     // the second: stop waiting for those in flight
	select {
	case <-quiescing:
	case err := <-done:
		close(c.release)
		t.Fatalf("Apply returned (%v) without quiescing its clients", err)
	}
	second, err := executor.AcquireLock(opts.LockPath, executor.Holder{PID: 2, Host: "second"})
	var le *executor.LockedError
	if !errors.As(err, &le) {
		second.Release()
		close(c.release)
		<-done
		t.Fatalf("a second apply took the lock (err %v) while the first's StopInstances was in flight", err)
	}

	close(c.release)
	if err := <-done; err == nil {
		t.Error("Apply converged, want not converged after the signals")
	}
	second, err = executor.AcquireLock(opts.LockPath, executor.Holder{PID: 2, Host: "second"})
	if err != nil {
		t.Fatalf("the lock is still held after the batch call ended and Apply returned: %v", err)
	}
	second.Release()
}

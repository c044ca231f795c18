package operation

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/providers"
)

// imagelessCloud is the in-memory cloud whose image service knows no image:
// every target fails pre-flight.
type imagelessCloud struct{ *cloud }

func (imagelessCloud) Images(context.Context, []string) (map[string]providers.Image, error) {
	return map[string]providers.Image{}, nil
}
func (imagelessCloud) ImagesByName(context.Context, string) ([]providers.Image, error) {
	return nil, nil
}
func (imagelessCloud) KeyPairs(context.Context, []string) (map[string]bool, error) {
	return map[string]bool{}, nil
}

// A run killed after it stopped i-0 and before it submitted; its target image
// is gone when the next run comes. That run refuses to start (exit 1), yet it
// starts i-0 again: a bad image must not keep what ran stopped until the plan
// is fixed. It submits nothing.
func TestRefusedAtPreflightStartsWhatAKilledRunStopped(t *testing.T) {
	log := &recorder{}
	c := newCloud(log, 2)
	dir := t.TempDir()
	opts := testOptions(dir, log, nil)
	opts.AutoApprove = true
	j, err := executor.OpenJournal(opts.JournalPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(executor.Record{Run: "run-0", Event: executor.EventIntent, Provider: "fake", ID: "i-0", Action: "change", Image: "new", WasRunning: true}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	c.inst["i-0"].State, c.inst["i-0"].RawState = providers.StateStopped, "stopped"

	f := testFleet(c)
	f.Providers["fake"] = imagelessCloud{c}
	_, err = Apply(context.Background(), f, opts, &view{log: log})
	if !errors.Is(err, ErrBadImages) {
		t.Fatalf("err = %v, want the refusal (ErrBadImages)", err)
	}
	if c.inst["i-0"].State != providers.StateRunning {
		t.Errorf("i-0 is %s, want started again: it ran before the killed run stopped it", c.inst["i-0"].State)
	}
	for _, call := range log.mutating() {
		if call != "start i-0" {
			t.Errorf("refused run made %q; only i-0's start is its to make", call)
		}
	}
	if !slices.Contains(log.mutating(), "start i-0") {
		t.Errorf("i-0 not started: %v", log.mutating())
	}
	after, err := executor.ReadJournal(opts.JournalPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(after.Pending()); n != 0 {
		t.Errorf("%d intents left open after the refused run resolved them", n)
	}
}

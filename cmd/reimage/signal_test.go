package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/reimage-dev/reimage/executor"
)

func init() {
	scriptCmds["signal-lock-holder"] = signalLockHolder
	scriptCmds["pause"] = pause
}

// pause: pause DURATION spaces two signals, so that the kernel cannot merge
// them into one pending signal; no assertion depends on it.
func pause(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pause DURATION")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	time.Sleep(d)
}

// signalLockHolder: signal-lock-holder HUP|INT|TERM LOCKFILE sends the signal
// to the process that holds the lock (its pid is in the lock file): a real
// signal to a real apply, as an ssh drop or kill would send it.
func signalLockHolder(ts *testscript.TestScript, neg bool, args []string) {
	sigs := map[string]syscall.Signal{"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "TERM": syscall.SIGTERM}
	if neg || len(args) != 2 || sigs[args[0]] == 0 {
		ts.Fatalf("usage: signal-lock-holder HUP|INT|TERM LOCKFILE")
	}
	var h executor.Holder
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &h))
	if h.PID <= 0 {
		ts.Fatalf("no pid in %s", args[1])
	}
	ts.Check(syscall.Kill(h.PID, sigs[args[0]]))
}

// TestPromptCancelledBySignal: a signal at the "yes" prompt cancels it at
// once, not after the next Enter.
func TestPromptCancelledBySignal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- readAnswer(ctx, r) }()
	cancel() // the signal handler cancels the work context
	select {
	case err := <-done:
		if !errors.Is(err, errCancelledAtPrompt) {
			t.Fatalf("readAnswer: %v, want cancelled at the prompt", err)
		}
	case <-time.After(10 * time.Second): // a bound for a hang, not a timing assertion
		t.Fatal("the prompt still waits for Enter after the signal")
	}
}

func TestPromptAnswers(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
	}{
		{"yes\n", ""},
		{"y\n", "apply cancelled: nothing was changed"},
		// Ctrl-D or a closed input: cancelled like any answer but yes, and said so.
		{"", "apply cancelled: no answer (EOF): nothing was changed"},
	} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		w.WriteString(tt.in)
		w.Close()
		err = readAnswer(context.Background(), r)
		r.Close()
		if got := errText(err); got != tt.want {
			t.Errorf("answer %q: %q, want %q", tt.in, got, tt.want)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

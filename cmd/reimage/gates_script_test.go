package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["closed-window"] = closedWindow
}

// closedWindow: closed-window FILE replaces CLOSED_WINDOW in FILE with a
// maintenance window (UTC) that opens in two hours and closes in three, so
// that a script's run begins outside it whatever the time of day.
func closedWindow(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: closed-window FILE")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	now := time.Now().UTC()
	w := fmt.Sprintf(`{start: "%s", end: "%s", timeZone: UTC}`, now.Add(2*time.Hour).Format("15:04"), now.Add(3*time.Hour).Format("15:04"))
	ts.Check(os.WriteFile(path, []byte(strings.ReplaceAll(string(b), "CLOSED_WINDOW", w)), 0o644))
}

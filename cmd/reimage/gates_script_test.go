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
	scriptCmds["closing-window"] = closingWindow
	scriptCmds["open-window"] = openWindow
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

// minLeadToClose is the least time before the close a closing-window run gets:
// enough for its canary (well under a second on the script simulator) and for
// the next instances to start before the close.
const minLeadToClose = 10 * time.Second

// closingWindow: closing-window TEMPLATE FILE writes FILE from TEMPLATE with
// CLOSING_WINDOW replaced by a maintenance window (UTC) that is open now and
// closes at the next minute boundary (windows have minute granularity), and
// CLOSE_AT by that boundary in Unix seconds, for a hook that waits for the
// close. Less than minLeadToClose before a boundary it waits for the boundary
// and takes the next one, so that a run always begins inside the window and
// the close comes 10 to 70 seconds later.
func closingWindow(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: closing-window TEMPLATE FILE")
	}
	now := time.Now().UTC()
	end := now.Truncate(time.Minute).Add(time.Minute)
	if end.Sub(now) < minLeadToClose {
		time.Sleep(end.Sub(now) + 100*time.Millisecond)
		end = end.Add(time.Minute)
	}
	w := fmt.Sprintf(`{start: "%s", end: "%s", timeZone: UTC}`, end.Add(-30*time.Minute).Format("15:04"), end.Format("15:04"))
	writeWindow(ts, args[0], args[1], w, end.Unix())
}

// openWindow: open-window TEMPLATE FILE writes FILE from TEMPLATE with
// CLOSING_WINDOW replaced by a window (UTC) open from an hour ago to two
// hours from now, and CLOSE_AT by 0 (a hook waiting for it does not wait).
func openWindow(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: open-window TEMPLATE FILE")
	}
	now := time.Now().UTC()
	w := fmt.Sprintf(`{start: "%s", end: "%s", timeZone: UTC}`, now.Add(-time.Hour).Format("15:04"), now.Add(2*time.Hour).Format("15:04"))
	writeWindow(ts, args[0], args[1], w, 0)
}

func writeWindow(ts *testscript.TestScript, from, to, window string, closeAt int64) {
	b, err := os.ReadFile(ts.MkAbs(from))
	ts.Check(err)
	s := strings.ReplaceAll(string(b), "CLOSING_WINDOW", window)
	s = strings.ReplaceAll(s, "CLOSE_AT", fmt.Sprint(closeAt))
	ts.Check(os.WriteFile(ts.MkAbs(to), []byte(s), 0o644))
}

package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers/sim"
)

// Script commands for the chaos script (testdata/script/apply_chaos.txtar): a
// snapshot of the fleet before any run, faults switched on and off between
// runs, and a check of every promise of the safety model against the snapshot.
func init() {
	scriptCmds["sim-snapshot"] = simSnapshot
	scriptCmds["sim-missing-images"] = simMissingImages
	scriptCmds["sim-calm"] = simCalm
	scriptCmds["sim-verify"] = simVerify
	scriptCmds["may"] = may
	scriptCmds["sim-settle"] = simSettle
}

// simSettle: sim-settle waits (at most 30 s) until no instance is in a
// transitional state: what a killed run left under way has finished.
func simSettle(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: sim-settle")
	}
	s := scriptSim(ts)
	for deadline := time.Now().Add(30 * time.Second); ; {
		busy := 0
		for _, in := range s.Instances() {
			switch strings.ToLower(in.State) {
			case "active", "stopped", "shutoff", "error":
			default:
				busy++
			}
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("sim-settle: %d instances still busy after 30s", busy)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// may: may PROGRAM ARGS... runs the program like exec, whatever its exit status
// (a run under random faults may or may not converge; what matters is checked
// by sim-verify); stdout and stderr are kept for assertions.
func may(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: may PROGRAM [ARGS...]")
	}
	if err := ts.Exec(args[0], args[1:]...); err != nil {
		ts.Logf("%s: %v (allowed)", args[0], err)
	}
}

// snapshots: per script, the fleet as sim-snapshot saw it, by provider/id.
var snapshots = map[*testscript.TestScript]map[string]sim.InstanceView{}

func viewKey(v sim.InstanceView) string { return v.Provider + "/" + v.ID }

func isRunning(state string) bool { return state == "active" || state == "ACTIVE" }

// simSnapshot: sim-snapshot records every instance of the simulator, for sim-verify.
func simSnapshot(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: sim-snapshot")
	}
	snap := map[string]sim.InstanceView{}
	for _, v := range scriptSim(ts).Instances() {
		snap[viewKey(v)] = v
	}
	simMu.Lock()
	snapshots[ts] = snap
	simMu.Unlock()
	ts.Defer(func() {
		simMu.Lock()
		delete(snapshots, ts)
		simMu.Unlock()
	})
}

// simMissingImages: sim-missing-images ID,… makes the clouds forget these images
// from now on (a change to one is refused), as when an image is deleted in the
// middle of a rollout, after the pre-flight passed; "" forgets none.
func simMissingImages(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sim-missing-images ID,...")
	}
	scriptSim(ts).SetOptions(func(o *sim.Options) { o.MissingImages = idList(args[0]) })
}

// simCalm: sim-calm turns every injected fault off (lost answers, gateway 502s,
// queued changes, 5xx, missing images), keeping the fleet as it is.
func simCalm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: sim-calm")
	}
	scriptSim(ts).SetOptions(func(o *sim.Options) {
		o.LostAnswerRate, o.LostAnswerIDs = 0, nil
		o.Gateway502Rate, o.Gateway502IDs = 0, nil
		o.QueueRate, o.QueueIDs, o.QueueDelay = 0, nil, 0
		o.ServerErrorRate = 0
		o.MissingImages = nil
	})
}

// simVerify: sim-verify [-converged] [-mid-run] [-broken ID,…] PLAN checks the safety model's
// promises against the fleet sim-snapshot saw:
//   - no instance of the plan had its OS installed more than once (a change,
//     or each reinstall token, carried out at most once);
//   - every instance that ran before runs now, but those listed with -broken
//     (whose rebuild the cloud fails: they may be left in its error state), and
//     unless -mid-run says a run was just killed (its instances may be mid-change);
//   - nothing outside the plan was touched (image, state and changes as before);
//
// and with -converged, that every change and reinstall of the plan was carried
// out exactly once and every instance (but -broken ones) is on its target image.
func simVerify(ts *testscript.TestScript, neg bool, args []string) {
	const usage = "usage: sim-verify [-converged] [-mid-run] [-broken ID,...] PLAN"
	converged, midRun := false, false
	broken := map[string]bool{}
	for len(args) > 1 {
		switch args[0] {
		case "-converged":
			converged = true
			args = args[1:]
		case "-mid-run":
			midRun = true
			args = args[1:]
		case "-broken":
			for _, id := range idList(args[1]) {
				broken[id] = true
			}
			args = args[2:]
		default:
			ts.Fatalf(usage)
		}
	}
	if neg || len(args) != 1 {
		ts.Fatalf(usage)
	}
	p, err := plan.Load(ts.MkAbs(args[0]))
	ts.Check(err)
	simMu.Lock()
	snap := snapshots[ts]
	simMu.Unlock()
	if snap == nil {
		ts.Fatalf("sim-verify: run sim-snapshot first")
	}
	// The plan's instances by the simulator's key (provider type/id).
	inPlan := map[string]*plan.Instance{}
	for _, in := range p.Instances {
		inPlan[p.Providers[in.Provider].Type+"/"+in.ID] = in
	}
	var problems []string
	for _, now := range scriptSim(ts).Instances() {
		k := viewKey(now)
		was, known := snap[k]
		if !known {
			problems = append(problems, k+": appeared after the snapshot")
			continue
		}
		in := inPlan[k]
		if in == nil {
			if now.Image != was.Image || now.State != was.State || now.Changes != was.Changes {
				problems = append(problems, fmt.Sprintf("%s: outside the plan, yet touched: image %s -> %s, state %s -> %s, changes %d -> %d",
					k, was.Image, now.Image, was.State, now.State, was.Changes, now.Changes))
			}
			continue
		}
		done := now.Changes - was.Changes
		if done > 1 {
			problems = append(problems, fmt.Sprintf("%s (%s): OS installed %d times, want at most once", k, in.Name, done))
		}
		if broken[in.ID] {
			continue
		}
		if !midRun && isRunning(was.State) && !isRunning(now.State) {
			problems = append(problems, fmt.Sprintf("%s (%s): ran before, now %s", k, in.Name, now.State))
		}
		if converged && (done != 1 || now.Image != in.Image) {
			problems = append(problems, fmt.Sprintf("%s (%s): %d installs, image %s; want exactly one, onto %s", k, in.Name, done, now.Image, in.Image))
		}
	}
	if len(problems) > 0 {
		ts.Fatalf("sim-verify:\n  %s", strings.Join(problems, "\n  "))
	}
}

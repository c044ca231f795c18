package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/sim"
)

// SimCommand runs the cloud simulator (every registered driver's front-end on
// one HTTP server) until SIGINT or SIGTERM.
type SimCommand struct{}

// Name implements Command.
func (SimCommand) Name() string { return "sim" }

// Synopsis implements Command.
func (SimCommand) Synopsis() string {
	var names []string
	for _, f := range simFrontends() {
		names = append(names, f.Name())
	}
	return "run a local " + strings.Join(names, " and ") + " simulator to rehearse against"
}

// simFrontend is a registered driver with a simulator front-end.
type simFrontend struct {
	providers.Driver
	// fe is unbound to any server: for its names only.
	fe sim.Frontend
}

// Name is the cloud's API for people; Where where the simulator serves it.
func (f simFrontend) Name() string  { return f.fe.Name() }
func (f simFrontend) Where() string { return f.fe.Where() }

// simFrontends returns the registered drivers that have a simulator
// front-end, in registration order.
func simFrontends() []simFrontend {
	var out []simFrontend
	for _, typ := range providers.Types() {
		if d, _ := providers.Lookup(typ); d.Simulator != nil {
			out = append(out, simFrontend{d, d.Simulator(nil)})
		}
	}
	return out
}

// simFlags are the parsed arguments of reimage sim.
type simFlags struct {
	listen, fleet, projectID, failIDs    string
	instances                            int
	stopped, errorRate, failRate, jitter float64
	// rates are -rate-TYPE by provider type.
	rates                          map[string]*float64
	seed                           int64
	latency, stopTime, rebuildTime time.Duration
	startTime                      time.Duration
	// Faults after the effect and queued changes.
	loseRate, gatewayRate, queueRate float64
	loseIDs, gatewayIDs, queueIDs    string
	prepaidIDs                       string
	// Jobs that fail without harm.
	jobFailRate           float64
	jobFailIDs            string
	lockedIDs, unknownIDs string
	faultOps              string
	queueTime             time.Duration
	// Health checks (rollout.health) and the unhealthy fault.
	healthPort    int
	unhealthyRate float64
	unhealthyIDs  string
	// Images the clouds no longer know, or know but cannot use.
	missingImages, unusableImages string
}

// Run implements Command.
func (c SimCommand) Run(ctx context.Context, args []string, stdio Stdio) error {
	fronts := simFrontends()
	var served, creds, examples []string
	for _, f := range fronts {
		served = append(served, f.Name()+" ("+f.Type+") "+f.Where())
		creds = append(creds, f.SimAccessKeyEnv, f.SimSecretKeyEnv)
		if f.SimProjectEnv != "" {
			creds = append(creds, f.SimProjectEnv)
		}
	}
	if len(fronts) > 0 {
		examples = append(examples, "-rate-"+fronts[0].Type+" 20")
	}
	fs := newFlagSet(c.Name(), "sim [-listen ADDR] [-fleet PLAN] [-instances N] [fault and timing flags]", `
Serves, on one HTTP server, every cloud reimage has a simulator front-end for:
  `+strings.Join(served, "\n  ")+`
with signature checks, the clouds' answers and error codes, instances that stop, rebuild and
start over time, and optional faults. Every start begins from the same seeded fleet.

The first line on stdout is the base URL; the next lines are the credentials it accepts, as
NAME=VALUE:
  `+strings.Join(creds, ", ")+`
Credentials come from those environment variables when set, else are generated.
GET /_sim/instances and GET /_sim/stats (not signed) show the fleet and the requests served.
Stops cleanly on SIGINT or SIGTERM.

Faults after the effect (-lose-answer-*, -gateway-502-*) hit writes only (stop, start, change,
reinstall; -fault-ops narrows them, or names mark: reimage's marker writes, the tags or
metadata each cloud keeps them in): the cloud carries the write out, then the connection is
closed without an answer, or a gateway answers HTTP 502. A queued change (-queue-*) is accepted
but shows nothing (state, image, task) for -queue-time, then runs; a change submitted again
meanwhile is carried out twice. Chosen ids are hit every time, rates are drawn from -seed.
GET /_sim/stats counts them under "faults" ("lost_answer/TYPE/OPERATION": N, …).

Health (rollout.health): with -health-port, every running instance answers HTTP and TCP on its
private address (127.x.y.z, as the look-ups report it) at that port; -unhealthy-ids and
-unhealthy-rate make instances stop answering once their change is done.

Examples:
  reimage sim -fleet examples/mixed-fleet.yaml
  reimage sim -instances 10000 -stopped 0.2 `+strings.Join(examples, " ")+` -error-rate 0.05 -fail-rate 0.01
  reimage sim -fleet examples/mixed-fleet.yaml -lose-answer-rate 0.1 -gateway-502-rate 0.1 -queue-time 3s -queue-rate 0.2
  reimage apply examples/mixed-fleet.yaml -sim-url http://127.0.0.1:8686 -auto-approve`, stdio)
	var f simFlags
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8686", "`ADDR`ess to listen on (port 0 picks a free port)")
	fs.StringVar(&f.fleet, "fleet", "", "seed the fleet with every instance of `PLAN`, on older images")
	fs.IntVar(&f.instances, "instances", 0, "add `N` synthetic instances, shared evenly among the clouds")
	fs.Float64Var(&f.stopped, "stopped", 0, "`FRACTION` of the seeded instances that start stopped")
	fs.StringVar(&f.projectID, "project-id", "", "accepted project `ID` of the clouds scoped to projects (default: the plan's projectIds, else the clouds' project variable, else one derived from -seed)")
	fs.Int64Var(&f.seed, "seed", 1, "`SEED` of the fleet, generated ids and fault decisions")
	f.rates = map[string]*float64{}
	for _, fe := range fronts {
		f.rates[fe.Type] = fs.Float64("rate-"+fe.Type, 0, "`RATE`: "+fe.Name()+" requests per second before HTTP 429 (0: unlimited)")
	}
	fs.DurationVar(&f.latency, "latency", 0, "`DURATION` added to every API answer")
	fs.Float64Var(&f.errorRate, "error-rate", 0, "`FRACTION` of API requests answered 5xx, before any effect")
	fs.Float64Var(&f.failRate, "fail-rate", 0, "`FRACTION` of rebuilds that fail (the instance ends in the cloud's error state)")
	fs.StringVar(&f.failIDs, "fail-ids", "", "comma-separated instance `IDS` whose rebuilds always fail")
	fs.Float64Var(&f.jobFailRate, "job-fail-rate", 0, "`FRACTION` of changes whose job fails without harm, in clouds whose API has jobs: the instance is left stopped on its old image")
	fs.StringVar(&f.jobFailIDs, "job-fail-ids", "", "comma-separated instance `IDS` whose change jobs always fail without harm (clouds whose API has jobs)")
	fs.DurationVar(&f.stopTime, "stop-time", 5*time.Second, "how long a stop takes")
	fs.DurationVar(&f.rebuildTime, "rebuild-time", 20*time.Second, "how long a rebuild takes")
	fs.DurationVar(&f.startTime, "start-time", 5*time.Second, "how long a start takes")
	fs.Float64Var(&f.jitter, "jitter", 0.2, "vary each duration by up to ±`FRACTION` of it")
	fs.Float64Var(&f.loseRate, "lose-answer-rate", 0, "`FRACTION` of writes whose answer is lost after the cloud acted (connection closed)")
	fs.StringVar(&f.loseIDs, "lose-answer-ids", "", "comma-separated instance `IDS` whose writes always lose their answer after the cloud acted")
	fs.Float64Var(&f.gatewayRate, "gateway-502-rate", 0, "`FRACTION` of writes answered HTTP 502 by a gateway after the cloud acted")
	fs.StringVar(&f.gatewayIDs, "gateway-502-ids", "", "comma-separated instance `IDS` whose writes are always answered 502 after the cloud acted")
	fs.StringVar(&f.faultOps, "fault-ops", "", "comma-separated `OPS` (stop, start, change, reinstall, mark) the lost answers and 502s hit (default the first four)")
	fs.DurationVar(&f.queueTime, "queue-time", 0, "how long a queued change or reinstall shows nothing before it runs (0: none queued)")
	fs.Float64Var(&f.queueRate, "queue-rate", 0, "`FRACTION` of changes queued for -queue-time (default 1 when -queue-time is set without -queue-ids)")
	fs.StringVar(&f.missingImages, "missing-images", "", "comma-separated image `IDS` the clouds do not know (pre-flight finds them absent; changes to them are refused)")
	fs.StringVar(&f.unusableImages, "unusable-images", "", "comma-separated image `IDS` the clouds know but cannot use (not active)")
	fs.StringVar(&f.prepaidIDs, "prepaid-ids", "", "comma-separated instance `IDS` that are prepaid, for clouds that bill so: a change that does not pay its order waits for payment and does nothing")
	fs.StringVar(&f.lockedIDs, "locked-ids", "", "comma-separated instance `IDS` the cloud reports locked: it refuses every operation on them (clouds whose API has locked instances)")
	fs.StringVar(&f.unknownIDs, "unknown-ids", "", "comma-separated instance `IDS` whose state the cloud reports unknown: it refuses every operation on them (clouds whose API has that state)")
	fs.StringVar(&f.queueIDs, "queue-ids", "", "comma-separated instance `IDS` whose changes are always queued for -queue-time")
	fs.IntVar(&f.healthPort, "health-port", 0, "every running instance answers HTTP (200 to any GET) and TCP health checks on its private address (127.x.y.z) at `PORT` (0: none)")
	fs.Float64Var(&f.unhealthyRate, "unhealthy-rate", 0, "`FRACTION` of instances that stop answering health checks after their change (chosen from -seed and the id)")
	fs.StringVar(&f.unhealthyIDs, "unhealthy-ids", "", "comma-separated instance `IDS` that stop answering health checks after their change")
	if err := parseFlags(fs, args, stdio); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(c.Name(), "unexpected argument %q (the plan goes after -fleet)", fs.Arg(0))
	}
	if f.fleet == "" && f.instances <= 0 {
		return usagef(c.Name(), "nothing to simulate: give -fleet PLAN or -instances N")
	}
	for name, v := range map[string]float64{"-stopped": f.stopped, "-error-rate": f.errorRate, "-fail-rate": f.failRate, "-job-fail-rate": f.jobFailRate, "-jitter": f.jitter,
		"-lose-answer-rate": f.loseRate, "-gateway-502-rate": f.gatewayRate, "-queue-rate": f.queueRate, "-unhealthy-rate": f.unhealthyRate} {
		if v < 0 || v > 1 {
			return usagef(c.Name(), "%s must be a fraction from 0 to 1, got %g", name, v)
		}
	}
	rates := map[string]float64{}
	for typ, r := range f.rates {
		if *r < 0 {
			return usagef(c.Name(), "rates and durations cannot be negative")
		}
		rates[typ] = *r
	}
	if f.latency < 0 || f.stopTime < 0 || f.rebuildTime < 0 || f.startTime < 0 || f.queueTime < 0 {
		return usagef(c.Name(), "rates and durations cannot be negative")
	}
	faultOps := idList(f.faultOps)
	for _, op := range faultOps {
		if !sim.ValidFaultOp(op) {
			return usagef(c.Name(), "-fault-ops: %q is not one of stop, start, change, reinstall, mark", op)
		}
	}
	if f.healthPort < 0 || f.healthPort > 65535 {
		return usagef(c.Name(), "-health-port must be a port from 1 to 65535 (0: none), got %d", f.healthPort)
	}
	if (f.unhealthyRate > 0 || f.unhealthyIDs != "") && f.healthPort == 0 {
		return usagef(c.Name(), "-unhealthy-rate and -unhealthy-ids need -health-port")
	}
	if (f.queueRate > 0 || f.queueIDs != "") && f.queueTime == 0 {
		return usagef(c.Name(), "-queue-rate and -queue-ids need -queue-time")
	}
	if f.queueTime > 0 && f.queueRate == 0 && f.queueIDs == "" {
		f.queueRate = 1
	}

	var p *plan.Plan
	if f.fleet != "" {
		var err error
		if p, err = plan.Load(f.fleet); err != nil {
			var diags *plan.Diagnostics
			if errors.As(err, &diags) {
				fmt.Fprintln(stdio.Err, diags.Error())
				return WithExitCode(ExitFailure, nil)
			}
			return err
		}
	}

	opts := sim.Options{
		Seed:            f.seed,
		RateLimit:       rates,
		Latency:         f.latency,
		ServerErrorRate: f.errorRate,
		RebuildFailRate: f.failRate,
		StopDuration:    f.stopTime, RebuildDuration: f.rebuildTime, StartDuration: f.startTime,
		Jitter:      f.jitter,
		FailIDs:     idList(f.failIDs),
		JobFailRate: f.jobFailRate, JobFailIDs: idList(f.jobFailIDs),
		LostAnswerRate: f.loseRate, LostAnswerIDs: idList(f.loseIDs),
		Gateway502Rate: f.gatewayRate, Gateway502IDs: idList(f.gatewayIDs),
		FaultOps:   faultOps,
		QueueDelay: f.queueTime, QueueRate: f.queueRate, QueueIDs: idList(f.queueIDs),
		PrepaidIDs: idList(f.prepaidIDs),
		LockedIDs:  idList(f.lockedIDs), UnknownIDs: idList(f.unknownIDs),
		HealthPort: f.healthPort, UnhealthyRate: f.unhealthyRate, UnhealthyIDs: idList(f.unhealthyIDs),
		MissingImages: idList(f.missingImages), UnusableImages: idList(f.unusableImages),
	}
	// The project printed (and given to synthetic instances of project-scoped clouds) is the first accepted one.
	switch {
	case f.projectID != "":
		opts.ProjectIDs = []string{f.projectID}
	case p != nil && planProject(p) != "":
		opts.ProjectIDs = []string{planProject(p)}
	default:
		for _, fe := range fronts {
			if v := os.Getenv(fe.SimProjectEnv); fe.SimProjectEnv != "" && v != "" {
				opts.ProjectIDs = []string{v}
				break
			}
		}
	}
	for _, fe := range fronts {
		opts.SetCredentials(fe.Type, os.Getenv(fe.SimAccessKeyEnv), os.Getenv(fe.SimSecretKeyEnv))
	}
	// Credentials nobody set are random, not derived from the seed: the simulator may listen
	// beyond loopback, and they are printed anyway.
	sim.RandomCredentials(&opts)
	s := sim.New(opts)
	if p != nil {
		if err := s.SeedPlan(p, f.stopped); err != nil {
			return err
		}
	}
	if f.instances > 0 {
		s.SeedSynthetic(f.instances, f.stopped)
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	base, err := s.Start(f.listen)
	if err != nil {
		return err
	}
	o := s.Options()
	fmt.Fprintln(stdio.Out, base)
	var where []string
	for _, fe := range fronts {
		if ak, sk, ok := o.Credentials(fe.Type); ok {
			fmt.Fprintf(stdio.Out, "%s=%s\n%s=%s\n", fe.SimAccessKeyEnv, ak, fe.SimSecretKeyEnv, sk)
		}
		where = append(where, fe.Name()+" "+fe.Where())
	}
	for _, fe := range fronts {
		if fe.SimProjectEnv != "" {
			fmt.Fprintf(stdio.Out, "%s=%s\n", fe.SimProjectEnv, o.ProjectIDs[0])
		}
	}
	fmt.Fprintf(stdio.Err, "reimage sim: serving %d instances at %s (%s, fleet at %s/_sim/instances); Ctrl-C stops\n",
		len(s.Instances()), base, strings.Join(where, ", "), base)

	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(shutdownCtx); err != nil {
		s.Close()
	}
	fmt.Fprintln(stdio.Err, "reimage sim: stopped")
	return nil
}

// idList splits a comma-separated flag value, dropping blanks.
func idList(v string) []string {
	var out []string
	for id := range strings.SplitSeq(v, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// planProject is the project id of the plan's first project-scoped provider
// (by name), if any.
func planProject(p *plan.Plan) string {
	best := ""
	for name, prov := range p.Providers {
		if d, _ := providers.Lookup(prov.Type); d.NeedsProject && prov.Settings[providers.ProjectSetting] != "" && (best == "" || name < best) {
			best = name
		}
	}
	if best == "" {
		return ""
	}
	return p.Providers[best].Settings[providers.ProjectSetting]
}

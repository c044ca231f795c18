package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/executor/operation"
	"github.com/reimage-dev/reimage/metricsout"
	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/sim"
)

// fleetFlags are the flags plan and apply share: which instances, and which cloud.
type fleetFlags struct {
	shard        string
	sim          bool
	simURL       string
	simPause     time.Duration
	pollInterval time.Duration
	narrow       narrowFlags
}

func (f *fleetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.shard, "shard", "", "act on share `I/N` of the instances (0 <= I < N), split by a hash of provider and id")
	fs.BoolVar(&f.sim, "sim", false, "start the simulator in-process, seeded with the plan's instances on an older image, and use it instead of the clouds")
	fs.StringVar(&f.simURL, "sim-url", "", "use a simulator already running at `URL` (reimage sim) instead of the clouds; credentials from "+credentialVars(" and ", true))
	fs.DurationVar(&f.simPause, "sim-pause", 2*time.Second, "with -sim or -sim-url, shorten every pause between waves to at most this")
	fs.DurationVar(&f.pollInterval, "poll-interval", 0, "how often instances in flight are polled (default 5s; 100ms with -sim or -sim-url)")
	f.narrow.register(fs)
}

// fleet is a loaded plan with a client per provider: the operation's fleet,
// and how the command line built it (a simulator, endpoints, the clients to
// close).
type fleet struct {
	*operation.Fleet
	simulator *sim.Server
	// simulated: the clients talk to a simulator (-sim or -sim-url).
	simulated bool
	poll      time.Duration
	closers   []func()
}

// Close closes the clients (waiting for their calls in flight) and the
// simulator; a second Close does nothing.
func (f *fleet) Close() {
	closers := f.closers
	f.closers = nil
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
}

// loadPlanArg loads a YAML plan or a saved plan (and the plan file it names).
func loadPlanArg(path string) (*plan.Plan, *plan.Saved, error) {
	head := make([]byte, 4096)
	if fh, err := os.Open(path); err == nil {
		n, _ := fh.Read(head)
		fh.Close()
		head = head[:n]
	}
	if !plan.IsSaved(head) {
		p, err := plan.Load(path)
		return p, nil, err
	}
	saved, err := plan.ReadSaved(path)
	if err != nil {
		return nil, nil, err
	}
	// Read once: the bytes compared with the saved sum are the bytes parsed.
	file := saved.PlanFile(path)
	p, err := plan.Load(file)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, nil, fmt.Errorf("saved plan %s was made from %s: %w", path, file, err)
		}
		return nil, nil, err
	}
	if p.SHA256 != saved.FileSHA256 {
		return nil, nil, fmt.Errorf("saved plan %s is stale: the plan file %s has changed since it was saved; run reimage plan -out again", path, file)
	}
	return p, saved, nil
}

// openFleet loads the plan, selects the shard, and builds the cloud clients
// (or a simulator and clients pointed at it). Every error here comes before any
// change, so callers exit 1 on it.
func openFleet(ff *fleetFlags, path string, reg prometheus.Registerer, logger *slog.Logger) (*fleet, error) {
	p, saved, err := loadPlanArg(path)
	if err != nil {
		return nil, err
	}
	var shard plan.Shard
	if ff.shard != "" {
		if shard, err = plan.ParseShard(ff.shard); err != nil {
			return nil, usagef("", "-shard: %v", err)
		}
	}
	if saved != nil && saved.Shard != shard.String() {
		return nil, fmt.Errorf("saved plan %s was made for shard %q, not %q", path, saved.Shard, shard.String())
	}
	narrow := ff.narrow
	if err := narrow.check(); err != nil {
		return nil, err
	}
	if saved != nil {
		if err := narrow.adoptSaved(path, saved); err != nil {
			return nil, err
		}
	}
	// Until resolved, Plan is the shard of the listed instances: what a
	// command that does not resolve the plan (or has not yet) may act on.
	f := &fleet{Fleet: operation.NewFleet(p, saved, shard, narrow.Narrowing), poll: ff.pollInterval}
	if ff.sim && ff.simURL != "" {
		return nil, usagef("", "-sim and -sim-url exclude each other")
	}
	simulated := ff.sim || ff.simURL != ""
	f.simulated = simulated
	f.Secret = f.secretResolver(logger)
	endpoint := ff.simURL
	if ff.sim {
		opts := sim.Options{
			Seed:            1,
			StopDuration:    time.Second,
			RebuildDuration: 2 * time.Second,
			StartDuration:   time.Second,
			Jitter:          0.2,
			HealthPort:      simHealthPort(p),
		}
		sim.RandomCredentials(&opts)
		s := sim.New(opts)
		if err := s.SeedPlan(p, 0.25); err != nil {
			return nil, fmt.Errorf("seed the simulator: %w", err)
		}
		// Three instances per selector: enough to see a selector choose a few.
		if err := s.SeedSelection(p, 3, 0.25); err != nil {
			return nil, fmt.Errorf("seed the simulator: %w", err)
		}
		if endpoint, err = s.Start("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("start the simulator: %w", err)
		}
		f.simulator = s
		f.closers = append(f.closers, func() { s.Close() })
		logger.Info("simulator started", "url", endpoint)
	}
	if simulated {
		if f.poll == 0 {
			f.poll = 100 * time.Millisecond
		}
		for i := range f.Plan.Rollout.Waves {
			w := &f.Plan.Rollout.Waves[i]
			w.Pause = min(w.Pause, ff.simPause)
		}
	}
	if f.poll == 0 {
		f.poll = executor.DefaultPollInterval
	}
	var metrics *providers.APIMetrics
	if reg != nil {
		// The plan (and shard) label every series, as they do the run metrics.
		metrics = providers.NewAPIMetrics(reg, metricsout.PlanLabels(f.Plan.Name, f.Shard.String()))
	}
	f.Providers = map[string]providers.Provider{}
	f.Endpoints = map[string]string{}
	names := make([]string, 0, len(f.Plan.Providers))
	for name := range f.Plan.Providers {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		pp := f.Plan.Providers[name]
		cfg := providers.Config{
			Name: name, Region: pp.Region, Endpoint: pp.Endpoint, Settings: pp.Settings,
			RequestsPerSecond: pp.Limits.RequestsPerSecond, Burst: pp.Limits.Burst,
			Metrics: metrics, Logger: logger,
		}
		switch {
		case ff.sim:
			cfg.Endpoint = endpoint
			var ok bool
			if cfg.AccessKey, cfg.SecretKey, ok = f.simulator.Options().Credentials(pp.Type); !ok {
				err = fmt.Errorf("-sim: the simulator does not simulate %s", pp.Type)
			}
		case simulated:
			cfg.Endpoint = endpoint
			if cfg.AccessKey, cfg.SecretKey, err = providers.SimCredentials(pp.Type); err != nil {
				err = fmt.Errorf("-sim-url: %w", err)
			}
		default:
			cfg.AccessKey, cfg.SecretKey, err = providers.ResolveCredentials(pp)
		}
		var located *providers.SecretRefError
		if errors.As(err, &located) {
			errs = append(errs, err) // at its place in the plan, which names the provider
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("provider %s: %w", name, err))
			continue
		}
		// The client's errors name it (type and provider name) already.
		prov, closeFn, err := providers.Open(pp.Type, cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.Providers[name] = prov
		f.Endpoints[name] = plan.EndpointOf(pp, endpointName(ff, cfg.Endpoint))
		f.closers = append(f.closers, closeFn)
	}
	if err := errors.Join(errs...); err != nil {
		f.Close()
		return nil, err
	}
	if saved != nil {
		if stale := saved.StaleEndpoints(f.Endpoints); len(stale) > 0 {
			f.Close()
			return nil, fmt.Errorf("saved plan %s is stale: it was made against other endpoints:\n  %s\nRun reimage plan -out again", path, strings.Join(stale, "\n  "))
		}
	}
	return f, nil
}

// endpointName is the endpoint a saved plan binds: an in-process simulator
// (-sim) listens on a new port every time, so it is named, not addressed.
func endpointName(ff *fleetFlags, endpoint string) string {
	if ff.sim {
		return "simulator"
	}
	return endpoint
}

// secretResolver resolves login passwords from the plan's references. On a
// simulator a reference that does not resolve (the variable is set only where
// the real fleet is managed) gets a throwaway password instead, so that a
// rehearsal needs no production secret.
func (f *fleet) secretResolver(logger *slog.Logger) func(*plan.SecretRef) (string, error) {
	if !f.simulated {
		return nil
	}
	// One throwaway per reference, and one warning: pre-flight and the change
	// resolve the same reference, and every instance of a default shares it.
	var mu sync.Mutex
	throwaway := map[string]string{}
	return func(ref *plan.SecretRef) (string, error) {
		if v, err := ref.Resolve(); err == nil {
			return v, nil
		}
		mu.Lock()
		defer mu.Unlock()
		if v, ok := throwaway[ref.String()]; ok {
			return v, nil
		}
		logger.Warn("simulator: login password " + ref.String() + " does not resolve; using a throwaway password")
		v := "Sim-" + rand.Text()[:12] + "7a"
		throwaway[ref.String()] = v
		return v, nil
	}
}

// stateFiles returns the lock and journal paths of the plan (and shard) in
// dir. The default keeps a simulator's journal away from the real fleet's,
// since a reinstall token done on a simulator must not count as done on the
// clouds: .reimage beside the plan for the clouds, .reimage-sim for -sim-url,
// and a directory of its own, removed at the end, for -sim (whose fleet starts
// afresh every time).
func (f *fleet) stateFiles(dir string) (lock, journal string, err error) {
	switch {
	case dir != "":
	case f.simulator != nil:
		if dir, err = os.MkdirTemp("", "reimage-sim-state"); err != nil {
			return "", "", fmt.Errorf("state directory: %w", err)
		}
		f.closers = append(f.closers, func() { os.RemoveAll(dir) })
	case f.simulated:
		dir = filepath.Join(filepath.Dir(f.Plan.File), ".reimage-sim")
	default:
		dir = filepath.Join(filepath.Dir(f.Plan.File), ".reimage")
	}
	lock, journal = executor.StateFiles(dir, f.Plan.Name, f.Shard)
	return lock, journal, nil
}

// adoptOtherJournals takes over what the other journals of the state
// directory hold for this run's instances: the plan's journals of other shard
// counts (and what they hold for instances no longer in the plan), and those
// of other names, found by the instances' ids (a plan renamed, and re-sharded,
// since a run was killed). An instance an earlier run stopped is started
// again, and a token in doubt stays blocked (executor.AdoptOthers). The plan
// is resolved first: the instances selectors choose are this run's too, and
// those of another shard are not.
func (f *fleet) adoptOtherJournals(ctx context.Context, j *executor.Journal, logger *slog.Logger) error {
	if err := f.Resolve(ctx); err != nil {
		return err
	}
	host, _ := os.Hostname()
	res, err := executor.AdoptOthers(j, f.AdoptScope(),
		executor.Holder{PID: os.Getpid(), Host: host, Started: time.Now().UTC(), Plan: f.Plan.Name})
	if res.Adopted > 0 {
		logger.Info("adopted instances from other journals of the state directory", "instances", res.Adopted)
	}
	for _, u := range res.Unclaimed {
		logger.Warn(u.String(), "instance", u.ID, "journal", u.Journal)
	}
	return err
}

// Package forecast predicts how long a rollout takes: the waves and pauses,
// the concurrency and per-provider lanes as the engine schedules them, each
// provider's request rate and the write calls each step costs (stops in
// batches), and each step's duration, observed by earlier runs or a cloud's
// default. It is the one model of a rollout's time: plan's forecast, apply's
// ETA (the same model on the work left) and the benchmarks' lower bound
// (Bound) all read the same Input.
//
// The model is a discrete-event simulation of the engine, not a formula: a
// wave lasts as long as its instances take through the slots and the rate
// limiters, which a closed form gets right only at its extremes (all rate or
// all steps). It is pure: no clock, no I/O.
package forecast

import (
	"container/heap"
	"math"
	"time"
)

// Step names a part of an instance's change whose duration the model needs.
type Step string

// The steps the model knows. Waits are the cloud's time (measured by the
// engine from the step's start to the next step, poll rounding included);
// Call is one write call's latency, without its wait for the rate limiter
// (the model adds that).
const (
	// Stop: a stop call until the instance shows stopped.
	Stop Step = "stop"
	// Change: the change of a stopped instance, from the call until the cloud
	// reports it done (a cloud that boots the rebuilt instance includes the boot).
	Change Step = "change"
	// ChangeRunning: the change of a running instance on a cloud whose change
	// call stops it itself (and starts it again).
	ChangeRunning Step = "change_running"
	// Start: a start call until the instance runs.
	Start Step = "start"
	// Health: the health checks after the warmup, until healthy.
	Health Step = "health"
	// Hooks: the before and after hooks of one instance together.
	Hooks Step = "hooks"
	// Call: one write call's answer.
	Call Step = "call"
)

// Steps lists every Step, in the order an instance meets them.
var Steps = []Step{Call, Stop, Change, ChangeRunning, Start, Health, Hooks}

// Estimate is one step's duration and where it comes from.
type Estimate struct {
	D time.Duration
	// Runs is how many earlier runs observed it; 0: the cloud's default.
	Runs int
	// Current: this run observed it (apply's ETA), which overrides Runs.
	Current bool
}

// Observed reports whether the estimate comes from a run rather than a default.
func (e Estimate) Observed() bool { return e.Runs > 0 || e.Current }

// Durations are one provider's step estimates.
type Durations map[Step]Estimate

// DefaultBatch is how many ids one stop or start call carries (both clouds' batch size).
const DefaultBatch = 100

// Provider is what the model knows of one provider entry of the plan.
type Provider struct {
	// Rate is the provider's requests per second; Burst its limiter's burst
	// (1 when zero).
	Rate  float64
	Burst int
	// ChangeStopsRunning: the change call stops a running instance itself
	// (providers.Capabilities.ChangeStopsRunning), so no stop step comes first.
	ChangeStopsRunning bool
	// Batch is how many ids a stop call carries; DefaultBatch when zero.
	Batch     int
	Durations Durations
}

// Instance is one change, in wave order.
type Instance struct {
	Provider string
	// Running: the instance runs and is stopped for its change (by a stop
	// step, or by the change call itself).
	Running bool
	// Reinstall: a reinstall token's change, which sets two markers on the
	// instance (two more write calls).
	Reinstall bool
}

// Wave is one wave's size and the pause after it.
type Wave struct {
	Size  int
	Pause time.Duration
}

// InFlight is an instance already under way (apply's ETA): it holds a slot
// for Left more and makes no further call the model counts.
type InFlight struct {
	Provider string
	Left     time.Duration
}

// Input is a rollout for the model.
type Input struct {
	// Instances in wave order; Waves cut them.
	Instances []Instance
	Waves     []Wave
	// Concurrency is rollout.concurrency (at least 1).
	Concurrency int
	Providers   map[string]Provider
	// Poll is the engine's poll interval: a wait ends on the tick that sees
	// it over.
	Poll time.Duration
	// Warmup is rollout.health's warmup (0 without health checks); Health
	// and Hooks say whether the plan has health checks and hooks at all.
	Warmup        time.Duration
	Health, Hooks bool
	// Delay comes before the first wave (the rest of a pause, for the ETA).
	Delay time.Duration
	// InFlight are instances of the first wave already under way.
	InFlight []InFlight
}

// WaveResult is one wave's forecast.
type WaveResult struct {
	Size int
	// Start is from the rollout's start; Duration the wave's own, without the
	// pause after it.
	Start, Duration time.Duration
	Pause           time.Duration
}

// Result is a forecast.
type Result struct {
	// Total is from the first wave's start to the last instance's end,
	// pauses included.
	Total time.Duration
	Waves []WaveResult
}

// writeBacklog mirrors the engine's lanes (executor/lanes.go): a provider
// whose instances about to write amount to this much of its rate takes no
// more slots while another provider could use them.
const writeBacklog = 500 * time.Millisecond

// segment is one part of an instance's timeline.
type segment struct {
	write bool          // a write call through the provider's limiter
	batch bool          // a stop: coalesced with others of the same moment
	d     time.Duration // a wait's duration, or the call's latency
}

// timeline is what one instance goes through after its re-check, as the
// engine does it (executor.steps): stop and wait (unless the change call
// stops the instance itself), a marker for a reinstall, the change and its
// wait, the done marker, then the warmup, health and hooks.
func (in Input) timeline(i Instance) []segment {
	p := in.Providers[i.Provider]
	call := p.Durations[Call].D
	var s []segment
	change := Change
	if i.Running {
		if p.ChangeStopsRunning {
			change = ChangeRunning
		} else {
			s = append(s, segment{write: true, batch: true, d: call}, segment{d: p.Durations[Stop].D})
		}
	}
	if i.Reinstall {
		s = append(s, segment{write: true, d: call})
	}
	s = append(s, segment{write: true, d: call}, segment{d: p.Durations[change].D})
	if i.Reinstall {
		s = append(s, segment{write: true, d: call})
	}
	var after time.Duration
	if in.Health {
		after += in.Warmup + p.Durations[Health].D
	}
	if in.Hooks {
		after += p.Durations[Hooks].D
	}
	if after > 0 {
		s = append(s, segment{d: after})
	}
	return s
}

// Forecast simulates the rollout.
func Forecast(in Input) Result {
	sim := newSimulation(in)
	var res Result
	t := in.Delay
	next := 0
	for w, wave := range in.Waves {
		size := min(wave.Size, len(in.Instances)-next)
		insts := in.Instances[next : next+size]
		next += size
		var inflight []InFlight
		if w == 0 {
			inflight = in.InFlight
		}
		d := sim.wave(t, insts, inflight)
		res.Waves = append(res.Waves, WaveResult{Size: size, Start: t, Duration: d})
		t += d
		if w+1 < len(in.Waves) && wave.Pause > 0 {
			res.Waves[w].Pause = wave.Pause
			t += wave.Pause
		}
	}
	if len(in.Waves) == 0 && len(in.InFlight) > 0 {
		d := sim.wave(t, nil, in.InFlight)
		res.Waves = append(res.Waves, WaveResult{Start: t, Duration: d})
		t += d
	}
	res.Total = t
	return res
}

// Bound is the lower bound on the rollout's time that its parameters allow,
// what no client could beat: for each wave the larger of (a) each provider's
// write calls at its rate (a change per instance, a stop call per Batch
// instances it stops, two markers per reinstall) and (b) the wave's
// instance-time at the step durations (waits only: no re-check, no call
// latency) spread over the concurrency, and at least its longest instance;
// plus the pauses. Look-ups and polls are left out.
func Bound(in Input) Result {
	var res Result
	t := in.Delay
	next := 0
	conc := max(in.Concurrency, 1)
	for w, wave := range in.Waves {
		size := min(wave.Size, len(in.Instances)-next)
		insts := in.Instances[next : next+size]
		next += size
		writes := map[string]float64{}
		stops := map[string]int{}
		var work, longest time.Duration
		for _, i := range insts {
			var d time.Duration
			for _, s := range in.timeline(i) {
				switch {
				case s.batch:
					stops[i.Provider]++
				case s.write:
					writes[i.Provider]++
				default:
					d += s.d
				}
			}
			work += d
			longest = max(longest, d)
		}
		var rateTime float64
		for name, n := range writes {
			p := in.Providers[name]
			n += math.Ceil(float64(stops[name]) / float64(batchOf(p)))
			if p.Rate > 0 {
				rateTime = max(rateTime, n/p.Rate)
			}
		}
		d := max(time.Duration(rateTime*float64(time.Second)), work/time.Duration(conc), longest)
		res.Waves = append(res.Waves, WaveResult{Size: size, Start: t, Duration: d})
		t += d
		if w+1 < len(in.Waves) && wave.Pause > 0 {
			res.Waves[w].Pause = wave.Pause
			t += wave.Pause
		}
	}
	res.Total = t
	return res
}

func batchOf(p Provider) int {
	if p.Batch > 0 {
		return p.Batch
	}
	return DefaultBatch
}

// simulation is the engine's scheduling, replayed on a virtual clock. The
// limiters carry over from wave to wave, as the clients' do.
type simulation struct {
	in      Input
	limiter map[string]*limiter
	// limit is each provider's write backlog that saturates its lane.
	limit map[string]int
}

func newSimulation(in Input) *simulation {
	s := &simulation{in: in, limiter: map[string]*limiter{}, limit: map[string]int{}}
	for name, p := range in.Providers {
		s.limiter[name] = newLimiter(p.Rate, p.Burst)
		rate := p.Rate
		if rate <= 0 {
			rate = math.Inf(1)
		}
		s.limit[name] = max(int(math.Min(rate*writeBacklog.Seconds(), math.MaxInt32)), 1)
	}
	return s
}

// limiter is a token bucket (GCRA): a call asked for at t goes at the
// earliest time the bucket allows, in the order asked.
type limiter struct {
	interval, tolerance time.Duration
	tat                 time.Duration // theoretical arrival time
}

func newLimiter(rate float64, burst int) *limiter {
	if rate <= 0 {
		return &limiter{}
	}
	iv := time.Duration(float64(time.Second) / rate)
	return &limiter{interval: iv, tolerance: time.Duration(max(burst, 1)-1) * iv}
}

func (l *limiter) take(t time.Duration) time.Duration {
	if l.interval == 0 {
		return t
	}
	at := max(t, l.tat-l.tolerance)
	l.tat = max(l.tat, t) + l.interval
	return at
}

// agent is one instance in the simulation.
type agent struct {
	provider string
	segs     []segment
	pos      int
	writing  bool
}

// event: at time t, agent a has finished its current part.
type event struct {
	t   time.Duration
	seq int
	a   *agent
}

type events []event

func (h events) Len() int { return len(h) }
func (h events) Less(i, j int) bool {
	if h[i].t != h[j].t {
		return h[i].t < h[j].t
	}
	return h[i].seq < h[j].seq
}
func (h events) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *events) Push(x any)   { *h = append(*h, x.(event)) }
func (h *events) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// batchKey groups stop calls asked for at the same moment by one provider.
type batchKey struct {
	provider string
	t        time.Duration
}

type batch struct {
	n    int
	done time.Duration
}

// wave runs one wave from start and returns its duration: until its last
// instance (and every one in flight) ends.
func (s *simulation) wave(start time.Duration, insts []Instance, inflight []InFlight) time.Duration {
	conc := max(s.in.Concurrency, 1)
	// Lanes: per provider, what is left to start, in plan order.
	var order []string
	queue := map[string][]Instance{}
	for _, i := range insts {
		if _, ok := queue[i.Provider]; !ok {
			order = append(order, i.Provider)
		}
		queue[i.Provider] = append(queue[i.Provider], i)
	}
	left := len(insts)
	writing := map[string]int{}
	batches := map[batchKey]*batch{}
	var h events
	seq := 0
	push := func(t time.Duration, a *agent) {
		seq++
		heap.Push(&h, event{t, seq, a})
	}
	free := conc
	end := start
	for _, f := range inflight {
		free--
		push(start+max(f.Left, 0), &agent{provider: f.Provider})
	}
	poll := s.in.Poll
	// A wait ends on the poll tick that sees it over. The durations measured
	// by the engine run to that tick already: half a tick, on average, of
	// each is the rounding, not the cloud.
	waitEnd := func(t, d time.Duration) time.Duration {
		if poll <= 0 {
			return t + d
		}
		end := t + d - poll/2
		if r := end % poll; r != 0 {
			end += poll - r
		}
		return max(end, t)
	}
	// Lanes' means (executor/lanes.go): in a wave's last round, the lane whose
	// instances take longest starts first, so that the short ones end the wave.
	mean := map[string]time.Duration{}
	for name, q := range queue {
		var sum time.Duration
		for _, i := range q {
			sum += s.in.Alone(i)
		}
		mean[name] = sum / time.Duration(len(q))
	}
	lastRound := func() bool {
		var work, longest time.Duration
		for _, name := range order {
			if n := len(queue[name]); n > 0 {
				work += time.Duration(n) * mean[name]
				longest = max(longest, mean[name])
			}
		}
		return work <= time.Duration(conc)*longest
	}
	// advance moves a to its next part at time t.
	advance := func(a *agent, t time.Duration) {
		if a.pos >= len(a.segs) {
			if a.writing {
				writing[a.provider]--
				a.writing = false
			}
			push(t, a) // ends: its slot frees at t
			a.pos++
			return
		}
		sg := a.segs[a.pos]
		a.pos++
		if sg.write != a.writing {
			if sg.write {
				writing[a.provider]++
			} else {
				writing[a.provider]--
			}
			a.writing = sg.write
		}
		if !sg.write {
			push(waitEnd(t, sg.d), a)
			return
		}
		if sg.batch {
			k := batchKey{a.provider, t}
			if b := batches[k]; b != nil && b.n < batchOf(s.in.Providers[a.provider]) {
				b.n++
				push(b.done, a)
				return
			}
			b := &batch{n: 1, done: s.limiter[a.provider].take(t) + sg.d}
			batches[k] = b
			push(b.done, a)
			return
		}
		push(s.limiter[a.provider].take(t)+sg.d, a)
	}
	// dispatch starts instances while slots are free and a lane may take one.
	dispatch := func(t time.Duration) {
		for free > 0 && left > 0 {
			last := lastRound()
			best := ""
			for _, name := range order {
				n := len(queue[name])
				if n == 0 || writing[name] >= s.limit[name] {
					continue
				}
				switch {
				case best == "":
				case last && mean[name] != mean[best]:
					if mean[name] < mean[best] {
						continue
					}
				case n <= len(queue[best]):
					continue
				}
				best = name
			}
			if best == "" {
				return // every lane saturated: a write's end frees one
			}
			i := queue[best][0]
			queue[best] = queue[best][1:]
			left--
			free--
			a := &agent{provider: i.Provider, segs: s.in.timeline(i), writing: true}
			writing[a.provider]++
			// The re-check: read ahead with the polls of the tick that freed
			// the slot (executor/ahead.go), so it costs no wait; at the
			// wave's start, a read made at once.
			recheck := t
			if t == start {
				recheck += s.in.Providers[i.Provider].Durations[Call].D
			}
			push(recheck, a)
		}
	}
	dispatch(start)
	for h.Len() > 0 {
		ev := heap.Pop(&h).(event)
		a := ev.a
		end = max(end, ev.t)
		if a.segs == nil || a.pos > len(a.segs) {
			// An instance (or one in flight) ended: its slot frees.
			free++
			dispatch(ev.t)
			continue
		}
		was := a.writing
		advance(a, ev.t)
		if was && !a.writing {
			dispatch(ev.t)
		}
	}
	return end - start
}

// Alone is how long instance i takes by itself, with no wait for a slot or
// the rate limiter: its calls and its waits.
func (in Input) Alone(i Instance) time.Duration {
	var d time.Duration
	for _, s := range in.timeline(i) {
		d += s.d
	}
	return d
}

// Progress is where a run stands, for Rest.
type Progress struct {
	// Wave is the wave under way (0-based), or the next one during a pause.
	Wave int
	// Started marks, by index of Input.Instances, the instances that started
	// (in flight or ended).
	Started []bool
	// InFlight are the instances under way, with what they have left.
	InFlight []InFlight
	// Pause is what is left of the pause before Wave.
	Pause time.Duration
}

// Rest is the rollout left at p: the instances of Wave and later waves not
// yet started, in their waves, after what is left of the pause, with the
// instances in flight holding their slots.
func (in Input) Rest(p Progress) Input {
	out := in
	out.Instances, out.Waves = nil, nil
	out.InFlight, out.Delay = p.InFlight, p.Pause
	next := 0
	for w, wave := range in.Waves {
		size := min(wave.Size, len(in.Instances)-next)
		start := next
		next += size
		if w < p.Wave {
			continue
		}
		n := 0
		for k := start; k < start+size; k++ {
			if k < len(p.Started) && p.Started[k] {
				continue
			}
			out.Instances = append(out.Instances, in.Instances[k])
			n++
		}
		out.Waves = append(out.Waves, Wave{Size: n, Pause: wave.Pause})
	}
	return out
}

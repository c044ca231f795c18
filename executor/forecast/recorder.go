package forecast

import (
	"sync"
	"time"

	"github.com/reimage-dev/reimage/executor"
)

// callQuantile is the figure of a run's write calls: a low percentile, the
// answer's latency without the waits behind the rate limiter that some calls
// had (the model adds those itself).
const callQuantile = 0.1

// Recorder measures, from a run's events, how long each step took each
// instance that was changed, per provider region: the time from a step's
// event to the instance's next event. Only instances that end done count: a
// failed step's time says nothing of the next one's. It is an
// executor.Observer, safe for concurrent use.
type Recorder struct {
	keys map[string]string // plan provider name → Key

	mu      sync.Mutex
	flying  map[string]*flight
	samples map[string]map[Step][]float64 // by Key, by step: seconds
}

type flight struct {
	step    string
	since   time.Time
	stopped bool // a stop step came first
	hooks   time.Duration
	got     []sample
}

type sample struct {
	step Step
	d    time.Duration
}

// NewRecorder returns a recorder; keys maps each of the plan's provider names
// to its Key.
func NewRecorder(keys map[string]string) *Recorder {
	return &Recorder{keys: keys, flying: map[string]*flight{}, samples: map[string]map[Step][]float64{}}
}

// Observe implements executor.Observer.
func (r *Recorder) Observe(e executor.Event) {
	if e.Change == nil || e.Change.Instance == nil {
		return
	}
	in := e.Change.Instance
	id := in.Provider + "/" + in.ID
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Type {
	case executor.EventInstanceStart:
		r.flying[id] = &flight{since: e.Time}
	case executor.EventInstanceStep:
		f := r.flying[id]
		if f == nil {
			return
		}
		f.end(e.Time, e.Change.StopFirst)
		f.step, f.since = e.Step, e.Time
		if e.Step == executor.StepStop {
			f.stopped = true
		}
	case executor.EventInstanceDone:
		f := r.flying[id]
		delete(r.flying, id)
		if f == nil {
			return
		}
		f.end(e.Time, e.Change.StopFirst)
		if f.hooks > 0 {
			f.got = append(f.got, sample{Hooks, f.hooks})
		}
		key, ok := r.keys[in.Provider]
		if !ok {
			return
		}
		if r.samples[key] == nil {
			r.samples[key] = map[Step][]float64{}
		}
		for _, s := range f.got {
			r.samples[key][s.step] = append(r.samples[key][s.step], s.d.Seconds())
		}
	case executor.EventInstanceFail, executor.EventInstanceInterrupted, executor.EventInstanceSkipped:
		delete(r.flying, id)
	}
}

// end closes the instance's current step at t.
func (f *flight) end(t time.Time, stopFirst bool) {
	d := t.Sub(f.since)
	if d < 0 || f.since.IsZero() {
		return
	}
	switch f.step {
	case executor.StepWaitStop:
		f.got = append(f.got, sample{Stop, d})
	case executor.StepWaitDone:
		step := Change
		if stopFirst && !f.stopped {
			step = ChangeRunning
		}
		f.got = append(f.got, sample{step, d})
	case executor.StepWaitStart:
		f.got = append(f.got, sample{Start, d})
	case executor.StepHealth:
		f.got = append(f.got, sample{Health, d})
	case executor.StepBeforeHook, executor.StepAfterHook:
		f.hooks += d
	case executor.StepSubmit:
		f.got = append(f.got, sample{Call, d})
	}
}

// Current returns what this run has observed so far for key.
func (r *Recorder) Current(key string) Durations {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := Durations{}
	for step, vs := range r.samples[key] {
		out[step] = Estimate{D: seconds(figure(step, vs)), Current: true}
	}
	return out
}

// AddTo adds this run's figures to the store.
func (r *Recorder) AddTo(s *Store, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, steps := range r.samples {
		for step, vs := range steps {
			s.Add(key, step, seconds(figure(step, vs)), len(vs), now)
		}
	}
}

// Empty reports whether no instance was measured.
func (r *Recorder) Empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.samples) == 0
}

func figure(step Step, vs []float64) float64 {
	if step == Call {
		return quantile(vs, callQuantile)
	}
	return median(vs)
}

// Merge returns the estimates of each step: this run's where it has
// observed the step, else earlier runs', else the default.
func Merge(defaults, stored, current Durations) Durations {
	out := Durations{}
	for _, src := range []Durations{defaults, stored, current} {
		for step, e := range src {
			out[step] = e
		}
	}
	return out
}

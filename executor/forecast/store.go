package forecast

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// FileName is the observed-durations file in the state directory.
const FileName = "durations.json"

// storeVersion is the file's format; a file of another version is ignored
// like a corrupted one.
const storeVersion = 1

// keepRuns is how many runs' figures a step keeps: the estimate is their
// median, so that one odd run (a cloud's slow hour) moves it little, and the
// cloud's speed of months ago falls out.
const keepRuns = 9

// Store holds the step durations that earlier runs observed, per cloud region
// (Key): a rebuild takes as long in a region whichever plan or provider entry
// asks for it, and a plan's entries are renamed and its shards come and go.
type Store struct {
	Version int `json:"version"`
	// Regions: by Key, by step.
	Regions map[string]map[Step]*History `json:"regions"`
}

// History is one step's figures in one region.
type History struct {
	// Runs are the figure of each recent run (its instances' median; a
	// low percentile for Call), oldest first, in seconds.
	Runs []float64 `json:"runs_seconds"`
	// Samples counts the instances behind them.
	Samples int       `json:"samples"`
	Updated time.Time `json:"updated"`
}

// Key is the Store's key of a provider: its type and region.
func Key(typ, region string) string { return typ + "/" + region }

// Load reads the store at path. A missing file is an empty store; a file that
// cannot be read or parsed is an empty store and an error that says why, for
// a warning: the forecast then uses the defaults, and the run goes on.
func Load(path string) (*Store, error) {
	s := &Store{Version: storeVersion, Regions: map[string]map[Step]*History{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("observed durations: %w", err)
	}
	var got Store
	if err := json.Unmarshal(b, &got); err != nil {
		return s, fmt.Errorf("observed durations %s: %w", path, err)
	}
	if got.Version != storeVersion {
		return s, fmt.Errorf("observed durations %s: version %d, want %d", path, got.Version, storeVersion)
	}
	for key, steps := range got.Regions {
		for step, h := range steps {
			if h == nil || len(h.Runs) == 0 {
				continue
			}
			for _, v := range h.Runs {
				if !(v >= 0) || v > 1e7 { // NaN, negative, absurd
					return s, fmt.Errorf("observed durations %s: %s %s: %v seconds is not a duration", path, key, step, v)
				}
			}
			if s.Regions[key] == nil {
				s.Regions[key] = map[Step]*History{}
			}
			s.Regions[key][step] = h
		}
	}
	return s, nil
}

// Estimates returns the observed estimate of each step of key.
func (s *Store) Estimates(key string) Durations {
	out := Durations{}
	for step, h := range s.Regions[key] {
		out[step] = Estimate{D: seconds(median(h.Runs)), Runs: len(h.Runs)}
	}
	return out
}

// Add records one run's figure d of step in key, from n instances.
func (s *Store) Add(key string, step Step, d time.Duration, n int, now time.Time) {
	if s.Regions == nil {
		s.Regions = map[string]map[Step]*History{}
	}
	if s.Regions[key] == nil {
		s.Regions[key] = map[Step]*History{}
	}
	h := s.Regions[key][step]
	if h == nil {
		h = &History{}
		s.Regions[key][step] = h
	}
	h.Runs = append(h.Runs, d.Seconds())
	if len(h.Runs) > keepRuns {
		h.Runs = slices.Clone(h.Runs[len(h.Runs)-keepRuns:])
	}
	h.Samples += n
	h.Updated = now.UTC()
}

// Write replaces the file at path atomically: a temporary file beside it,
// synced, renamed over it, and the directory synced, so that a crash leaves
// the old file or the new one, never half of one.
func (s *Store) Write(path string) error {
	s.Version = storeVersion
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("observed durations: %w", err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("observed durations: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename, there is nothing left to remove
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("observed durations: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("observed durations: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("observed durations: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("observed durations: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func seconds(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }

// median of vs (not empty); vs is not changed.
func median(vs []float64) float64 { return quantile(vs, 0.5) }

// quantile q of vs (not empty), interpolated between the nearest ranks.
func quantile(vs []float64, q float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(pos)
	if lo+1 >= len(s) {
		return s[lo]
	}
	return s[lo] + (s[lo+1]-s[lo])*(pos-float64(lo))
}

package executor

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// EventAdopted closes, in another journal of the same plan (another shard
// count), what this run's journal took over.
const EventAdopted = "adopted"

// Adopt takes over into j what other journals of the same plan in the state
// directory (written with another shard count) still hold for instances this
// run may act on: open intents (an instance an earlier run stopped, a change
// in doubt), reinstalls in doubt, broken instances and done tokens. It closes
// them there, so that nothing dangles in a journal no run reads any more. A
// journal whose lock another run holds is left alone: that run is handling
// it. mine reports whether an instance is this run's to adopt. The caller
// holds j's lock.
func Adopt(j *Journal, others []string, mine func(provider, id string) bool, holder Holder) (int, error) {
	adopted := 0
	var errs []error
	for _, path := range others {
		n, err := adoptOne(j, path, mine, holder)
		adopted += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return adopted, errors.Join(errs...)
}

func adoptOne(j *Journal, path string, mine func(provider, id string) bool, holder Holder) (int, error) {
	lock, err := AcquireLock(strings.TrimSuffix(path, ".journal")+".lock", holder)
	var le *LockedError
	if errors.As(err, &le) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("adopt %s: %w", path, err)
	}
	defer lock.Release()
	other, err := OpenJournal(path, nil)
	if err != nil {
		return 0, fmt.Errorf("adopt %s: %w", path, err)
	}
	defer other.Close()
	other.mu.Lock()
	keys := make([]string, 0, len(other.entries))
	for k := range other.entries {
		keys = append(keys, k)
	}
	other.mu.Unlock()
	n := 0
	for _, k := range keys {
		provider, id := splitKey(k)
		if !mine(provider, id) {
			continue
		}
		theirs := other.Entry(provider, id)
		ours := j.Entry(provider, id)
		var recs []Record
		if theirs.DoneToken != "" && ours.DoneToken == "" {
			recs = append(recs, Record{Event: EventDone, Provider: provider, ID: id, Token: theirs.DoneToken, Reason: "adopted from " + path})
		}
		for _, r := range []*Record{theirs.InDoubt, theirs.Broken, theirs.Pending} {
			if r != nil {
				c := *r
				c.Time = time.Time{}
				recs = append(recs, c)
			}
		}
		if len(recs) == 0 {
			continue
		}
		for _, r := range recs {
			if err := j.Append(r); err != nil {
				return n, err
			}
		}
		if err := other.Append(Record{Event: EventAdopted, Provider: provider, ID: id, Reason: "adopted by " + j.path}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

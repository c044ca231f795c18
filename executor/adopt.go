package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/reimage-dev/reimage/plan"
)

// EventAdopted closes, in another journal of the state directory, what this
// run's journal took over.
const EventAdopted = "adopted"

// StateFiles names the lock and the journal of a plan (and shard) in the
// state directory dir: NAME.lock and NAME.journal, where NAME is the plan's
// name, with ".shard-I-of-N" when the run is one of several shards.
func StateFiles(dir, planName string, shard plan.Shard) (lock, journal string) {
	base := planName
	if shard.Count > 1 {
		base += fmt.Sprintf(".shard-%d-of-%d", shard.Index, shard.Count)
	}
	return filepath.Join(dir, base+".lock"), filepath.Join(dir, base+".journal")
}

// isJournalOf reports whether the journal file name (a base name) is one of
// plan planName's, of any shard count (StateFiles).
func isJournalOf(name, planName string) bool {
	rest, ok := strings.CutPrefix(name, planName)
	if !ok {
		return false
	}
	if rest == ".journal" {
		return true
	}
	var i, n int
	var tail string
	if _, err := fmt.Sscanf(rest, ".shard-%d-of-%d%s", &i, &n, &tail); err != nil {
		return false
	}
	return tail == ".journal" && rest == fmt.Sprintf(".shard-%d-of-%d.journal", i, n)
}

// AdoptScope is what a run may take over from the other journals of its
// state directory.
type AdoptScope struct {
	// Plan is the plan's name. Its journals of other shard counts are this
	// plan's own: what they hold for instances no longer in the plan (in no
	// shard) is adopted too, so that an instance an earlier run stopped and
	// that has since left the plan is started again.
	Plan string
	// Run are the instances this run acts on (its shard and targets, the
	// selectors resolved); Full the plan's instances in every shard.
	Run, Full []*plan.Instance
}

// Claim reports whether an instance another journal records under provider
// and id is this run's to adopt, and under which provider name this run's
// journal knows it (a provider entry may have been renamed since).
type Claim func(provider, id string) (as string, ok bool)

// claim is the scope's Claim for a journal of this plan (samePlan) or of any
// other name. An instance is found by its provider and id, else by its id
// alone: ids are unique within a cloud (plan.Load and Resolve refuse one
// server under two provider entries), so an id the run acts on under exactly
// one provider entry is that instance, whatever the plan or provider entry
// that recorded it was called then. From a journal of another name only the
// run's instances are taken: the rest may be another plan's, in the same
// directory.
func (s AdoptScope) claim(samePlan bool) Claim {
	run := map[string]bool{}
	byID := map[string][]string{}
	full := map[string]bool{}
	fullIDs := map[string]bool{}
	for _, in := range s.Run {
		run[plan.Key(in.Provider, in.ID)] = true
		byID[in.ID] = append(byID[in.ID], in.Provider)
	}
	for _, in := range s.Full {
		full[plan.Key(in.Provider, in.ID)] = true
		fullIDs[in.ID] = true
	}
	return func(provider, id string) (string, bool) {
		k := plan.Key(provider, id)
		switch {
		case run[k]:
			return provider, true
		case full[k]:
			return "", false // another shard's
		case len(byID[id]) == 1:
			return byID[id][0], true
		case samePlan && !fullIDs[id]:
			return provider, true
		}
		return "", false
	}
}

// AdoptOthers takes over into j what the other journals in j's directory
// hold for this run's instances: those of the same plan with another shard
// count, and those of any other name, which is how a plan renamed (and
// re-sharded) since a run was killed finds the intents that run left open.
// It returns how many instances it took over. See adoptOne.
func AdoptOthers(j *Journal, scope AdoptScope, holder Holder) (int, error) {
	dir := filepath.Dir(j.path)
	found, err := filepath.Glob(filepath.Join(dir, "*.journal"))
	if err != nil {
		return 0, fmt.Errorf("adopt: %w", err)
	}
	sort.Strings(found)
	same, other := scope.claim(true), scope.claim(false)
	adopted := 0
	var errs []error
	for _, path := range found {
		if path == j.path {
			continue
		}
		claim := other
		if isJournalOf(filepath.Base(path), scope.Plan) {
			claim = same
		}
		n, err := adoptOne(j, path, claim, holder)
		adopted += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return adopted, errors.Join(errs...)
}

// adoption is what one instance's entry in another journal gives this run:
// records for j, and whether the entry is to be closed there (it held more
// than a done token, which stays true there too).
type adoption struct {
	provider, id string
	recs         []Record
	close        bool
}

// toAdopt lists what other holds for claim's instances that j lacks.
func toAdopt(j, other *Journal, claim Claim) []adoption {
	other.mu.Lock()
	keys := make([]string, 0, len(other.entries))
	for k := range other.entries {
		keys = append(keys, k)
	}
	other.mu.Unlock()
	sort.Strings(keys)
	var out []adoption
	for _, k := range keys {
		provider, id := splitKey(k)
		as, ok := claim(provider, id)
		if !ok {
			continue
		}
		theirs := other.Entry(provider, id)
		ours := j.Entry(as, id)
		a := adoption{provider: provider, id: id}
		if theirs.DoneToken != "" && ours.DoneToken == "" {
			a.recs = append(a.recs, Record{Event: EventDone, Provider: as, ID: id, Token: theirs.DoneToken, Reason: "adopted from " + other.path})
		}
		for _, r := range []*Record{theirs.InDoubt, theirs.Broken, theirs.Pending} {
			if r != nil {
				c := *r
				c.Time, c.Provider = time.Time{}, as
				a.recs = append(a.recs, c)
				a.close = true
			}
		}
		if len(a.recs) > 0 {
			out = append(out, a)
		}
	}
	return out
}

// adoptOne takes over into j what the journal at path (of another shard count,
// or name) still holds for instances claim says are this run's: open intents (an
// instance an earlier run stopped, a change in doubt), reinstalls in doubt,
// broken instances and done tokens. It closes the open ones there, so that
// nothing dangles in a journal no run reads any more and no two journals hold
// one open intent. A journal whose lock another run holds is left alone: that
// run is handling it. A journal is locked only when it holds something to
// take: the runs of other plans (or shards) starting at that moment must not
// find their lock held by this one. The caller holds j's lock.
func adoptOne(j *Journal, path string, claim Claim, holder Holder) (int, error) {
	// Look first, without the lock (a torn last line of a journal being
	// written is dropped as it is on every read).
	peek, err := ReadJournal(path)
	if err != nil {
		return 0, fmt.Errorf("adopt %s: %w", path, err)
	}
	if len(toAdopt(j, peek, claim)) == 0 {
		return 0, nil
	}
	lock, err := AcquireLock(strings.TrimSuffix(path, ".journal")+".lock", holder)
	var le *LockedError
	if errors.As(err, &le) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("adopt %s: %w", path, err)
	}
	defer lock.Release()
	if _, err := os.Stat(path); err != nil {
		// Gone since the look (removed by hand): nothing to take.
		return 0, nil
	}
	other, err := OpenJournal(path, nil)
	if err != nil {
		return 0, fmt.Errorf("adopt %s: %w", path, err)
	}
	defer other.Close()
	n := 0
	for _, a := range toAdopt(j, other, claim) {
		for _, r := range a.recs {
			if err := j.Append(r); err != nil {
				return n, err
			}
		}
		if a.close {
			if err := other.Append(Record{Event: EventAdopted, Provider: a.provider, ID: a.id, Reason: "adopted by " + j.path}); err != nil {
				return n, err
			}
		}
		n++
	}
	return n, nil
}

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
	// PlanPath is the plan file's absolute path (PlanPath). A journal of
	// another name whose records of an instance carry the same path is this
	// plan's, renamed since: what it holds for instances no longer in the
	// plan is adopted as from the plan's own journals.
	PlanPath string
	// Run are the instances this run acts on (its shard and targets, the
	// selectors resolved); Full the plan's instances in every shard.
	Run, Full []*plan.Instance
}

// PlanPath returns the absolute path of p's file, "" when it has none: what
// every journal record of its runs carries (Record.Plan).
func PlanPath(p *plan.Plan) string {
	if p.File == "" {
		return ""
	}
	abs, err := filepath.Abs(p.File)
	if err != nil {
		return ""
	}
	return abs
}

// Claim reports whether an instance another journal records under provider
// and id (its entry there: theirs) is this run's to adopt, and under which
// provider name this run's journal knows it (a provider entry may have been
// renamed since).
type Claim func(provider, id string, theirs Entry) (as string, ok bool)

// claimFrom is the scope's Claim for a journal whose name is the plan's
// (samePlanName) or another: an entry whose records carry the plan's path is
// the plan's own whatever the journal's name.
func (s AdoptScope) claimFrom(samePlanName bool) Claim {
	same, other := s.claim(true), s.claim(false)
	return func(provider, id string, theirs Entry) (string, bool) {
		if samePlanName || s.PlanPath != "" && theirs.plan() == s.PlanPath {
			return same(provider, id)
		}
		return other(provider, id)
	}
}

// plan is the plan path the entry's open records carry ("" for none).
func (e Entry) plan() string {
	for _, r := range []*Record{e.Pending, e.InDoubt, e.Broken} {
		if r != nil && r.Plan != "" {
			return r.Plan
		}
	}
	return ""
}

// Unclaimed is an instance that a run stopped and that another journal of the
// state directory holds open, which no run is known to start again: the
// journal is not provably this plan's (its records name no plan file, or one
// that no longer exists), so this run leaves the instance alone, and says so
// for a person to act.
type Unclaimed struct {
	Journal, Provider, ID string
	// Plan is the plan file the journal's records name ("" for none).
	Plan string
}

func (u Unclaimed) String() string {
	plan := "no plan file recorded"
	if u.Plan != "" {
		plan = "its plan file " + u.Plan + " is gone"
	}
	return fmt.Sprintf("instance %s/%s may have been stopped by a run killed mid-change; journal %s holds its intent open, but it is not provably this plan's (%s), so it was left alone: check the instance, start it if it should run, then remove that journal if nothing else in it is open", u.Provider, u.ID, u.Journal, plan)
}

// AdoptResult is what AdoptOthers took over, and what it left alone but
// names for people.
type AdoptResult struct {
	// Adopted counts the instances taken over.
	Adopted   int
	Unclaimed []Unclaimed
}

// claim decides for a journal of this plan (samePlan) or of any
// other name. An instance is found by its provider and id, else by its id
// alone: ids are unique within a cloud (plan.Load and Resolve refuse one
// server under two provider entries), so an id the run acts on under exactly
// one provider entry is that instance, whatever the plan or provider entry
// that recorded it was called then. From a journal of another name only the
// run's instances are taken: the rest may be another plan's, in the same
// directory.
func (s AdoptScope) claim(samePlan bool) func(provider, id string) (string, bool) {
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
// A journal of another name is the plan's own when its records carry the
// plan's path (AdoptScope.PlanPath). An instance stopped by a killed run that
// such a journal holds open, and which is not provably this run's, is left
// alone and listed in Unclaimed, when no other plan is known to start it. See
// adoptOne.
func AdoptOthers(j *Journal, scope AdoptScope, holder Holder) (AdoptResult, error) {
	var res AdoptResult
	dir := filepath.Dir(j.path)
	found, err := filepath.Glob(filepath.Join(dir, "*.journal"))
	if err != nil {
		return res, fmt.Errorf("adopt: %w", err)
	}
	sort.Strings(found)
	var errs []error
	for _, path := range found {
		if path == j.path {
			continue
		}
		claim := scope.claimFrom(isJournalOf(filepath.Base(path), scope.Plan))
		n, unclaimed, err := adoptOne(j, path, claim, holder)
		res.Adopted += n
		res.Unclaimed = append(res.Unclaimed, unclaimed...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// unclaimed lists the instances other (at path) holds as stopped by a run,
// which claim does not give this run and whose recorded plan file is gone
// (or unrecorded): nobody is known to start them.
func unclaimed(path string, other *Journal, claim Claim) []Unclaimed {
	keys := other.keys()
	var out []Unclaimed
	for _, k := range keys {
		provider, id := splitKey(k)
		theirs := other.Entry(provider, id)
		if theirs.Pending == nil || !theirs.Pending.WasRunning {
			continue
		}
		if _, ok := claim(provider, id, theirs); ok {
			continue
		}
		planFile := theirs.plan()
		if planFile != "" {
			if _, err := os.Stat(planFile); err == nil {
				continue // that plan's runs start it
			}
		}
		out = append(out, Unclaimed{Journal: path, Provider: provider, ID: id, Plan: planFile})
	}
	return out
}

// keys lists j's entries' keys, sorted, so that adoption goes in one order.
func (j *Journal) keys() []string {
	j.mu.Lock()
	keys := make([]string, 0, len(j.entries))
	for k := range j.entries {
		keys = append(keys, k)
	}
	j.mu.Unlock()
	sort.Strings(keys)
	return keys
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
	keys := other.keys()
	var out []adoption
	for _, k := range keys {
		provider, id := splitKey(k)
		theirs := other.Entry(provider, id)
		as, ok := claim(provider, id, theirs)
		if !ok {
			continue
		}
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
func adoptOne(j *Journal, path string, claim Claim, holder Holder) (int, []Unclaimed, error) {
	// Look first, without the lock (a torn last line of a journal being
	// written is dropped as it is on every read).
	peek, err := ReadJournal(path)
	if err != nil {
		return 0, nil, fmt.Errorf("adopt %s: %w", path, err)
	}
	left := unclaimed(path, peek, claim)
	if len(toAdopt(j, peek, claim)) == 0 {
		return 0, left, nil
	}
	lock, err := AcquireLock(strings.TrimSuffix(path, ".journal")+".lock", holder)
	var le *LockedError
	if errors.As(err, &le) {
		return 0, nil, nil // its run is handling it
	}
	if err != nil {
		return 0, left, fmt.Errorf("adopt %s: %w", path, err)
	}
	defer lock.Release()
	if _, err := os.Stat(path); err != nil {
		// Gone since the look (removed by hand): nothing to take.
		return 0, nil, nil
	}
	other, err := OpenJournal(path, nil)
	if err != nil {
		return 0, left, fmt.Errorf("adopt %s: %w", path, err)
	}
	defer other.Close()
	n := 0
	for _, a := range toAdopt(j, other, claim) {
		for _, r := range a.recs {
			if err := j.Append(r); err != nil {
				return n, left, err
			}
		}
		if a.close {
			if err := other.Append(Record{Event: EventAdopted, Provider: a.provider, ID: a.id, Reason: "adopted by " + j.path}); err != nil {
				return n, left, err
			}
		}
		n++
	}
	return n, left, nil
}

// ReadWithOthers reads the journal at path (ReadJournal: a missing one is
// empty) and folds into it, in memory only, what AdoptOthers would take over
// from the other journals of its directory for scope: so that `plan`, which
// only looks, shows what the next apply will find (an instance in doubt,
// broken or stopped by a killed run under the plan's old name or another
// shard count). It locks and writes nothing; a journal a running apply holds
// is read all the same, as it stands.
func ReadWithOthers(path string, scope AdoptScope) (*Journal, error) {
	j, err := ReadJournal(path)
	if err != nil {
		return nil, err
	}
	found, err := filepath.Glob(filepath.Join(filepath.Dir(path), "*.journal"))
	if err != nil {
		return nil, fmt.Errorf("read other journals: %w", err)
	}
	sort.Strings(found)
	for _, other := range found {
		if other == filepath.Clean(path) {
			continue
		}
		peek, err := ReadJournal(other)
		if err != nil {
			return nil, fmt.Errorf("read other journals: %w", err)
		}
		for _, a := range toAdopt(j, peek, scope.claimFrom(isJournalOf(filepath.Base(other), scope.Plan))) {
			for _, r := range a.recs {
				j.apply(r)
			}
		}
	}
	return j, nil
}

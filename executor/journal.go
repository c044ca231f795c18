package executor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Journal events. An intent is written, and fsynced, BEFORE the non-idempotent
// call it announces, so that a crash at any point leaves a trace of every call
// that may have reached the cloud.
const (
	EventIntent    = "intent"
	EventSubmitted = "submitted"
	EventDone      = "done"
	EventFailed    = "failed"
	// EventInDoubt closes an intent whose outcome could not be proven either
	// way (a reinstall is never submitted again blind): the instance stays
	// blocked until a person runs reimage ack.
	EventInDoubt = "in_doubt"
	// EventBroken: reimage's change left the instance in an error state, or
	// stopped and not started again. It counts as a failure in every later
	// run until the instance is healthy again (EventHealed) or acknowledged.
	EventBroken = "broken"
	// EventHealed: an instance recorded broken was seen healthy again.
	EventHealed = "healed"
	// EventRestored closes the intent of an instance an earlier run stopped
	// and whose change did not happen: it was started again, or found running.
	EventRestored = "restored"
	// EventAck: a person checked the instance by hand (reimage ack); it clears
	// "in doubt" and "broken". An acknowledged reinstall in doubt counts as
	// done: its token is never carried out again.
	EventAck = "ack"
)

// Record is one line of the journal. It holds ids, images, tokens and job ids:
// never a secret.
type Record struct {
	Time      time.Time `json:"time"`
	Run       string    `json:"run"`
	Event     string    `json:"event"`
	Provider  string    `json:"provider"`
	ID        string    `json:"id"`
	Action    string    `json:"action,omitempty"`
	Image     string    `json:"image,omitempty"`
	Token     string    `json:"token,omitempty"`
	JobID     string    `json:"job,omitempty"`
	RequestID string    `json:"request,omitempty"`
	// WasRunning: the instance ran before the change, so it must run after it.
	WasRunning bool   `json:"was_running,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// By names who acknowledged (ack): user@host.
	By string `json:"by,omitempty"`
	// Plan is the absolute path of the plan file of the run that wrote the
	// record (PlanPath): the same path is the same plan, whatever its name
	// says, so a plan renamed since a run was killed proves the journal of
	// its old name its own (AdoptOthers).
	Plan string `json:"plan,omitempty"`
	// Step, in a broken record, is the step that found the instance broken:
	// StepHealth when its health check failed after its change (it runs,
	// so only a passing check heals it, not the look-up).
	Step string `json:"step,omitempty"`
}

// Entry is what the journal knows of one instance.
type Entry struct {
	// Pending is the intent (merged with its submitted record) of a call whose
	// outcome was never recorded: the call is in doubt until the cloud is asked.
	Pending *Record
	// DoneToken is the last reinstall token whose change completed.
	DoneToken string
	// InDoubt is the record of a change (a reinstall, in practice) whose
	// outcome could not be proven: blocked until acknowledged.
	InDoubt *Record
	// Broken is the record of an instance reimage's change left broken.
	Broken *Record
}

// Journal is the append-only, fsynced JSON-lines record of every
// non-idempotent call, one per plan (and shard), kept in the state directory.
type Journal struct {
	path    string
	mu      sync.Mutex
	f       *os.File
	entries map[string]*Entry // by plan.Key(provider, id)
	now     func() time.Time

	// Group commit (Append): written counts the records written to the file,
	// durable those an fsync has covered. One caller at a time holds syncMu
	// and fsyncs everything written so far; the callers that wrote meanwhile
	// find their record covered when they get syncMu and return at once.
	syncMu  sync.Mutex
	written uint64 // guarded by mu
	durable uint64 // guarded by mu
	// broken is the first write or fsync error. It is sticky: after a failed
	// fsync the kernel may have dropped the dirty pages and a later fsync can
	// report success for data that never reached the disk, so nothing written
	// after it can be called durable.
	broken error // guarded by mu
	// fsync syncs the file; tests and benchmarks inject a slow or failing one.
	fsync func(*os.File) error
}

// OpenJournal reads the journal at path (creating it if needed), compacts it to
// what still matters (unresolved intents and completed tokens), and opens it
// for appending. A torn last line, left by a crash in the middle of a write, is
// dropped: its call had not been made yet, since the intent is synced first.
// The caller must hold the plan's lock.
func OpenJournal(path string, now func() time.Time) (*Journal, error) {
	if now == nil {
		now = time.Now
	}
	j := &Journal{path: path, entries: map[string]*Entry{}, now: now}
	if err := j.load(); err != nil {
		return nil, err
	}
	if err := j.compact(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	j.f = f
	return j, nil
}

// ReadJournal reads the journal at path without changing it, for commands
// that only look (plan); a missing journal is an empty one. It cannot Append.
func ReadJournal(path string) (*Journal, error) {
	j := &Journal{path: path, entries: map[string]*Entry{}, now: time.Now}
	if err := j.load(); err != nil {
		return nil, err
	}
	return j, nil
}

func (j *Journal) load() error {
	f, err := os.Open(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// No newline: a torn write. Its record was never complete, so the
			// call it announced was never made.
			return nil
		}
		if err != nil {
			return fmt.Errorf("read journal: %w", err)
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return fmt.Errorf("journal %s:%d: %w (the journal is damaged; move it aside only after checking the instances it names)", j.path, line, err)
		}
		j.apply(rec)
	}
}

// apply folds one record into the per-instance entries.
func (j *Journal) apply(rec Record) {
	key := rec.Provider + "/" + rec.ID
	e := j.entries[key]
	if e == nil {
		e = &Entry{}
		j.entries[key] = e
	}
	switch rec.Event {
	case EventIntent:
		r := rec
		e.Pending = &r
	case EventSubmitted:
		if e.Pending != nil {
			e.Pending.JobID, e.Pending.RequestID = rec.JobID, rec.RequestID
		} else {
			r := rec
			e.Pending = &r
		}
	case EventDone:
		if rec.Token != "" {
			e.DoneToken = rec.Token
		}
		e.Pending, e.Broken = nil, nil
	case EventFailed:
		e.Pending = nil
		if rec.WasRunning {
			// The change did not happen (or failed) on an instance that ran:
			// the intent stays open as a stop, so that a later run starts
			// it again, whether or not it still changes it.
			e.Pending = &Record{Time: rec.Time, Run: rec.Run, Event: EventIntent, Provider: rec.Provider, ID: rec.ID,
				Action: rec.Action, Image: rec.Image, Token: rec.Token, WasRunning: true, Reason: ReasonStopped, Plan: rec.Plan}
		}
	case EventInDoubt:
		r := rec
		e.Pending, e.InDoubt = nil, &r
	case EventBroken:
		r := rec
		e.Broken = &r
	case EventHealed:
		e.Broken = nil
	case EventRestored:
		e.Pending = nil
	case EventAdopted:
		e.Pending, e.InDoubt, e.Broken, e.DoneToken = nil, nil, nil, ""
	case EventAck:
		e.InDoubt, e.Broken = nil, nil
		if rec.Token != "" {
			e.DoneToken = rec.Token
		}
	}
}

// ReasonStopped marks an intent written before a stop (nothing submitted
// yet), or kept open by a failure after the stop: the instance may be stopped
// by reimage and must run again whatever becomes of its change.
const ReasonStopped = "stop"

// compact rewrites the journal with one or two lines per instance that still
// matter, atomically (temporary file, fsync, rename, fsync of the directory), so
// that a journal kept across years of cron runs stays small.
func (j *Journal) compact() error {
	keys := make([]string, 0, len(j.entries))
	for k, e := range j.entries {
		if e.Pending == nil && e.DoneToken == "" && e.InDoubt == nil && e.Broken == nil {
			delete(j.entries, k)
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, k := range keys {
		e := j.entries[k]
		if e.DoneToken != "" {
			prov, id := splitKey(k)
			_ = enc.Encode(Record{Time: j.now().UTC(), Run: "compacted", Event: EventDone, Provider: prov, ID: id, Token: e.DoneToken})
		}
		// In this order: done clears broken, in_doubt clears pending.
		if e.InDoubt != nil {
			_ = enc.Encode(e.InDoubt)
		}
		if e.Broken != nil {
			_ = enc.Encode(e.Broken)
		}
		if e.Pending != nil {
			_ = enc.Encode(e.Pending)
		}
	}
	return writeFileAtomic(j.path, buf.Bytes(), 0o600)
}

func splitKey(k string) (string, string) {
	for i := 0; i < len(k); i++ {
		if k[i] == '/' {
			return k[:i], k[i+1:]
		}
	}
	return k, ""
}

// writeFileAtomic replaces path with data so that readers see the old or the
// new content, never a part.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Entry returns what the journal knows of one instance (the zero Entry when nothing).
func (j *Journal) Entry(provider, id string) Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	if e := j.entries[provider+"/"+id]; e != nil {
		out := *e
		for _, r := range []**Record{&out.Pending, &out.InDoubt, &out.Broken} {
			if *r != nil {
				c := **r
				*r = &c
			}
		}
		return out
	}
	return Entry{}
}

// DoneToken returns the last completed reinstall token of an instance.
func (j *Journal) DoneToken(provider, id string) string { return j.Entry(provider, id).DoneToken }

// Append writes one record and fsyncs it before returning: when Append returns
// nil the record survives a crash. Concurrent callers share fsyncs (group
// commit): the records written while one fsync runs are covered by the next,
// and each caller still returns only once an fsync that began after its write
// has succeeded. A failed fsync fails every caller whose record it was to cover,
// and every later Append.
func (j *Journal) Append(rec Record) error {
	if rec.Time.IsZero() {
		rec.Time = j.now().UTC()
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("journal %s %s: %w", rec.Event, rec.ID, err)
	}
	b = append(b, '\n')

	j.mu.Lock()
	if j.f == nil {
		j.mu.Unlock()
		return fmt.Errorf("journal %s %s: the journal is not open for writing", rec.Event, rec.ID)
	}
	if j.broken != nil {
		err := j.broken
		j.mu.Unlock()
		return fmt.Errorf("journal %s %s: an earlier write failed: %w", rec.Event, rec.ID, err)
	}
	// One write per record under mu: records never interleave, and a record
	// is in the file before any fsync that counts it.
	if _, err := j.f.Write(b); err != nil {
		j.broken = err
		j.mu.Unlock()
		return fmt.Errorf("journal %s %s: %w", rec.Event, rec.ID, err)
	}
	j.written++
	seq := j.written
	f := j.f
	j.mu.Unlock()

	if err := j.waitDurable(f, seq); err != nil {
		return fmt.Errorf("journal %s %s: fsync: %w", rec.Event, rec.ID, err)
	}
	j.mu.Lock()
	j.apply(rec)
	j.mu.Unlock()
	return nil
}

// waitDurable returns once record seq is covered by a successful fsync, or
// with the error of the fsync that should have covered it.
func (j *Journal) waitDurable(f *os.File, seq uint64) error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	if j.durable >= seq {
		j.mu.Unlock()
		return nil
	}
	if j.broken != nil {
		err := j.broken
		j.mu.Unlock()
		return err
	}
	upTo := j.written // everything written so far rides on this fsync
	j.mu.Unlock()

	sync := j.fsync
	if sync == nil {
		sync = (*os.File).Sync
	}
	err := sync(f)
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		j.broken = err
		return err
	}
	j.durable = upTo
	return nil
}

// Pending lists every instance with a call in doubt, sorted by key.
func (j *Journal) Pending() []Record {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []Record
	for _, e := range j.entries {
		if e.Pending != nil {
			out = append(out, *e.Pending)
		}
	}
	sort.Slice(out, func(a, b int) bool {
		return out[a].Provider+"/"+out[a].ID < out[b].Provider+"/"+out[b].ID
	})
	return out
}

// Close closes the journal file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// Markers reimage keeps on an instance (providers.Marker), so that what it did
// is known from any host, state directory, plan name or shard count: the
// journal is a cache of them.
//
//   - MarkIntent is set to the encoded reinstall token BEFORE a reinstall is
//     submitted: a reinstall that may have happened is visible from anywhere.
//   - MarkReinstall is set to the encoded token once the reinstall is proven
//     done (or acknowledged by a person).
//
// A token's intent is open while MarkIntent holds it and MarkReinstall does
// not: the reinstall is in flight elsewhere or in doubt, never submitted again.
// A refused submission closes it by setting MarkIntent to markNone. Markers are
// never deleted, so both clouds need only "set".
const (
	MarkIntent    = providers.MarkPrefix + "intent"
	MarkReinstall = providers.MarkPrefix + "reinstall"
	markNone      = "none"
)

// maxPlainToken bounds a token kept as it is in a marker value (at most
// providers.MaxMarkValueLen characters, and "t." comes first).
const maxPlainToken = 128

// EncodeToken returns the marker value of a reinstall token: "t." and the
// token when it has only characters every cloud accepts in a marker value
// (letters, digits, + - = . _ : / @) and at most 128 of them; otherwise "h."
// and the first 32 hex digits of its SHA-256. Either form is a valid marker
// value on every cloud (providers.CheckMark), and never equals markNone.
func EncodeToken(token string) string {
	if len(token) <= maxPlainToken && plainToken(token) {
		return "t." + token
	}
	sum := sha256.Sum256([]byte(token))
	return "h." + hex.EncodeToString(sum[:16])
}

func plainToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '+', r == '-', r == '=', r == '.', r == '_', r == ':', r == '/', r == '@':
		default:
			return false
		}
	}
	return true
}

// Marks are the markers read of each instance, by plan.Key(provider, id).
type Marks map[string]map[string]string

// ReadMarks reads the markers of every instance of the plan with a reinstall
// token, from the providers that can keep markers, in batch calls. Providers
// without the capability have no markers: their tokens live in the journal
// only.
func ReadMarks(ctx context.Context, p *plan.Plan, provs map[string]providers.Provider) (Marks, error) {
	ids := map[string][]string{}
	for _, in := range p.Instances {
		if in.Reinstall == "" {
			continue
		}
		if _, ok := provs[in.Provider].(providers.Marker); ok {
			ids[in.Provider] = append(ids[in.Provider], in.ID)
		}
	}
	names := make([]string, 0, len(ids))
	for name := range ids {
		names = append(names, name)
	}
	sort.Strings(names)
	got := make([]map[string]map[string]string, len(names))
	g, gctx := errgroup.WithContext(ctx)
	for i, name := range names {
		m := provs[name].(providers.Marker)
		g.Go(func() error {
			marks, err := m.Marks(gctx, ids[name])
			if err != nil {
				return err // the client names itself, the call and the count
			}
			got[i] = marks
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := Marks{}
	for i, name := range names {
		for id, m := range got[i] {
			out[plan.Key(name, id)] = m
		}
	}
	return out, nil
}

// HistoryOf returns, for the diff, what the journal j (nil: none) and the
// markers say of each instance of the plan. A token done on the instance's
// markers counts as done; an open intent marker for the plan's token, which
// this journal does not hold as its own call in doubt, blocks the instance as
// in flight elsewhere or in doubt.
func HistoryOf(p *plan.Plan, j *Journal, marks Marks) func(provider, id string) plan.History {
	tokens := map[string]string{}
	for _, in := range p.Instances {
		tokens[plan.Key(in.Provider, in.ID)] = in.Reinstall
	}
	return func(provider, id string) plan.History {
		key := plan.Key(provider, id)
		var h plan.History
		var e Entry
		if j != nil {
			e = j.Entry(provider, id)
		}
		h.DoneToken = e.DoneToken
		if e.InDoubt != nil {
			h.InDoubt = inDoubtText(e.InDoubt)
		}
		if e.Broken != nil {
			h.Broken = e.Broken.Reason
		}
		token := tokens[key]
		m := marks[key]
		if token == "" || m == nil {
			return h
		}
		enc := EncodeToken(token)
		switch {
		case m[MarkReinstall] == enc:
			h.DoneToken = token
		case m[MarkIntent] == enc && e.Pending == nil && h.InDoubt == "" && h.DoneToken != token:
			h.InDoubt = fmt.Sprintf("reinstall in doubt: the instance's marker %s=%s shows reinstall token %q started by a run from another host or state directory (or with another plan name or shard count) and never recorded done: it is in flight there, or in doubt", MarkIntent, enc, token)
		}
		return h
	}
}

func inDoubtText(r *Record) string {
	what := "change"
	if r.Action == plan.ActionReinstall.String() {
		what = "reinstall"
	}
	s := what + " in doubt"
	if r.Token != "" {
		s += fmt.Sprintf(" (token %q)", r.Token)
	}
	if r.Run != "" {
		s += " since run " + r.Run
	}
	if r.Reason != "" {
		s += ": " + r.Reason
	}
	return s
}

// markIntent sets the intent marker before a reinstall is submitted, and
// confirms it (setMark). An error means nothing was submitted: the instance
// fails before its submission, with an error that is not in doubt, whatever
// the marker's write answered, since only the reinstall's submission can
// leave a reinstall in doubt.
func (e *Executor) markIntent(ctx context.Context, prov providers.Provider, it *item) error {
	m, ok := prov.(providers.Marker)
	if !ok || it.c.Action != plan.ActionReinstall || it.c.Instance.Reinstall == "" {
		return nil
	}
	if err := setMark(ctx, m, it.c.Instance.ID, MarkIntent, EncodeToken(it.c.Instance.Reinstall)); err != nil {
		// %v, not %w: a lost answer of the marker's write must not read as
		// a submission in doubt (providers.IsInDoubt) further up.
		return fmt.Errorf("the intent marker could not be confirmed on the instance, so nothing was submitted: %v", err)
	}
	return nil
}

// markDone records a reinstall token done on the instance, confirmed
// (setMark). It reports the error for the journal's record: the reinstall
// happened either way, and an intent marker left open only blocks other runs,
// which is safe.
func (e *Executor) markDone(ctx context.Context, prov providers.Provider, id, token string) error {
	m, ok := prov.(providers.Marker)
	if !ok || token == "" {
		return nil
	}
	return setMark(ctx, m, id, MarkReinstall, EncodeToken(token))
}

// closeIntent closes the intent marker of a reinstall that was never
// submitted or that the cloud refused, confirmed (setMark). Failing that, the
// marker may stay open and other runs leave the instance blocked until
// reimage ack, which is safe; the error says so.
func (e *Executor) closeIntent(ctx context.Context, prov providers.Provider, it *item) error {
	m, ok := prov.(providers.Marker)
	if !ok || it.c.Action != plan.ActionReinstall || it.c.Instance.Reinstall == "" {
		return nil
	}
	if err := setMark(ctx, m, it.c.Instance.ID, MarkIntent, markNone); err != nil {
		return fmt.Errorf("the intent marker could not be closed (%s=%s), so other runs may leave the instance blocked until reimage ack: %v", MarkIntent, markNone, err)
	}
	return nil
}

// markAttempts bounds the writes of one marker the cloud does not confirm.
const markAttempts = 3

// setMark sets key=value on instance id and returns nil only once the cloud
// has confirmed it. A marker's write is idempotent (same key, same value), so,
// like a stop or a start, it is safe to repeat: when its answer is lost, or is
// an error that may have come after the write (a 5xx, a dropped connection),
// the markers are read back and, unless they show the value, it is written
// again, at most markAttempts times. A refusal (the cloud answered that it
// did not write it) is returned at once.
func setMark(ctx context.Context, m providers.Marker, id, key, value string) error {
	var err error
	for range markAttempts {
		if err = m.SetMark(ctx, id, key, value); err == nil {
			return nil
		}
		if permanent(err) || ctx.Err() != nil {
			return err
		}
		marks, rerr := m.Marks(ctx, []string{id})
		if rerr == nil && marks[id][key] == value {
			return nil
		}
	}
	return fmt.Errorf("%w (written %d times, never confirmed)", err, markAttempts)
}

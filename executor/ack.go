package executor

import (
	"context"
	"fmt"
	"strings"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// Acked says what an acknowledgement cleared on one instance.
type Acked struct {
	Instance *plan.Instance
	// Cleared lists what was cleared, for people ("reinstall in doubt (token
	// "t1")", "broken: …").
	Cleared []string
}

// NothingToAckError: reimage ack named instances that are neither in doubt
// nor broken. Nothing was acknowledged, for them or the others named.
type NothingToAckError struct {
	Instances []*plan.Instance
}

func (e *NothingToAckError) Error() string {
	labels := make([]string, len(e.Instances))
	for i, in := range e.Instances {
		labels[i] = in.ID
		if in.Name != "" {
			labels[i] = in.Name + " (" + in.ID + ")"
		}
	}
	verb := "it is"
	if len(labels) > 1 {
		verb = "they are"
	}
	return fmt.Sprintf("nothing to acknowledge on %s: %s neither in doubt nor broken; nothing was acknowledged", strings.Join(labels, ", "), verb)
}

// Ack records that a person checked these instances by hand (reimage ack): it
// clears "in doubt" and "broken" in the journal, with who and when. A
// reinstall in doubt, in the journal or shown by an open intent marker on the
// instance, is recorded done, in the journal and on the instance's markers: a
// token is never carried out twice; to reinstall again, use a new token.
// Every instance is looked at before anything is written: when one has
// nothing to acknowledge (the wrong instance, or acknowledged already), Ack
// returns a *NothingToAckError and acknowledges none of them, since a person
// acknowledges what they checked, not a list that was partly a mistake. The
// caller holds the plan's lock.
func Ack(ctx context.Context, j *Journal, provs map[string]providers.Provider, instances []*plan.Instance, by string) ([]Acked, error) {
	type ack struct {
		Acked
		token string
		m     providers.Marker
	}
	todo := make([]ack, 0, len(instances))
	var nothing []*plan.Instance
	for _, in := range instances {
		a := ack{Acked: Acked{Instance: in}}
		e := j.Entry(in.Provider, in.ID)
		if e.InDoubt != nil {
			a.Cleared = append(a.Cleared, inDoubtText(e.InDoubt))
			a.token = e.InDoubt.Token
		}
		if e.Broken != nil {
			a.Cleared = append(a.Cleared, "broken: "+e.Broken.Reason)
		}
		a.m, _ = provs[in.Provider].(providers.Marker)
		if a.m != nil && in.Reinstall != "" {
			enc := EncodeToken(in.Reinstall)
			marks, err := a.m.Marks(ctx, []string{in.ID})
			if err != nil {
				return nil, fmt.Errorf("ack %s: read its markers (nothing was acknowledged): %w", in.ID, err)
			}
			if mk := marks[in.ID]; mk[MarkIntent] == enc && mk[MarkReinstall] != enc && e.DoneToken != in.Reinstall && a.token == "" {
				a.Cleared = append(a.Cleared, fmt.Sprintf("reinstall in doubt (token %q) on the instance's markers", in.Reinstall))
				a.token = in.Reinstall
			}
		}
		if len(a.Cleared) == 0 {
			nothing = append(nothing, in)
		}
		todo = append(todo, a)
	}
	if len(nothing) > 0 {
		return nil, &NothingToAckError{Instances: nothing}
	}
	out := make([]Acked, 0, len(todo))
	for _, a := range todo {
		in := a.Instance
		if a.m != nil && a.token != "" {
			if err := setMark(ctx, a.m, in.ID, MarkReinstall, EncodeToken(a.token)); err != nil {
				return out, fmt.Errorf("ack %s: record reinstall token %q done on the instance: %w", in.ID, a.token, err)
			}
		}
		if err := j.Append(Record{Event: EventAck, Provider: in.Provider, ID: in.ID, Token: a.token, By: by,
			Reason: "checked by hand: " + strings.Join(a.Cleared, "; ")}); err != nil {
			return out, err
		}
		out = append(out, a.Acked)
	}
	return out, nil
}

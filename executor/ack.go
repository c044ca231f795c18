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
	// "t1")", "broken: …"); empty when there was nothing to acknowledge.
	Cleared []string
}

// Ack records that a person checked these instances by hand (reimage ack): it
// clears "in doubt" and "broken" in the journal, with who and when. A
// reinstall in doubt, in the journal or shown by an open intent marker on the
// instance, is recorded done, in the journal and on the instance's markers: a
// token is never carried out twice; to reinstall again, use a new token. The
// caller holds the plan's lock.
func Ack(ctx context.Context, j *Journal, provs map[string]providers.Provider, instances []*plan.Instance, by string) ([]Acked, error) {
	out := make([]Acked, 0, len(instances))
	for _, in := range instances {
		a := Acked{Instance: in}
		e := j.Entry(in.Provider, in.ID)
		var token string
		if e.InDoubt != nil {
			a.Cleared = append(a.Cleared, inDoubtText(e.InDoubt))
			token = e.InDoubt.Token
		}
		if e.Broken != nil {
			a.Cleared = append(a.Cleared, "broken: "+e.Broken.Reason)
		}
		m, _ := provs[in.Provider].(providers.Marker)
		if m != nil && in.Reinstall != "" {
			enc := EncodeToken(in.Reinstall)
			marks, err := m.Marks(ctx, []string{in.ID})
			if err != nil {
				return out, fmt.Errorf("ack %s: read its markers: %w", in.ID, err)
			}
			if mk := marks[in.ID]; mk[MarkIntent] == enc && mk[MarkReinstall] != enc && e.DoneToken != in.Reinstall && token == "" {
				a.Cleared = append(a.Cleared, fmt.Sprintf("reinstall in doubt (token %q) on the instance's markers", in.Reinstall))
				token = in.Reinstall
			}
		}
		if len(a.Cleared) == 0 {
			out = append(out, a)
			continue
		}
		if m != nil && token != "" {
			if err := m.SetMark(ctx, in.ID, MarkReinstall, EncodeToken(token)); err != nil {
				return out, fmt.Errorf("ack %s: record reinstall token %q done on the instance: %w", in.ID, token, err)
			}
		}
		if err := j.Append(Record{Event: EventAck, Provider: in.Provider, ID: in.ID, Token: token, By: by,
			Reason: "checked by hand: " + strings.Join(a.Cleared, "; ")}); err != nil {
			return out, err
		}
		out = append(out, a)
	}
	return out, nil
}

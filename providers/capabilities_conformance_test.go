package providers_test

// Conformance of the optional capabilities (Marker, Lister, Preflighter) and
// of the private address and zone every look-up fills, on both clients
// against the simulator.

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/sim"
)

func (e *env) addFull(in sim.Instance) {
	e.t.Helper()
	in.Provider = e.cloud.typ
	if in.Image == "" {
		in.Image = oldImage
	}
	if err := e.sim.AddInstance(in); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) view(iid string) sim.InstanceView {
	e.t.Helper()
	for _, v := range e.sim.Instances() {
		if v.Provider == e.cloud.typ && v.ID == iid {
			return v
		}
	}
	e.t.Fatalf("%s not in the simulator", iid)
	return sim.InstanceView{}
}

func marker(t *testing.T, p providers.Provider) providers.Marker {
	t.Helper()
	m, ok := p.(providers.Marker)
	if !ok {
		t.Fatalf("%T is not a providers.Marker", p)
	}
	return m
}

// markOp is the stats name of the call that reads markers.
func markReadOp(typ string) string {
	if typ == sim.Ksyun {
		return "ListTagsByResourceIds"
	}
	return "ListServersDetails"
}

// TestMarkersKeepOtherTagsAndSurviveTheChange: setting markers keeps the
// instance's other tags and markers, overwrites the same key, is harmless to
// repeat, reads back in batch (unknown ids map to no markers), and the markers
// are still there after the instance was re-imaged.
func TestMarkersKeepOtherTagsAndSurviveTheChange(t *testing.T) {
	forEachCloud(t, func(t *testing.T, c cloud) {
		e := newEnv(t, c, nil, providers.Config{})
		iid, other := id(40, 1), id(40, 2)
		e.addFull(sim.Instance{ID: iid, Tags: map[string]string{"role": "web", "env": "prod"}})
		e.addFull(sim.Instance{ID: other, State: "stopped"})
		m := marker(t, e.p)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, kv := range [][2]string{
			{"reimage-token", "t1"}, {"reimage-run", "2026-11-29T20:00:00Z"}, {"reimage-token", "t2"}, {"reimage-token", "t2"},
		} {
			if err := m.SetMark(ctx, iid, kv[0], kv[1]); err != nil {
				t.Fatal(err)
			}
		}
		want := map[string]string{"reimage-token": "t2", "reimage-run": "2026-11-29T20:00:00Z"}
		unknown := id(40, 99)
		got, err := m.Marks(ctx, []string{iid, other, unknown})
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got[iid], want) || got[other] == nil || len(got[other]) != 0 || got[unknown] == nil || len(got[unknown]) != 0 {
			t.Fatalf("Marks = %v, want %v for %s and empty maps for the others", got, want, iid)
		}
		// The other tags stay (on KEC the markers are tags too).
		if v := e.view(iid); v.Tags["role"] != "web" || v.Tags["env"] != "prod" || !maps.Equal(v.Marks, want) {
			t.Errorf("simulator shows tags %v, marks %v", v.Tags, v.Marks)
		}
		if pr, err := reimage(ctx, e.p, changeReq(c.typ, iid, true)); err != nil || pr.Phase != providers.PhaseDone {
			t.Fatalf("change: %+v, %v", pr, err)
		}
		got, err = m.Marks(ctx, []string{iid})
		if err != nil || !maps.Equal(got[iid], want) {
			t.Errorf("after the change: Marks = %v, %v; want %v", got, err, want)
		}
	})
}

// TestMarksInBatchCalls: the markers of 250 instances take 3 read calls.
func TestMarksInBatchCalls(t *testing.T) {
	forEachCloud(t, func(t *testing.T, c cloud) {
		e := newEnv(t, c, nil, providers.Config{})
		ids := make([]string, 250)
		for i := range ids {
			ids[i] = id(41, i)
			e.addFull(sim.Instance{ID: ids[i]})
		}
		m := marker(t, e.p)
		ctx := context.Background()
		if err := m.SetMark(ctx, ids[249], "reimage-token", "x"); err != nil {
			t.Fatal(err)
		}
		before := e.count(markReadOp(c.typ), "")
		got, err := m.Marks(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 250 || got[ids[249]]["reimage-token"] != "x" || len(got[ids[0]]) != 0 {
			t.Fatalf("Marks: %d ids, last %v, first %v", len(got), got[ids[249]], got[ids[0]])
		}
		if n := e.count(markReadOp(c.typ), "") - before; n != 3 {
			t.Errorf("%d %s calls for 250 instances, want 3", n, markReadOp(c.typ))
		}
	})
}

// TestSetMarkRefusesWhatACloudWouldRefuse: a key without the prefix or with a
// character one of the clouds refuses is an error before any request, naming
// the key and not the value.
func TestSetMarkRefusesWhatACloudWouldRefuse(t *testing.T) {
	forEachCloud(t, func(t *testing.T, c cloud) {
		e := newEnv(t, c, nil, providers.Config{})
		e.addFull(sim.Instance{ID: id(42, 1)})
		m := marker(t, e.p)
		for _, kv := range [][2]string{
			{"token", "x"}, {"reimage-", "x"}, {"reimage-a b", "x"}, {"reimage-token", "secret value"},
			{"reimage-" + strings.Repeat("k", 130), "x"}, {"reimage-token", strings.Repeat("v", 256)},
		} {
			err := m.SetMark(context.Background(), id(42, 1), kv[0], kv[1])
			if err == nil {
				t.Errorf("SetMark(%q, %q) succeeded", kv[0], kv[1])
				continue
			}
			if strings.Contains(err.Error(), "secret value") {
				t.Errorf("error shows the value: %v", err)
			}
		}
		if n := len(e.sim.Stats().Requests); n != 0 {
			t.Errorf("requests were sent: %v", e.sim.Stats().Requests)
		}
	})
}

// TestLookupFillsPrivateAddressAndZone: Lookup and Status report each
// instance's private address (unique, loopback in the simulator) and zone.
func TestLookupFillsPrivateAddressAndZone(t *testing.T) {
	forEachCloud(t, func(t *testing.T, c cloud) {
		e := newEnv(t, c, nil, providers.Config{})
		zones := []string{"zone-a", "zone-b", ""}
		var ids []string
		for i := range 6 {
			ids = append(ids, id(43, i))
			e.addFull(sim.Instance{ID: ids[i], Zone: zones[i%3]})
		}
		got, err := e.p.Lookup(context.Background(), ids)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, iid := range ids {
			v := e.view(iid)
			if got[iid].PrivateIP == "" || got[iid].PrivateIP != v.PrivateIP || got[iid].Zone != v.Zone || v.Zone == "" {
				t.Errorf("%s: looked up address %q zone %q; the simulator has %q %q", iid, got[iid].PrivateIP, got[iid].Zone, v.PrivateIP, v.Zone)
			}
			if seen[v.PrivateIP] || !strings.HasPrefix(v.PrivateIP, "127.") {
				t.Errorf("%s: address %s is not a fresh loopback address", iid, v.PrivateIP)
			}
			seen[v.PrivateIP] = true
		}
		st, err := e.p.Status(context.Background(), ids[1])
		if err != nil || st.PrivateIP != got[ids[1]].PrivateIP || st.Zone != "zone-b" {
			t.Errorf("Status: %+v, %v", st, err)
		}
	})
}

package providers_test

// Conformance of the optional capabilities (Marker, Lister, Preflighter) and
// of the private address and zone every look-up fills, on both clients
// against the simulator.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
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

// settle shuts the simulator down gracefully, which waits for its handlers
// to return: a handler counts its request when it returns, and a large answer
// can reach the client before that. Call it before reading final counts.
func (e *env) settle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.sim.Shutdown(ctx); err != nil {
		e.t.Fatal(err)
	}
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
	if typ == "ksyun" {
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
		got, err := m.Marks(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 250 || got[ids[249]]["reimage-token"] != "x" || len(got[ids[0]]) != 0 {
			t.Fatalf("Marks: %d ids, last %v, first %v", len(got), got[ids[249]], got[ids[0]])
		}
		e.settle()
		if n := e.count(markReadOp(c.typ), ""); n != 3 {
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

func preflighter(t *testing.T, p providers.Provider) providers.Preflighter {
	t.Helper()
	pf, ok := p.(providers.Preflighter)
	if !ok {
		t.Fatalf("%T is not a providers.Preflighter", p)
	}
	return pf
}

// TestPreflightImages: what each cloud says of images: a usable one with its
// name and minimum disk, one not active (by state or by the fault) unusable
// with the reason, a missing one (the fault) and an unknown one absent; by
// exact name, every image of that name; a change to an unusable image is
// refused by the cloud too.
func TestPreflightImages(t *testing.T) {
	const (
		queued  = "bbbbbbbb-0000-4000-8000-000000000002"
		broken  = "bbbbbbbb-0000-4000-8000-000000000003"
		missing = "bbbbbbbb-0000-4000-8000-000000000004"
		unknown = "bbbbbbbb-0000-4000-8000-000000000005"
		twin    = "bbbbbbbb-0000-4000-8000-000000000006"
		name    = "CentOS 7.9 64-bit 2026-11"
	)
	forEachCloud(t, func(t *testing.T, c cloud) {
		e := newEnv(t, c, func(o *sim.Options) {
			o.MissingImages, o.UnusableImages = []string{missing}, []string{broken}
		}, providers.Config{})
		for _, img := range []sim.Image{
			{ID: newImage, Name: name, MinDiskGB: 50, Platform: "centos-7.9"},
			{ID: queued, Name: "queued one", State: "queued"},
			{ID: broken, Name: "broken one"},
			{ID: missing, Name: name},
			{ID: twin, Name: "twin"}, {ID: oldImage, Name: "twin"},
		} {
			img.Provider = c.typ
			if err := e.sim.AddImageInfo(img); err != nil {
				t.Fatal(err)
			}
		}
		pf := preflighter(t, e.p)
		ctx := context.Background()
		got, err := pf.Images(ctx, []string{newImage, queued, broken, missing, unknown})
		if err != nil {
			t.Fatal(err)
		}
		if g := got[newImage]; !g.Usable || g.Name != name || g.MinDiskGB != 50 || g.State != "active" || g.Platform != "centos-7.9" {
			t.Errorf("usable image: %+v", g)
		}
		for _, id := range []string{queued, broken} {
			if g, ok := got[id]; !ok || g.Usable || !strings.Contains(g.Reason, "state") {
				t.Errorf("%s: %+v, want unusable with the state as the reason", id, g)
			}
		}
		for _, id := range []string{missing, unknown} {
			if g, ok := got[id]; ok {
				t.Errorf("%s: %+v, want absent", id, g)
			}
		}
		for n, want := range map[string]int{name: 1, "twin": 2, "nothing": 0} {
			imgs, err := pf.ImagesByName(ctx, n)
			if err != nil || len(imgs) != want {
				t.Errorf("ImagesByName(%q) = %+v, %v; want %d images", n, imgs, err, want)
			}
		}
		iid := id(44, 1)
		e.addFull(sim.Instance{ID: iid, State: "stopped"})
		req := changeReq(c.typ, iid, false)
		req.ImageID = broken
		if _, err := e.p.Change(ctx, req); err == nil {
			t.Errorf("a change to an unusable image was accepted")
		}
	})
}

// TestPreflightImagesCalls: KEC lists every image in one DescribeImages
// whatever the number of ids (it takes one ImageId and does not page); IMS
// takes one id per call.
func TestPreflightImagesCalls(t *testing.T) {
	forEachCloud(t, func(t *testing.T, c cloud) {
		e := newEnv(t, c, nil, providers.Config{})
		ids := []string{newImage}
		for i := range 5 {
			ids = append(ids, id(45, i))
			e.sim.AddImage(c.typ, id(45, i))
		}
		got, err := preflighter(t, e.p).Images(context.Background(), ids)
		if err != nil || len(got) != 6 {
			t.Fatalf("Images: %d, %v", len(got), err)
		}
		op, want := "DescribeImages", 1
		if c.typ == "huaweicloud" {
			op, want = "ListImages", 6
		}
		e.settle()
		if n := e.count(op, "200"); n != want {
			t.Errorf("%d %s calls for 6 images, want %d", n, op, want)
		}
	})
}

// TestPreflightKeyPairs: known key pairs exist, others do not (KEC: key ids
// through SKS in one call; Huawei: names through KPS, 404 = absent).
func TestPreflightKeyPairs(t *testing.T) {
	forEachCloud(t, func(t *testing.T, c cloud) {
		e := newEnv(t, c, nil, providers.Config{})
		known, other := keyID, "00000000-0000-4000-8000-00000000abcd"
		kp := sim.KeyPair{Provider: c.typ, ID: keyID, Name: "ops"}
		if c.typ == "huaweicloud" {
			known, other = "KeyPair-350b", "KeyPair-none"
			kp = sim.KeyPair{Provider: c.typ, Name: known}
		}
		if err := e.sim.AddKeyPair(kp); err != nil {
			t.Fatal(err)
		}
		got, err := preflighter(t, e.p).KeyPairs(context.Background(), []string{known, other, known})
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, map[string]bool{known: true, other: false}) {
			t.Errorf("KeyPairs = %v", got)
		}
	})
}

func lister(t *testing.T, p providers.Provider) providers.Lister {
	t.Helper()
	l, ok := p.(providers.Lister)
	if !ok {
		t.Fatalf("%T is not a providers.Lister", p)
	}
	return l
}

// TestListSelectsExactly: every filter selects exactly the instances whose
// name matches the glob (not the cloud's fuzzy match), whose zone is the one
// given and that carry every tag; listed instances have their tags (without
// reimage's markers), zone and private address.
func TestListSelectsExactly(t *testing.T) {
	forEachCloud(t, func(t *testing.T, c cloud) {
		e := newEnv(t, c, nil, providers.Config{})
		type row struct {
			name, zone string
			tags       map[string]string
		}
		rows := []row{
			{"web-0001", "z-a", map[string]string{"role": "web", "env": "prod"}},
			{"web-0002", "z-b", map[string]string{"role": "web", "env": "staging"}},
			{"web-0003", "z-a", map[string]string{"role": "web", "env": "prod", "team": "alpha"}},
			{"aweb-0001", "z-a", map[string]string{"role": "web", "env": "prod"}},
			{"webx0001", "z-a", nil},
			{"db-0001", "z-c", map[string]string{"role": "db", "env": "prod"}},
			{"web.0004", "z-a", map[string]string{"role": "web"}},
		}
		byName, tagsOf := map[string]string{}, map[string]map[string]string{}
		for i, r := range rows {
			iid := id(46, i)
			byName[r.name], tagsOf[r.name] = iid, r.tags
			e.addFull(sim.Instance{ID: iid, Name: r.name, Zone: r.zone, Tags: r.tags})
		}
		if err := marker(t, e.p).SetMark(context.Background(), byName["web-0001"], "reimage-token", "t"); err != nil {
			t.Fatal(err)
		}
		l := lister(t, e.p)
		for _, tt := range []struct {
			f    providers.Filter
			want []string
		}{
			{providers.Filter{}, []string{"web-0001", "web-0002", "web-0003", "aweb-0001", "webx0001", "db-0001", "web.0004"}},
			{providers.Filter{Name: "web-*"}, []string{"web-0001", "web-0002", "web-0003"}},
			{providers.Filter{Name: "web-0001"}, []string{"web-0001"}},
			{providers.Filter{Name: "web?000[13]"}, []string{"web-0001", "web-0003", "webx0001"}},
			{providers.Filter{Tags: map[string]string{"role": "web", "env": "prod"}}, []string{"web-0001", "web-0003", "aweb-0001"}},
			{providers.Filter{Tags: map[string]string{"role": "web"}, Zone: "z-a", Name: "web*"}, []string{"web-0001", "web-0003", "web.0004"}},
			{providers.Filter{Zone: "z-c"}, []string{"db-0001"}},
			{providers.Filter{Tags: map[string]string{"team": "beta"}}, nil},
			{providers.Filter{Tags: map[string]string{"reimage-token": "t"}}, nil},
		} {
			got, err := l.List(context.Background(), tt.f)
			if err != nil {
				t.Fatalf("%+v: %v", tt.f, err)
			}
			var names []string
			for _, inst := range got {
				names = append(names, inst.Name)
				v := e.view(inst.ID)
				if inst.Zone != v.Zone || inst.PrivateIP != v.PrivateIP || inst.Image != oldImage || inst.State != providers.StateRunning {
					t.Errorf("%s: listed %+v, simulator %+v", inst.Name, inst, v)
				}
				if _, marked := inst.Tags["reimage-token"]; marked || !maps.Equal(inst.Tags, tagsOf[inst.Name]) && len(inst.Tags)+len(tagsOf[inst.Name]) > 0 {
					t.Errorf("%s: tags %v", inst.Name, inst.Tags)
				}
			}
			slices.Sort(names)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(names, want) {
				t.Errorf("List(%+v) = %v, want %v", tt.f, names, want)
			}
		}
		if _, err := l.List(context.Background(), providers.Filter{Name: "web-["}); err == nil || !strings.Contains(err.Error(), "web-[") {
			t.Errorf("a malformed glob: %v", err)
		}
	})
}

// TestListPagesWithFewestCalls: 2,500 instances are listed with 3 listing
// calls on both clouds (pages of 1000); KEC adds one tag call per 100 of them.
func TestListPagesWithFewestCalls(t *testing.T) {
	forEachCloud(t, func(t *testing.T, c cloud) {
		e := newEnv(t, c, nil, providers.Config{})
		for i := range 2500 {
			e.addFull(sim.Instance{ID: id(47, i), Name: fmt.Sprintf("node-%04d", i), Tags: map[string]string{"n": strconv.Itoa(i % 2)}})
		}
		got, err := lister(t, e.p).List(context.Background(), providers.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2500 || got[2499].Tags["n"] != "1" || got[0].PrivateIP == "" {
			t.Fatalf("listed %d, last %+v", len(got), got[len(got)-1])
		}
		e.settle()
		if n := e.count(c.lookupOp, "200"); n != 3 {
			t.Errorf("%d %s calls for 2,500 instances, want 3", n, c.lookupOp)
		}
		if c.typ == "ksyun" {
			if n := e.count("ListTagsByResourceIds", "200"); n != 25 {
				t.Errorf("%d ListTagsByResourceIds calls for 2,500 instances, want 25", n)
			}
		}
		t.Logf("%s: 2,500 instances listed; requests %v", c.typ, e.sim.Stats().Requests)
	})
}

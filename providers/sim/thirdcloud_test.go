package sim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// pingFrontend is a made-up cloud with one API call, GET /<type>/ping: what a
// front-end does with the core (throttle by its type, count, read the fleet
// under the lock) and nothing else.
type pingFrontend struct{ fakeFrontend }

func (f *pingFrontend) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /"+f.typ+"/ping", func(w http.ResponseWriter, r *http.Request) {
		if retry, ok := f.Throttle(r, f.typ); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(retry))
			f.Count(f.typ, "Ping", http.StatusTooManyRequests, true)
			WriteJSON(w, http.StatusTooManyRequests, map[string]string{"code": "Slow"})
			return
		}
		f.Lock()
		n := len(f.Fleet(f.typ))
		f.Unlock()
		f.Count(f.typ, "Ping", http.StatusOK, false)
		WriteJSON(w, http.StatusOK, map[string]int{"instances": n})
	})
}

// TestCoreServesACloudItDoesNotKnow: a third cloud is a front-end and nothing
// else: the core routes it, rate-limits it by its type, counts its calls
// under its type, seeds it synthetically and lists its instances with its
// state names, beside the others.
func TestCoreServesACloudItDoesNotKnow(t *testing.T) {
	third := func(s *Server) Frontend { return &pingFrontend{fakeFrontend{Server: s, typ: "third"}} }
	s := New(Options{Seed: 1, Frontends: []NewFrontend{fake("fake-a"), third}, RateLimit: map[string]float64{"third": 1}})
	s.SeedSynthetic(5, 0)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	codes := []int{}
	for range 2 {
		res, err := http.Get(ts.URL + "/third/ping")
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		codes = append(codes, res.StatusCode)
		if res.StatusCode == http.StatusOK && body["instances"] != 2.0 {
			t.Errorf("ping saw %v instances, want 2 (5 shared among 2 clouds, the first gets the odd one)", body["instances"])
		}
	}
	if codes[0] != http.StatusOK || codes[1] != http.StatusTooManyRequests {
		t.Errorf("statuses %v, want 200 then 429 (1 request/s for type third)", codes)
	}
	st := s.Stats()
	if st.Requests["third/Ping/200"] != 1 || st.Requests["third/Ping/429"] != 1 || st.Throttled != 1 {
		t.Errorf("stats %+v", st)
	}
	if _, _, ok := s.Options().Credentials("third"); !ok {
		t.Error("no generated credentials for the third cloud")
	}
	per := map[string]int{}
	for _, v := range s.Instances() {
		per[v.Provider]++
		if v.State != "running" || v.PrivateIP == "" || v.Zone == "" {
			t.Errorf("%+v", v)
		}
	}
	if per["fake-a"] != 3 || per["third"] != 2 {
		t.Errorf("instances per cloud %v", per)
	}
}

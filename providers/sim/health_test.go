package sim

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
)

// freeLoopbackPort returns a port free on the first simulated private address.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.1.1:0")
	if err != nil {
		t.Skip("cannot bind 127.0.1.1:", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestHealthAnswersRunningInstancesAndFaultsAfterChange: running instances
// answer HTTP and TCP on their private address; a stopped one does not; an
// instance chosen as unhealthy answers until its change, then never again.
func TestHealthAnswersRunningInstancesAndFaultsAfterChange(t *testing.T) {
	port := freeLoopbackPort(t)
	h := newHarness(t, func(o *Options) { o.HealthPort = port; o.UnhealthyIDs = []string{kecRunning} })
	h.sim.startHealth()
	t.Cleanup(h.sim.stopHealth)
	hs := h.sim.health
	addr := func(provider, id string) string {
		return net.JoinHostPort(h.view(provider, id).PrivateIP, strconv.Itoa(port))
	}
	answers := func(provider, id string) bool {
		resp, err := http.Get("http://" + addr(provider, id) + "/healthz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "ok "+id+"\n" {
			t.Errorf("%s answered %d %q", id, resp.StatusCode, body)
		}
		c, err := net.Dial("tcp", addr(provider, id))
		if err != nil {
			t.Errorf("%s answers HTTP but refuses TCP: %v", id, err)
			return true
		}
		c.Close()
		return true
	}
	if !answers(Ksyun, kecRunning) || !answers(Ksyun, kecOther) || !answers(HuaweiCloud, ecsRunning) {
		t.Fatal("a running instance does not answer its health check")
	}
	if answers(Ksyun, kecStopped) {
		t.Error("a stopped instance answers its health check")
	}
	// The change of the chosen instance happens: it runs, but no longer answers.
	h.sim.mu.Lock()
	h.sim.fleet[Ksyun][kecRunning].Changes = 1
	h.sim.fleet[Ksyun][kecOther].Changes = 1
	h.sim.mu.Unlock()
	h.sim.reconcileHealth(hs)
	if answers(Ksyun, kecRunning) {
		t.Error("the unhealthy instance still answers after its change")
	}
	if !answers(Ksyun, kecOther) {
		t.Error("a healthy instance stopped answering after its change")
	}
}

// TestUnhealthyRateIsSeededPerID: the fraction is decided per id from the
// seed, the same every time, and near the rate over many ids.
func TestUnhealthyRateIsSeededPerID(t *testing.T) {
	s := New(Options{Seed: 3, UnhealthyRate: 0.25})
	n := 0
	for i := 0; i < 4000; i++ {
		id := "i-" + strconv.Itoa(i)
		u := s.Unhealthy(id)
		if u != s.Unhealthy(id) {
			t.Fatalf("%s decided two ways", id)
		}
		if u {
			n++
		}
	}
	if n < 900 || n > 1100 {
		t.Errorf("%d of 4000 unhealthy at rate 0.25", n)
	}
}

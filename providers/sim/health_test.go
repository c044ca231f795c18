package sim

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

// freeLoopbackPort returns a port free on the wildcard address, where the
// health listener binds.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Skip("cannot bind 0.0.0.0:", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// quickClient gives up on a check after a moment: an instance that does not
// answer drops the connection attempt, which would otherwise wait for the
// kernel's SYN retries.
var quickClient = &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}

// answersAt reports whether addr answers a health check, and its body.
func answersAt(addr string) (bool, string) {
	resp, err := quickClient.Get("http://" + addr + "/healthz")
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == 200, string(body)
}

// connects reports whether a TCP connection to addr is accepted.
func connects(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// openFiles counts this process's file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(fds)
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
		ok, body := answersAt(addr(provider, id))
		if !ok {
			if connects(addr(provider, id)) {
				t.Errorf("%s does not answer HTTP but accepts TCP", id)
			}
			return false
		}
		if body != "ok "+id+"\n" {
			t.Errorf("%s answered %q", id, body)
		}
		if !connects(addr(provider, id)) {
			t.Errorf("%s answers HTTP but refuses TCP", id)
		}
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

// TestHealthOneListenerForTenThousandInstances: 10,000 instances answer their
// health checks through one socket: a running one with its id, a stopped one
// and an address of no instance not at all.
func TestHealthOneListenerForTenThousandInstances(t *testing.T) {
	port := freeLoopbackPort(t)
	s := New(Options{Seed: 1, HealthPort: port, Frontends: []NewFrontend{fake(Ksyun), fake(HuaweiCloud)}})
	const n = 10000
	for i := range n {
		st := ""
		if i%10 == 3 {
			st = "stopped"
		}
		if err := s.AddInstance(Instance{Provider: Ksyun, ID: fmt.Sprintf("i-%05d", i), Image: "img", State: st}); err != nil {
			t.Fatal(err)
		}
	}
	before := openFiles(t)
	s.startHealth()
	t.Cleanup(s.stopHealth)
	if opened := openFiles(t) - before; opened > 2 {
		t.Errorf("%d files opened for the health checks of %d instances, want 1 listener", opened, n)
	}
	byID := map[string]string{}
	for _, v := range s.Instances() {
		byID[v.ID] = v.PrivateIP
	}
	for i := 0; i < n; i += 97 {
		id := fmt.Sprintf("i-%05d", i)
		addr := net.JoinHostPort(byID[id], strconv.Itoa(port))
		if i%10 == 3 {
			if connects(addr) {
				t.Errorf("stopped %s at %s accepts a connection", id, addr)
			}
			continue
		}
		if ok, body := answersAt(addr); !ok || body != "ok "+id+"\n" {
			t.Errorf("running %s at %s: %v %q", id, addr, ok, body)
		}
	}
	if connects(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))) {
		t.Error("127.0.0.1, no instance's address, accepts the health port")
	}
}

// TestHealthAlternatingStatesOneListener: down and running instances
// alternating over 6,000 addresses (the worst case for runs) still take one
// socket; each answers as its state says.
func TestHealthAlternatingStatesOneListener(t *testing.T) {
	port := freeLoopbackPort(t)
	s := New(Options{Seed: 1, HealthPort: port, Frontends: []NewFrontend{fake(Ksyun), fake(HuaweiCloud)}})
	const n = 6000
	for i := range n {
		st := ""
		if i%2 == 1 {
			st = "stopped"
		}
		if err := s.AddInstance(Instance{Provider: HuaweiCloud, ID: fmt.Sprintf("s-%05d", i), Image: "img", State: st}); err != nil {
			t.Fatal(err)
		}
	}
	before := openFiles(t)
	s.startHealth()
	t.Cleanup(s.stopHealth)
	if opened := openFiles(t) - before; opened > 2 {
		t.Errorf("%d files opened for the health checks of %d instances, want 1 listener", opened, n)
	}
	ips := map[string]string{}
	for _, v := range s.Instances() {
		ips[v.ID] = v.PrivateIP
	}
	for _, i := range []int{0, 1, 2, 3, 252, 253, 254, 255, 1001, 1002, n - 4, n - 3, n - 2, n - 1} {
		id := fmt.Sprintf("s-%05d", i)
		addr := net.JoinHostPort(ips[id], strconv.Itoa(port))
		if i%2 == 1 {
			if connects(addr) {
				t.Errorf("stopped %s at %s accepts a connection", id, addr)
			}
			continue
		}
		if ok, body := answersAt(addr); !ok || body != "ok "+id+"\n" {
			t.Errorf("running %s at %s: %v %q", id, addr, ok, body)
		}
	}
}

// TestHealthFilterCoversWhatFits: the bitmap's words, and what is left out
// when the addresses that answer span more words than the kernel allows.
func TestHealthFilterCoversWhatFits(t *testing.T) {
	prog, covered := healthFilter(100, []uint32{100, 101, 131, 132, 200})
	// Words 0 (100, 101, 131), 1 (132) and 3 (200): head, 3 words, tail.
	if covered != 5 || len(prog) != filterHead+3*4+filterTail {
		t.Errorf("%d instructions covering %d, want %d covering 5", len(prog), covered, filterHead+3*4+filterTail)
	}
	if prog[filterHead+1].K != 1<<0|1<<1|1<<31 {
		t.Errorf("word 0 is %b", prog[filterHead+1].K)
	}
	var up []uint32
	for i := range uint32(40000) {
		up = append(up, 1000+i)
	}
	prog, covered = healthFilter(1000, up)
	if len(prog) > maxFilterInsns || covered != maxFilterWords*32 {
		t.Errorf("%d instructions covering %d of %d; want at most %d covering %d", len(prog), covered, len(up), maxFilterInsns, maxFilterWords*32)
	}
}

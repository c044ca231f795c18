package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Health answers the health checks of a rollout (rollout.health) for the
// simulated instances: with Options.HealthPort set, every instance that runs
// serves HTTP on its private address (127.x.y.z, see nextPrivateIP) at that
// port: GET of any path answers 200 "ok <id>". A TCP check connects to the same
// listener. An instance that does not run (stopped, rebuilding, error) has no
// listener: connections are refused, as from a machine that is down.
//
// The fault: an instance chosen by Options.UnhealthyIDs, or by
// Options.UnhealthyRate (decided from Seed and the id, so reproducible), is
// unhealthy once the simulator has performed a change on it: it runs, but its
// service never comes up (no listener).

// healthReconcile is how often the listeners are brought in line with the
// instances' states; a plan's health interval is much longer.
const healthReconcile = 20 * time.Millisecond

// health keeps one listener per instance that should answer.
type health struct {
	port int
	stop chan struct{}
	done chan struct{}

	mu        sync.Mutex
	listeners map[string]*healthListener // by provider/id
}

type healthListener struct {
	ln  net.Listener
	srv *http.Server
}

// startHealth starts answering health checks when Options.HealthPort is set.
func (s *Server) startHealth() {
	if s.opts.HealthPort <= 0 {
		return
	}
	h := &health{port: s.opts.HealthPort, stop: make(chan struct{}), done: make(chan struct{}), listeners: map[string]*healthListener{}}
	s.mu.Lock()
	s.health = h
	s.mu.Unlock()
	s.reconcileHealth(h)
	go func() {
		defer close(h.done)
		t := time.NewTicker(healthReconcile)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				h.closeAll()
				return
			case <-t.C:
				s.reconcileHealth(h)
			}
		}
	}()
}

// stopHealth closes every health listener.
func (s *Server) stopHealth() {
	s.mu.Lock()
	h := s.health
	s.health = nil
	s.mu.Unlock()
	if h == nil {
		return
	}
	close(h.stop)
	<-h.done
}

// Unhealthy reports whether the unhealthy fault covers the instance: it will
// be unhealthy after a change.
func (s *Server) Unhealthy(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unhealthy(id)
}

// unhealthy: s.mu must be held.
func (s *Server) unhealthy(id string) bool {
	for _, x := range s.opts.UnhealthyIDs {
		if x == id {
			return true
		}
	}
	if s.opts.UnhealthyRate <= 0 {
		return false
	}
	var seed [8]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(s.opts.Seed))
	sum := sha256.Sum256(append(seed[:], id...))
	return float64(binary.LittleEndian.Uint64(sum[:8])>>11)/float64(1<<53) < s.opts.UnhealthyRate
}

// reconcileHealth opens a listener for every instance that should answer and
// closes those of instances that should not.
func (s *Server) reconcileHealth(h *health) {
	want := map[string]string{} // key -> address
	s.mu.Lock()
	now := s.Now()
	for prov, m := range s.fleet {
		for id, in := range m {
			in.Settle(now)
			if in.State != StateRunning || in.IP == "" {
				continue
			}
			if in.Changes > 0 && s.unhealthy(id) {
				continue
			}
			want[prov+"/"+id] = in.IP
		}
	}
	s.mu.Unlock()

	h.mu.Lock()
	defer h.mu.Unlock()
	for key, l := range h.listeners {
		if _, ok := want[key]; !ok {
			l.srv.Close()
			delete(h.listeners, key)
		}
	}
	for key, ip := range want {
		if h.listeners[key] != nil {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(h.port)))
		if err != nil {
			continue // taken by someone else: this instance looks down; tried again next time
		}
		id := idOf(key)
		srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "ok %s\n", id)
		})}
		go func() { _ = srv.Serve(ln) }()
		h.listeners[key] = &healthListener{ln: ln, srv: srv}
	}
}

func idOf(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[i+1:]
		}
	}
	return key
}

func (h *health) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for key, l := range h.listeners {
		l.srv.Close()
		delete(h.listeners, key)
	}
}

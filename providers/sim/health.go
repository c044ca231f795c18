package sim

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Health answers the health checks of a rollout (rollout.health) for the
// simulated instances: with Options.HealthPort set, every instance that runs
// answers HTTP on its private address (127.x.y.z, see nextPrivateIP) at that
// port: GET of any path answers 200 "ok <id>". A TCP check connects there.
// An instance that does not run (stopped, rebuilding, error) does not answer:
// the connection is never accepted and the check times out, as one to a
// machine that is down.
//
// One listener answers for every instance, so that 10,000 instances take one
// socket, not 10,000: it is bound to the wildcard address at the port and
// tells the instance by the connection's local address (the address the check
// connected to). A classic BPF filter on it (healthFilter, attached by
// health_linux.go) drops every packet to an address that should not answer:
// an instance that is down, an address of no instance, anything outside the
// instances' addresses (so nothing from the network reaches it). The filter
// is a bitmap of the addresses that answer, one word of 32 addresses in four
// instructions, so the kernel's limit of 4,096 instructions covers the first
// 32,000 or so addresses (maxFilterWords words); an instance beyond them does
// not answer. Linux only.
//
// The fault: an instance chosen by Options.UnhealthyIDs, or by
// Options.UnhealthyRate (decided from Seed and the id, so reproducible), is
// unhealthy once the simulator has performed a change on it: it runs, but its
// service never comes up (it does not answer).

// healthReconcile is how often the filter is brought in line with the
// instances' states; a plan's health interval is much longer.
const healthReconcile = 20 * time.Millisecond

// health is the one listener and what it answers.
type health struct {
	port int
	stop chan struct{}
	done chan struct{}

	mu  sync.Mutex
	ln  net.Listener // nil until the port could be bound
	raw syscall.RawConn
	srv *http.Server
	// answer maps the address of each instance that answers to its id.
	answer map[uint32]string
	// filter is the program attached to ln.
	filter []bpfInsn
}

// startHealth starts answering health checks when Options.HealthPort is set.
func (s *Server) startHealth() {
	if s.opts.HealthPort <= 0 {
		return
	}
	h := &health{port: s.opts.HealthPort, stop: make(chan struct{}), done: make(chan struct{}),
		answer: map[uint32]string{}}
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

// healthAddr is an instance's private address and whether it answers.
type healthAddr struct {
	ip uint32
	id string
	up bool
}

// reconcileHealth brings the listener's filter in line with the instances:
// the addresses of those that run (and are healthy) pass, every other is
// dropped.
func (s *Server) reconcileHealth(h *health) {
	var addrs []healthAddr
	s.mu.Lock()
	now := s.Now()
	for _, m := range s.fleet {
		for id, in := range m {
			ip, ok := ip4(in.IP)
			if !ok {
				continue
			}
			in.Settle(now)
			up := in.State == StateRunning && !(in.Changes > 0 && s.unhealthy(id))
			addrs = append(addrs, healthAddr{ip: ip, id: id, up: up})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(addrs, func(a, b healthAddr) int { return cmp.Compare(a.ip, b.ip) })

	var prog []bpfInsn
	answer := map[uint32]string{}
	if len(addrs) == 0 {
		prog = dropAll
	} else {
		var up []uint32
		for _, a := range addrs {
			if a.up {
				up = append(up, a.ip)
			}
		}
		var covered int
		prog, covered = healthFilter(addrs[0].ip, up)
		for _, a := range addrs {
			if a.up && len(answer) < covered {
				answer[a.ip] = a.id
			}
		}
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.stop:
		return // closed, or closing
	default:
	}
	h.answer = answer
	if h.ln == nil {
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error { return attachFilter(c, dropAll) }}
		ln, err := lc.Listen(context.Background(), "tcp4", net.JoinHostPort("0.0.0.0", strconv.Itoa(h.port)))
		if err != nil {
			return // the port is taken: every instance looks down; tried again next time
		}
		raw, err := ln.(*net.TCPListener).SyscallConn()
		if err != nil {
			ln.Close()
			return
		}
		h.ln, h.raw, h.filter = ln, raw, dropAll
		h.srv = &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(h.serve)}
		go func() { _ = h.srv.Serve(ln) }()
	}
	if !slices.Equal(prog, h.filter) {
		if err := attachFilter(h.raw, prog); err == nil {
			h.filter = prog
		}
	}
}

// serve answers a health check for the instance at the connection's local
// address; one that should not answer (its state changed since the filter
// let the connection through) gets its connection closed.
func (h *health) serve(w http.ResponseWriter, r *http.Request) {
	var id string
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ap, err := netip.ParseAddrPort(la.String()); err == nil && ap.Addr().Unmap().Is4() {
			b := ap.Addr().Unmap().As4()
			h.mu.Lock()
			id = h.answer[binary.BigEndian.Uint32(b[:])]
			h.mu.Unlock()
		}
	}
	if id == "" {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "ok %s\n", id)
}

func (h *health) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv != nil {
		h.srv.Close()
		h.srv, h.ln = nil, nil
	}
}

// ip4 reads a dotted IPv4 address as a number (big-endian, as on the wire).
func ip4(s string) (uint32, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, false
	}
	b := a.As4()
	return binary.BigEndian.Uint32(b[:]), true
}

// A classic BPF program (the socket filter of SO_ATTACH_FILTER): what
// healthFilter builds and attachFilter attaches.
type bpfInsn struct {
	Code   uint16
	Jt, Jf uint8
	K      uint32
}

// The instructions the filter uses (linux/filter.h).
const (
	bpfLdW   = 0x20 // BPF_LD | BPF_W | BPF_ABS: A = word at k
	bpfLdImm = 0x00 // BPF_LD | BPF_IMM: A = k
	bpfLdMem = 0x60 // BPF_LD | BPF_MEM: A = M[k]
	bpfSt    = 0x02 // BPF_ST: M[k] = A
	bpfTax   = 0x07 // BPF_MISC | BPF_TAX: X = A
	bpfSub   = 0x14 // BPF_ALU | BPF_SUB | BPF_K
	bpfAnd   = 0x54 // BPF_ALU | BPF_AND | BPF_K
	bpfRsh   = 0x74 // BPF_ALU | BPF_RSH | BPF_K
	bpfRshX  = 0x7c // BPF_ALU | BPF_RSH | BPF_X
	bpfJa    = 0x05 // BPF_JMP | BPF_JA: skip k
	bpfJeq   = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
	bpfJge   = 0x35 // BPF_JMP | BPF_JGE | BPF_K
	bpfRet   = 0x06 // BPF_RET | BPF_K
	// skfNetOff makes a load's offset relative to the IP header: a TCP
	// socket's filter sees the packet from its TCP header.
	skfNetOff = 0xfff00000 // SKF_NET_OFF, -0x100000
	// maxFilterInsns is the kernel's limit (BPF_MAXINSNS).
	maxFilterInsns = 4096
	// filterHead and filterTail are the instructions around the words.
	filterHead, filterTail = 9, 5
	// maxFilterWords is how many words of 32 addresses fit, four
	// instructions each.
	maxFilterWords = (maxFilterInsns - filterHead - filterTail) / 4
)

// dropAll drops every packet.
var dropAll = []bpfInsn{{Code: bpfRet, K: 0}}

// healthFilter returns the program that passes packets to the addresses in up
// (sorted, none below first) and drops the rest, and how many of up it covers
// (all but those beyond maxFilterWords words). The destination's offset from
// first picks a word (offset/32) and a bit (offset%32) of a bitmap held in the
// program's constants: per word with an address that answers, a comparison,
// the word, a shift and a jump to the common end.
func healthFilter(first uint32, up []uint32) (prog []bpfInsn, covered int) {
	type word struct{ index, bits uint32 }
	var words []word
	for _, ip := range up {
		off := ip - first
		w := off / 32
		if len(words) == 0 || words[len(words)-1].index != w {
			if len(words) == maxFilterWords {
				break
			}
			words = append(words, word{index: w})
		}
		words[len(words)-1].bits |= 1 << (off % 32)
		covered++
	}
	prog = []bpfInsn{
		{Code: bpfLdW, K: skfNetOff + 16}, // the destination address
		{Code: bpfJge, K: first, Jt: 1},
		{Code: bpfRet, K: 0},
		{Code: bpfSub, K: first},
		{Code: bpfSt, K: 0},
		{Code: bpfAnd, K: 31},
		{Code: bpfTax}, // X = the bit
		{Code: bpfLdMem, K: 0},
		{Code: bpfRsh, K: 5}, // A = the word
	}
	tail := filterHead + 4*len(words) + 1
	for _, w := range words {
		prog = append(prog,
			bpfInsn{Code: bpfJeq, K: w.index, Jf: 3},
			bpfInsn{Code: bpfLdImm, K: w.bits},
			bpfInsn{Code: bpfRshX},
			bpfInsn{Code: bpfJa, K: uint32(tail - (len(prog) + 4))},
		)
	}
	return append(prog,
		bpfInsn{Code: bpfRet, K: 0}, // no word: no instance answers there
		bpfInsn{Code: bpfAnd, K: 1},
		bpfInsn{Code: bpfJeq, K: 1, Jf: 1},
		bpfInsn{Code: bpfRet, K: 0xffffffff},
		bpfInsn{Code: bpfRet, K: 0},
	), covered
}

package sim

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Write operations the after-effect faults apply to, as named in
// Options.FaultOps and in the Faults counters.
const (
	OpStop      = "stop"
	OpStart     = "start"
	OpChange    = "change"
	OpReinstall = "reinstall"
	// OpMark is a write of reimage's markers (where its front-end keeps
	// them: tags, metadata). The faults hit it only when
	// Options.FaultOps names it: it is not among the default four, so that a
	// seeded fault stream without it draws as before.
	OpMark = "mark"
)

// Fault kinds, the first part of a Stats.Faults key.
const (
	// FaultLostAnswer: the cloud acted, then the connection closed with no answer.
	FaultLostAnswer = "lost_answer"
	// FaultGateway502: the cloud acted, then a gateway answered 502.
	FaultGateway502 = "gateway_502"
	// FaultQueued: a change waited QueueDelay before it showed in the instance's state.
	FaultQueued = "queued"
	// FaultSuperseded: an operation arrived while a queued change had not yet
	// shown; the queued change is still counted as an install performed.
	FaultSuperseded = "superseded"
)

// writeOps are the operations FaultOps may name.
var writeOps = map[string]bool{OpStop: true, OpStart: true, OpChange: true, OpReinstall: true, OpMark: true}

// ValidFaultOp reports whether op may appear in Options.FaultOps.
func ValidFaultOp(op string) bool { return writeOps[op] }

// afterEffect is what happens to the answer of a write the cloud carried out.
type afterEffect uint8

const (
	answerNormally afterEffect = iota
	answerLost
	answer502
)

// AlreadyCounted is the status deliver returns for a request it counted itself.
const AlreadyCounted = -1

// faultApplies reports whether the after-effect faults cover op; s.mu must be held.
func (s *Server) faultApplies(op string) bool {
	if len(s.opts.FaultOps) == 0 {
		return op != OpMark
	}
	for _, o := range s.opts.FaultOps {
		if o == op {
			return true
		}
	}
	return false
}

// afterEffectFault decides, once the cloud has carried out the write op on
// ids, whether its answer is lost or replaced by a 502: always for a chosen
// id, else by the seeded rates. A lost answer is decided first.
func (s *Server) afterEffectFault(op string, ids []string) afterEffect {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.faultApplies(op) {
		return answerNormally
	}
	chosen := func(set map[string]bool) bool {
		for _, id := range ids {
			if set[id] {
				return true
			}
		}
		return false
	}
	// Each rate draws from the chaos stream only when it is set, so that
	// turning one fault on does not shift the other's decisions.
	if chosen(s.loseIDs) || s.opts.LostAnswerRate > 0 && s.chaosRNG.Float64() < s.opts.LostAnswerRate {
		return answerLost
	}
	if chosen(s.gatewayIDs) || s.opts.Gateway502Rate > 0 && s.chaosRNG.Float64() < s.opts.Gateway502Rate {
		return answer502
	}
	return answerNormally
}

// queueDelay is how long a change to id waits before it shows in the
// instance's state; 0: it shows at once. s.mu must be held.
func (s *Server) queueDelay(id string) time.Duration {
	if s.opts.QueueDelay <= 0 {
		return 0
	}
	if s.queueIDs[id] || s.opts.QueueRate > 0 && s.queueRNG.Float64() < s.opts.QueueRate {
		return s.opts.QueueDelay
	}
	return 0
}

// CountFault adds one to the fault counter kind/provider/op.
func (s *Server) CountFault(kind, provider, op string) {
	s.statsMu.Lock()
	s.faults[kind+"/"+provider+"/"+op]++
	s.statsMu.Unlock()
}

// Deliver ends a write the cloud has carried out: it writes the answer, or
// applies the after-effect fault. It sets *status to the status to count, or
// to alreadyCounted when the answer was lost: that request is counted (status 0)
// before the connection closes, so that a client seeing the close finds it
// in the stats.
func (s *Server) Deliver(w http.ResponseWriter, provider, apiOp, op string, ids []string, answer func(), status *int) {
	switch s.afterEffectFault(op, ids) {
	case answerLost:
		s.CountFault(FaultLostAnswer, provider, apiOp)
		s.Count(provider, apiOp, 0, false)
		*status = AlreadyCounted // set first: loseAnswer may not return
		loseAnswer(w)
		return
	case answer502:
		s.CountFault(FaultGateway502, provider, apiOp)
		*status = http.StatusBadGateway
		writeBadGateway(w)
		return
	}
	answer()
}

// loseAnswer closes the client's connection without writing anything: the
// effect has happened and the client never learns it. Over HTTP/1 the
// connection is hijacked and closed; where it cannot be (HTTP/2), the handler
// aborts, which resets the stream.
func loseAnswer(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// badGatewayPage is what a load balancer in front of either API answers when
// the backend's answer did not reach it: HTML, not the cloud's JSON.
const badGatewayPage = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"

func writeBadGateway(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", strconv.Itoa(len(badGatewayPage)))
	w.WriteHeader(http.StatusBadGateway)
	fmt.Fprint(w, badGatewayPage)
}

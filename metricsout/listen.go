package metricsout

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// shutdownTimeout bounds how long a scrape in progress may delay the exit.
const shutdownTimeout = 5 * time.Second

// Server serves /metrics while a run lasts.
type Server struct {
	srv    *http.Server
	ln     net.Listener
	done   chan struct{}
	logger *slog.Logger
}

// Listen starts serving g at http://addr/metrics. It returns once the port is
// bound, so that an address in use is reported before the run starts.
func Listen(addr string, g prometheus.Gatherer, logger *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slogPrinter{logger}}))
	s := &Server{
		srv:    &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		ln:     ln,
		done:   make(chan struct{}),
		logger: logger,
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("metrics server stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on (with the port chosen when addr
// asked for port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close keeps serving for linger, so that the next scrape catches the run's
// final values, unless stop is closed first (an operator's signal must not be
// kept waiting); then it shuts the server down, letting scrapes in progress end.
func (s *Server) Close(linger time.Duration, stop <-chan struct{}) {
	if linger > 0 {
		s.logger.Info("serving the final metrics before exiting", "addr", s.Addr(), "linger", linger.String())
		t := time.NewTimer(linger)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	<-s.done
}

// slogPrinter lets promhttp report encoding errors through the run's logger.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.l.Warn("metrics endpoint", "err", v)
}

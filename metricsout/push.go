package metricsout

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"
)

// Job is the Pushgateway job of every reimage group.
const Job = "reimage"

// DefaultPushInterval is how often a long run pushes while it lasts.
const DefaultPushInterval = 30 * time.Second

// pushTimeout bounds one push, so that an unreachable gateway delays a run's
// end by at most this.
const pushTimeout = 10 * time.Second

// PushConfig says where and how to push.
type PushConfig struct {
	// URL of the Pushgateway, e.g. http://pushgateway:9091.
	URL string
	// Grouping: the labels of the group beside job=reimage (PlanLabels).
	Grouping prometheus.Labels
	// Username and Password for basic auth; none when Username is empty.
	Username, Password string
	// Client makes the requests; one with a pushTimeout timeout when nil.
	Client *http.Client
}

// Pusher pushes a gatherer's metrics to a Pushgateway with Add (POST): only
// the metrics pushed replace those of the same name in the group, so a run
// that does not export reimage_last_success_timestamp_seconds (it did not
// converge) leaves the previous run's value in place.
type Pusher struct {
	cfg    PushConfig
	g      prometheus.Gatherer
	logger *slog.Logger

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// NewPusher returns a Pusher of g. The grouping labels are stripped from the
// pushed series: the gateway adds them back from the group's URL, and
// client_golang refuses to push a series that carries them itself.
func NewPusher(cfg PushConfig, g prometheus.Gatherer, logger *slog.Logger) *Pusher {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: pushTimeout}
	}
	// Credentials written into the URL move to basic auth: client_golang
	// quotes the URL in its errors, which are logged.
	if u, err := url.Parse(cfg.URL); err == nil && u.User != nil {
		if cfg.Username == "" {
			cfg.Username = u.User.Username()
			cfg.Password, _ = u.User.Password()
		}
		u.User = nil
		cfg.URL = u.String()
	}
	names := make([]string, 0, len(cfg.Grouping))
	for k := range cfg.Grouping {
		names = append(names, k)
	}
	return &Pusher{cfg: cfg, g: withoutLabels(g, names), logger: logger, stop: make(chan struct{})}
}

// Push pushes once. The error is returned for tests; callers that only log it
// can use PushAndLog.
func (p *Pusher) Push(ctx context.Context) error {
	ps := push.New(p.cfg.URL, Job).Gatherer(p.g).Client(p.cfg.Client)
	for k, v := range p.cfg.Grouping {
		ps = ps.Grouping(k, v)
	}
	if p.cfg.Username != "" {
		ps = ps.BasicAuth(p.cfg.Username, p.cfg.Password)
	}
	if err := ps.AddContext(ctx); err != nil {
		return fmt.Errorf("push to the Pushgateway: %w", err)
	}
	return nil
}

// PushAndLog pushes once and logs a failure as a warning: a push that fails
// must not change the run's result.
func (p *Pusher) PushAndLog(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, pushTimeout)
	defer cancel()
	if err := p.Push(ctx); err != nil {
		p.logger.Warn("metrics push failed", "err", err)
		return
	}
	p.logger.Debug("metrics pushed", "url", p.cfg.URL)
}

// Start pushes every interval until Stop, so that a long run shows its
// progress on dashboards fed by the gateway.
func (p *Pusher) Start(interval time.Duration) {
	if interval <= 0 {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.PushAndLog(context.Background())
			case <-p.stop:
				return
			}
		}
	}()
}

// Stop ends the periodic pushes and pushes the final values. It uses a context
// of its own: the run's may be cancelled by a signal, and the outcome of an
// interrupted run is exactly what must reach the gateway.
func (p *Pusher) Stop() {
	p.once.Do(func() { close(p.stop) })
	p.wg.Wait()
	p.PushAndLog(context.Background())
}

// withoutLabels returns a gatherer of g's metrics without the named labels.
func withoutLabels(g prometheus.Gatherer, names []string) prometheus.Gatherer {
	if len(names) == 0 {
		return g
	}
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mfs, err := g.Gather()
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				// A new slice: the registry may hand out its own cached
				// label pairs, which must not be changed in place.
				kept := make([]*dto.LabelPair, 0, len(m.Label))
				for _, l := range m.Label {
					if !slices.Contains(names, l.GetName()) {
						kept = append(kept, l)
					}
				}
				m.Label = kept
			}
		}
		return mfs, err
	})
}

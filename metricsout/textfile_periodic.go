package metricsout

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TextfileWriter rewrites a node_exporter textfile every interval while a run
// lasts, so that a long run's progress shows on dashboards fed by the textfile
// collector and not only its end. The caller writes the final values itself
// (WriteTextfile) after Stop.
type TextfileWriter struct {
	path   string
	g      prometheus.Gatherer
	keep   []string
	logger *slog.Logger

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// StartTextfile writes g to path every interval (never when interval <= 0)
// until Stop. keep names the families to carry over from the file being
// replaced while g does not export them: mid-run, those are the previous
// run's outcome gauges, which would otherwise vanish for the length of the run
// (and reset the pending state of an alert with a `for` on them).
func StartTextfile(path string, g prometheus.Gatherer, interval time.Duration, logger *slog.Logger, keep ...string) *TextfileWriter {
	w := &TextfileWriter{path: path, g: g, keep: keep, logger: logger, stop: make(chan struct{})}
	if interval <= 0 {
		return w
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := WriteTextfile(w.path, w.g, w.keep...); err != nil {
					w.logger.Warn("cannot rewrite the metrics textfile", "path", w.path, "err", err)
				}
			case <-w.stop:
				return
			}
		}
	}()
	return w
}

// Stop ends the periodic writes and returns once none is in progress, so that
// the caller's final write is the last.
func (w *TextfileWriter) Stop() {
	w.once.Do(func() { close(w.stop) })
	w.wg.Wait()
}

package metricsout

import (
	"errors"
	"io/fs"
	"os"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// WriteTextfile writes g's metrics to path for node_exporter's textfile
// collector, atomically: into a temporary file in the same directory (whose
// name does not end in .prom, so the collector ignores it), then renamed over
// path. A reader sees the old file or the new one, never a part.
//
// keep names metrics to carry over from the file being replaced when g does
// not export them: the file is rewritten whole by every run, so without this a
// failed run would erase reimage_last_success_timestamp_seconds, which is
// exactly the value an alert on a missing success needs.
func WriteTextfile(path string, g prometheus.Gatherer, keep ...string) error {
	if len(keep) > 0 {
		old, err := readKept(path, keep)
		if err != nil {
			return err
		}
		if len(old) > 0 {
			g = carryOver{g, old}
		}
	}
	return prometheus.WriteToTextfile(path, g)
}

// readKept returns the families named in keep from the textfile at path, if
// there is one.
func readKept(path string, keep []string) ([]*dto.MetricFamily, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(f)
	if err != nil {
		// A file we cannot read back is replaced rather than blocking every
		// later run's output; the value it held is lost, as it would be anyway.
		return nil, nil
	}
	var out []*dto.MetricFamily
	for _, name := range keep {
		if mf := mfs[name]; mf != nil {
			out = append(out, mf)
		}
	}
	return out, nil
}

// carryOver adds the old families that g does not export.
type carryOver struct {
	g   prometheus.Gatherer
	old []*dto.MetricFamily
}

func (c carryOver) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := c.g.Gather()
	if err != nil {
		return mfs, err
	}
	for _, o := range c.old {
		if !slices.ContainsFunc(mfs, func(mf *dto.MetricFamily) bool { return mf.GetName() == o.GetName() }) {
			mfs = append(mfs, o)
		}
	}
	// The text format wants families sorted by name, as Gather returns them.
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int {
		switch {
		case a.GetName() < b.GetName():
			return -1
		case a.GetName() > b.GetName():
			return 1
		}
		return 0
	})
	return mfs, nil
}

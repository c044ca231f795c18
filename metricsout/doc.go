// Package metricsout sends a run's metrics out of the process, the three ways
// the README names ("Metrics, alerts and events"): a /metrics endpoint served
// while the run lasts (and a little longer, so a scrape catches the final
// values), pushes to a Prometheus Pushgateway, and a node_exporter textfile
// written atomically.
//
// It knows nothing of what the metrics mean: it takes a prometheus.Gatherer.
// A failure to serve, push or write is the caller's to log; it must never
// change a run's result, so nothing here panics or exits.
package metricsout

import "github.com/prometheus/client_golang/prometheus"

// Label names every series of a run carries: the plan name, and the shard
// only when the plan is split into shards (README.md, "Metrics, alerts and events").
const (
	LabelPlan  = "plan"
	LabelShard = "shard"
)

// PlanLabels returns the labels that identify a run's series: the plan name,
// and the shard ("I/N") when there is one. They are bounded by the number of
// plans an operator keeps, unlike instance or request ids, which are never labels.
func PlanLabels(plan, shard string) prometheus.Labels {
	l := prometheus.Labels{LabelPlan: plan}
	if shard != "" {
		l[LabelShard] = shard
	}
	return l
}

// NewInfo registers reimage_info{version}, always 1: the version that ran,
// for dashboards to show and to correlate a change of behaviour with an upgrade.
func NewInfo(reg prometheus.Registerer, version string) {
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "reimage", Name: "info", Help: "Always 1; the version of reimage that ran, as a label.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	info.Set(1)
	reg.MustRegister(info)
}

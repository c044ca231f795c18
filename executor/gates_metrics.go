package executor

import "github.com/prometheus/client_golang/prometheus"

// GateMetrics exports what the rollout gates decided, so that a run that did
// nothing because it began outside its maintenance window, or that a gate
// halted, is told apart from a converged or a failed one. Like the outcome
// gauges of RunMetrics they are exported only once the run has ended.
type GateMetrics struct {
	outsideWindow *lateGauge
	windowClosed  *lateGauge
	gateHalted    *lateGauge
}

// NewGateMetrics creates the gate metrics and registers them on reg.
func NewGateMetrics(reg prometheus.Registerer) *GateMetrics {
	m := &GateMetrics{
		outsideWindow: newLateGauge("reimage_run_outside_window", "1 if the last run began outside rollout.window and so changed nothing (not a failure, not a convergence), else 0."),
		windowClosed:  newLateGauge("reimage_run_window_closed", "1 if rollout.window closed during the last run and instances were left for the next window, else 0."),
		gateHalted:    newLateGauge("reimage_run_gate_halted", "1 if a gate of rollout.gates halted the last run, else 0."),
	}
	if reg != nil {
		reg.MustRegister(m.outsideWindow, m.windowClosed, m.gateHalted)
	}
	return m
}

// Observe implements Observer.
func (m *GateMetrics) Observe(e Event) {
	if e.Type != EventRunEnd || e.Summary == nil {
		return
	}
	m.outsideWindow.set(b2f(e.Summary.OutsideWindow))
	m.windowClosed.set(b2f(e.Summary.WindowClosed))
	m.gateHalted.set(b2f(e.Summary.GateFailed))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Package bench holds the rollout and scale benchmarks of reimage: the real
// reimage binary, run as a child process so that its CPU time and peak memory
// are its own, against the simulator in the benchmark's process over loopback.
//
//	make bench                     # every benchmark of the module, figures on stdout
//	make benchmarks                # these benchmarks, and BENCHMARKS.md rewritten from the figures
//
// Nothing here asserts a speed: figures are reported (b.ReportMetric) and, with
// -report FILE, written as a Markdown table. TestHarness runs a small rollout
// in the ordinary test suite so that the harness itself cannot rot.
package bench

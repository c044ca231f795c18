// Package soak holds the chaos soak (soak_test.go): the real reimage binary
// run against the simulator under random fault mixes, killed at random
// moments and rerun, with every promise of the README's safety model checked
// against the simulator after each step. It runs only when asked:
//
//	go test ./bench/soak -run TestChaosSoak -soak.seeds 20 -v
//
// The package has no code of its own; this file only names it.
package soak

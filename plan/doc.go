// Package plan is the model of a reimage plan, format version 1: its Go types, loading from YAML
// with every error located at a line and column, the defaults, and the checks that the JSON Schema
// (package schema) cannot express.
//
// Loading is strict and hostile-input safe: files over 64 MiB, invalid UTF-8, tabs in indentation,
// duplicate keys, unknown fields and alias bombs are refused with a located message, and all the
// errors of a plan are reported at once as Diagnostics. The package holds data and logic only; it
// never prints and never talks to a cloud. Secrets stay references (SecretRef) until Resolve.
package plan

package main

import (
	"context"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the golden files (cmp targets) inside testdata/script/*.txtar")

// TestMain lets scripts run `exec reimage …`: testscript re-executes this test binary as the
// reimage command, so scripts test the real main without building it first.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"reimage": func() {
			os.Exit(run(context.Background(), os.Args[1:], Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
		},
	})
}

// repoRoot is the module root, relative to this package's directory (where go test runs).
const repoRoot = "../.."

// setupFuncs run for every script after the standard setup, in order. Other parts of the test
// suite append to it from their own _test.go files (in an init function), e.g. to start the
// simulator and export its URL:
//
//	func init() { setupFuncs = append(setupFuncs, startSimulator) }
var setupFuncs []func(*testscript.Env) error

// scriptCmds are the custom script commands; other _test.go files add theirs in init.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"sparse-file": sparseFile,
}

// TestScript runs testdata/script/*.txtar. Go test -run TestScript/validate_unknown_field runs
// one; -update rewrites the expected files of failing cmp commands in place.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join(repoRoot, "testdata", "script"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       *update,
		Cmds:                scriptCmds,
		Setup: func(env *testscript.Env) error {
			// The example plans (and the files they refer to) are copied, not linked, so that a
			// script may edit them without touching the repository.
			examples := filepath.Join(env.WorkDir, "examples")
			if err := copyDir(filepath.Join(repoRoot, "examples"), examples); err != nil {
				return err
			}
			env.Setenv("EXAMPLES", examples)
			for _, f := range setupFuncs {
				if err := f(env); err != nil {
					return err
				}
			}
			return nil
		},
	})
}

// sparseFile creates a file of the given size without writing its bytes, to test size limits
// without filling the disk: sparse-file NAME BYTES.
func sparseFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sparse-file NAME BYTES")
	}
	size, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		ts.Fatalf("usage: sparse-file NAME BYTES: %v", err)
	}
	f, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	ts.Check(f.Truncate(size))
	ts.Check(f.Close())
}

// copyDir copies the regular files under src to dst, keeping the tree.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

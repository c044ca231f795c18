package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is stamped at build time: go build -ldflags "-X main.version=v1.2.3". When it is not,
// the module version from the build info is used (set by `go install module@version`).
var version = ""

// VersionCommand prints the version of reimage.
type VersionCommand struct{}

// Name implements Command.
func (VersionCommand) Name() string { return "version" }

// Synopsis implements Command.
func (VersionCommand) Synopsis() string { return "print the version of reimage" }

// Run implements Command.
func (c VersionCommand) Run(ctx context.Context, args []string, stdio Stdio) error {
	fs := newFlagSet(c.Name(), "version", `
Prints the version of reimage and of the Go toolchain that built it.

Example:
  reimage version`, stdio)
	if err := parseFlags(fs, args, stdio); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(c.Name(), "unexpected argument %q", fs.Arg(0))
	}
	_, err := fmt.Fprintf(stdio.Out, "reimage %s (%s)\n", versionString(), runtime.Version())
	return err
}

// versionString is the stamped version, else the module version and VCS revision from the build
// info, else "(devel)".
func versionString() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "-dirty"
			}
		}
	}
	if rev != "" && v == "(devel)" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v = rev + modified
	}
	return v
}

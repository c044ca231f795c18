// Command reimage re-images cloud server fleets (the clouds providers/drivers registers) from a
// declarative YAML plan. This package only parses the command line and wires packages together;
// the logic lives in plan, schema, executor and providers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Command is one subcommand. Each lives in its own file with its own flag.FlagSet, whose Usage
// shows an example.
type Command interface {
	// Name is the word that selects the command: reimage NAME.
	Name() string
	// Synopsis is a one-line description for `reimage -h`.
	Synopsis() string
	// Run executes the command with the arguments after its name. It returns nil on success,
	// flag.ErrHelp after printing help, a *UsageError for bad arguments, an *ExitError to choose
	// the exit code, or any other error (exit 1).
	Run(ctx context.Context, args []string, stdio Stdio) error
}

// commands is the command table, in the order `reimage -h` lists them. Adding a subcommand is
// one line here plus its file.
var commands = []Command{
	ValidateCommand{},
	PlanCommand{},
	ApplyCommand{},
	AckCommand{},
	DiscoverCommand{},
	SimCommand{},
	SchemaCommand{},
	VersionCommand{},
}

// Stdio is where a command reads and writes; tests and scripts substitute their own.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// Exit codes of the public contract (README.md, "Command line").
const (
	ExitOK           = 0 // success, and `plan` with no changes
	ExitFailure      = 1 // error before any change: bad plan, credentials, lock held, usage
	ExitChanges      = 2 // `plan -detailed-exitcode` with changes present
	ExitNotConverged = 3 // `apply` ran but did not converge
)

// ExitError makes main exit with Code. Err, when set, is printed first; leave it nil when the
// command has already reported the problem itself (e.g. a plan's diagnostics).
type ExitError struct {
	Code int
	Err  error
}

// Error returns the wrapped error's text.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error, for errors.Is and errors.As.
func (e *ExitError) Unwrap() error { return e.Err }

// WithExitCode wraps err so that main exits with code; a nil err means "already reported".
func WithExitCode(code int, err error) error { return &ExitError{Code: code, Err: err} }

// UsageError is a mistake on the command line: main prints it with a hint to the command's help
// and exits 1.
type UsageError struct {
	Command string // empty for reimage itself
	Msg     string
}

// Error returns what was wrong, without the hint main adds.
func (e *UsageError) Error() string { return e.Msg }

// usagef builds a UsageError for command cmd.
func usagef(cmd, format string, args ...any) error {
	return &UsageError{Command: cmd, Msg: fmt.Sprintf(format, args...)}
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}

// run dispatches to a subcommand and turns its error into an exit code: the only place that does.
func run(ctx context.Context, args []string, stdio Stdio) int {
	if len(args) == 0 {
		usage(stdio.Err)
		return ExitFailure
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			// reimage help CMD is reimage CMD -h.
			return run(ctx, []string{args[1], "-h"}, stdio)
		}
		usage(stdio.Out)
		return ExitOK
	case "-version", "--version":
		// What every other tool answers; the same as reimage version.
		return run(ctx, append([]string{"version"}, args[1:]...), stdio)
	}
	cmd := lookup(name)
	if cmd == nil {
		fmt.Fprintf(stdio.Err, "reimage: unknown command %q\nRun 'reimage -h' for the list of commands.\n", name)
		return ExitFailure
	}
	err := cmd.Run(ctx, args[1:], stdio)
	var usageErr *UsageError
	if errors.As(err, &usageErr) && usageErr.Command == "" {
		// Flags shared by several commands (fleet, narrowing) do not know which one parsed
		// them; the hint must name the command whose -h lists them.
		usageErr.Command = name
	}
	return exitCode(err, stdio.Err)
}

func lookup(name string) Command {
	for _, c := range commands {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// exitCode reports err on w and maps it to an exit code.
func exitCode(err error, w io.Writer) int {
	var usageErr *UsageError
	var exitErr *ExitError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &usageErr):
		cmd := "reimage"
		if usageErr.Command != "" {
			cmd += " " + usageErr.Command
		}
		fmt.Fprintf(w, "%s: %s\nRun '%s -h' for usage.\n", cmd, usageErr.Msg, cmd)
		return ExitFailure
	case errors.As(err, &exitErr):
		if exitErr.Err != nil {
			fmt.Fprintf(w, "reimage: %v\n", exitErr.Err)
		}
		return exitErr.Code
	}
	fmt.Fprintf(w, "reimage: %v\n", err)
	return ExitFailure
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString(`reimage re-images cloud server fleets (` + cloudNames() + `)
from a declarative YAML plan.

Usage:
  reimage COMMAND [flags] [arguments]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-10s %s\n", c.Name(), c.Synopsis())
	}
	b.WriteString(`
Example:
  reimage validate examples/mixed-fleet.yaml

Run 'reimage COMMAND -h' for a command's flags and examples.
`)
	io.WriteString(w, b.String())
}

// newFlagSet returns a FlagSet for a subcommand whose usage shows the synopsis line, the
// examples and the flags, and whose errors come back to run rather than exiting.
func newFlagSet(name, synopsis, examples string, stdio Stdio) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdio.Err)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage:\n  reimage %s\n\n%s\n", synopsis, strings.TrimSpace(examples))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(out, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, sending -h help to stdout (it was asked for) and turning flag errors
// into UsageErrors (the flag package has already printed what was wrong).
func parseFlags(fs *flag.FlagSet, args []string, stdio Stdio) error {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdio.Out)
			fs.Usage()
			return flag.ErrHelp
		}
		if a == "--" {
			break
		}
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return usagef(fs.Name(), "%v", err)
	}
	return nil
}

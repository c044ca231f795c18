package main

import (
	"context"

	"github.com/reimage-dev/reimage/schema"
)

// SchemaCommand prints plan.schema.json, for editors and other tools.
type SchemaCommand struct{}

// Name implements Command.
func (SchemaCommand) Name() string { return "schema" }

// Synopsis implements Command.
func (SchemaCommand) Synopsis() string { return "print the plan's JSON Schema (plan.schema.json)" }

// Run implements Command.
func (c SchemaCommand) Run(ctx context.Context, args []string, stdio Stdio) error {
	fs := newFlagSet(c.Name(), "schema", `
Prints the JSON Schema (2020-12) of plan format version 1. Editors with yaml-language-server
use it for completion and help: save it and point a plan's first line at it.

Example:
  reimage schema > plan.schema.json
  # then, as the first line of a plan:
  # yaml-language-server: $schema=plan.schema.json`, stdio)
	if err := parseFlags(fs, args, stdio); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(c.Name(), "unexpected argument %q", fs.Arg(0))
	}
	_, err := stdio.Out.Write(schema.JSON())
	return err
}

package main

import (
	"flag"
	"io"
	"log/slog"
)

// newLogger returns the logger of a command: text for people, JSON for cron
// (-log-format json).
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// logFlags are -log-format and -log-level, for the commands that log besides
// apply (which has its own, with its progress and event records).
type logFlags struct {
	format, level string
}

// register adds the flags; level is the command's default (warn for commands
// whose output is their stdout).
func (l *logFlags) register(fs *flag.FlagSet, level string) {
	fs.StringVar(&l.format, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&l.level, "log-level", level, "least severe log level shown: debug, info, warn or error")
}

// logger checks the flags of command cmd and returns its logger on w.
func (l *logFlags) logger(cmd string, w io.Writer) (*slog.Logger, error) {
	if l.format != "text" && l.format != "json" {
		return nil, usagef(cmd, "-log-format: want text or json, not %q", l.format)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, usagef(cmd, "-log-level: want debug, info, warn or error, not %q", l.level)
	}
	return newLogger(w, l.format, level), nil
}

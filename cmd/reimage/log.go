package main

import (
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

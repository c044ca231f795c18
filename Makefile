# Targets for development and CI. `make test` is what CI (.ci/run) runs on a clean clone.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build test bench fuzz

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/reimage ./cmd/reimage

test:
	$(GO) vet ./...
	$(GO) test -race ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# FUZZTIME=10m make fuzz for a longer run.
FUZZTIME ?= 2m
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME) ./plan

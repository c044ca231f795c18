# Targets for development and CI. `make test` is what CI (.ci/run) runs on a clean clone.

GO      ?= go
# VERSION is computed once per make run (":=") so that every recipe stamps the same string; set it
# on the command line or in the environment to override (the Dockerfile passes it as a build arg).
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
endif

# Release build: static (no cgo), no local paths (-trimpath), no VCS stamp that depends on the
# checkout (-buildvcs=false), stripped, version stamped. Same source and Go toolchain -> same bytes
# (make release-check). The Dockerfile's build stage runs exactly `make release`.
BIN     ?= bin/reimage
IMAGE   ?= reimage
RELEASE_LDFLAGS = -s -w -X main.version=$(VERSION)

.PHONY: build test bench benchmarks fuzz release release-check docker

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/reimage ./cmd/reimage

test:
	$(GO) vet ./...
	$(GO) test -race ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Rewrites BENCHMARKS.md from the figures the rollout and scale benchmarks measure (about two
# minutes; run it on an otherwise idle machine).
benchmarks:
	$(GO) test ./bench -run '^$$' -bench . -benchtime 1x -timeout 30m -args -report $(CURDIR)/BENCHMARKS.md

# FUZZTIME=10m make fuzz for a longer run.
FUZZTIME ?= 2m
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME) ./plan

release:
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags "$(RELEASE_LDFLAGS)" -o $(BIN) ./cmd/reimage

# Reproducibility: builds the release binary twice, the second time from a copy of the tree at
# another path with an empty build cache, and compares the bytes. Slow (a cold build, minutes).
release-check:
	@tmp=$$(mktemp -d) && trap 'chmod -R u+w "$$tmp"; rm -rf "$$tmp"' EXIT && \
	mkdir "$$tmp/src" && tar --exclude=./.git --exclude=./bin -cf - . | tar -C "$$tmp/src" -xf - && \
	$(MAKE) --no-print-directory release VERSION=$(VERSION) BIN="$$tmp/a/reimage" && \
	GOCACHE="$$tmp/cache" $(MAKE) --no-print-directory -C "$$tmp/src" release VERSION=$(VERSION) BIN="$$tmp/b/reimage" && \
	cd "$$tmp" && sha256sum a/reimage b/reimage && cmp a/reimage b/reimage && echo "release-check: reproducible"

# Needs a Docker engine (not run by CI): a minimal non-root image with the release binary and the
# plan schema. Tags $(IMAGE):$(VERSION).
docker:
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE):$(VERSION) .

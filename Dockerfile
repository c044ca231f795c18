# syntax=docker/dockerfile:1
#
# A minimal, non-root image with the static release binary and the plan schema:
#   make docker            (docker build --build-arg VERSION=$(git describe …) -t reimage:VERSION .)
#   docker run --rm reimage:VERSION version
# The build stage runs exactly `make release`, the command CI runs (deploy/release_test.go checks
# it), so the binary in the image is the one the tests ran.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# .git is not in the build context (.dockerignore): the version comes in as a build arg, which
# `make release` reads from the environment (dev when not given).
ARG VERSION=dev
RUN make release

# distroless/static: no shell, no package manager; CA certificates (the clouds' APIs are HTTPS),
# tzdata and /etc/passwd with the nonroot user (uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/reimage /reimage
COPY --from=build /src/schema/plan.schema.json /schema/plan.schema.json
USER 65532:65532
# Nothing is written outside the state directory: mount a volume there (apply -state
# /var/lib/reimage) and keep the root filesystem read-only.
ENTRYPOINT ["/reimage"]
CMD ["version"]

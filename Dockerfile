# matrix-stripe container image: a static binary on Alpine, running as uid 1337,
# with its config, registration and SQLite database in the /data volume.
#
# Build (the version is a build argument: .git is not sent to the builder):
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" -t matrix-stripe .
#
# First run (the host folder must be writable by uid 1337; mount a folder,
# not a single file: the bridge saves its upgraded config next to it and
# renames it into place):
#   install -d -o 1337 -g 1337 -m 0700 /srv/matrix-stripe
#   docker run --rm -v /srv/matrix-stripe:/data matrix-stripe -e   # writes /data/config.yaml
#   # edit it: appservice.hostname: 0.0.0.0 (so the homeserver and the health
#   # check reach the listener), appservice.address as the homeserver sees the
#   # container, homeserver.*, database, stripe.accounts, bridge.permissions
#   docker run --rm -v /srv/matrix-stripe:/data matrix-stripe -g   # writes /data/registration.yaml
#
# Run:
#   docker run -d --name matrix-stripe --restart unless-stopped \
#     -v /srv/matrix-stripe:/data -p 29340:29340 matrix-stripe
#
# Arguments after the image name are appended to the entrypoint's flags
# (-n, -e, -g, -version). The `ask` subcommand must come first, so bypass them:
#   docker run --rm -v /srv/matrix-stripe:/data --entrypoint /usr/local/bin/matrix-stripe \
#     matrix-stripe ask -c /data/config.yaml -account main -customer cus_123 "why was I charged?"
# The health check asks /_matrix/mau/ready on 127.0.0.1:$HEALTHCHECK_PORT (29340, as in
# example-config.yaml); set HEALTHCHECK_PORT when appservice.port differs.
#
# SQLite: the bridge's SQLite driver is mattn/go-sqlite3 (through
# go.mau.fi/util/dbutil/litestream), which needs cgo: a CGO_ENABLED=0 binary
# builds but fails at start with `unknown driver "sqlite3-fk-wal"`. So the
# binary is built with cgo and linked statically against glibc; netgo and
# osusergo keep glibc's NSS (getaddrinfo, getpwnam) out, and
# sqlite_omit_load_extension keeps dlopen out, so nothing needs shared
# libraries at run time. goolm selects mautrix's pure-Go Olm for encryption
# (required: without it the build wants libolm). scripts/lint-packaging.sh runs the same
# build and checks the result is static.

ARG GO_VERSION=1.26
ARG ALPINE_VERSION=3.22

FROM golang:${GO_VERSION}-bookworm AS builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -trimpath \
        -tags goolm,netgo,osusergo,sqlite_omit_load_extension \
        -ldflags "-s -w -linkmode external -extldflags -static -X main.Version=${VERSION}" \
        -o /out/matrix-stripe ./cmd/matrix-stripe \
    && if ldd /out/matrix-stripe >/dev/null 2>&1; then echo "matrix-stripe is not statically linked" >&2; exit 1; fi \
    && /out/matrix-stripe -version

FROM alpine:${ALPINE_VERSION}
RUN apk add --no-cache ca-certificates \
    && addgroup -S -g 1337 matrix-stripe \
    && adduser -S -D -H -u 1337 -G matrix-stripe -h /data -s /sbin/nologin matrix-stripe \
    && mkdir -p /data && chown matrix-stripe:matrix-stripe /data && chmod 0700 /data
COPY --from=builder /out/matrix-stripe /usr/local/bin/matrix-stripe
USER matrix-stripe:matrix-stripe
WORKDIR /data
VOLUME /data
EXPOSE 29340
ENV HEALTHCHECK_PORT=29340
# ready turns 200 once the bridge has started (database, homeserver, Stripe
# keys checked); the homeserver check alone may retry for about a minute.
HEALTHCHECK --interval=30s --timeout=5s --start-period=2m --retries=3 \
    CMD wget -q -T 3 -O /dev/null "http://127.0.0.1:${HEALTHCHECK_PORT}/_matrix/mau/ready" || exit 1
ENTRYPOINT ["/usr/local/bin/matrix-stripe", "-c", "/data/config.yaml", "-r", "/data/registration.yaml"]

# matrix-stripe developer tasks. `make demo` and `make test` are the two
# commands the README starts with; everything they need is installed by them.

GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.Version=$(VERSION)
# Encryption uses mautrix's pure-Go Olm (goolm): no libolm, no extra C
# library. Every go command here builds with it, and so do the tests'
# own builds of the binary, which inherit GOFLAGS.
export GOFLAGS := -tags=goolm $(GOFLAGS)

.PHONY: all build tools test test-short vet lint-packaging bench faults demo clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o matrix-stripe ./cmd/matrix-stripe

# Pinned test peers (Dendrite, stripe-mock) into the git-ignored .tools/.
tools:
	./scripts/install-tools.sh

# staticcheck, pinned; built into .tools/bin once (the stamp names the
# version, so a new pin rebuilds it).
STATICCHECK_VERSION := v0.8.2
STATICCHECK := .tools/bin/staticcheck
$(STATICCHECK).$(STATICCHECK_VERSION):
	GOBIN=$(CURDIR)/.tools/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	touch $@

vet: $(STATICCHECK).$(STATICCHECK_VERSION)
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

# Dockerfile, .dockerignore and the systemd unit (and the image itself when
# a container engine works): scripts/lint-packaging.sh.
lint-packaging:
	./scripts/lint-packaging.sh

# Every test: the unit tests under the race detector, then everything —
# unit tests (SQLite), database tests on PostgreSQL
# (MATRIX_STRIPE_TEST_POSTGRES; REQUIRE_POSTGRES=1 turns a skip into a failure)
# and end-to-end tests against a real Dendrite and stripe-mock.
test: tools vet
	$(GO) test -race -count=1 -short -timeout 10m ./...
	$(GO) test -count=1 -timeout 20m ./...

# Unit tests only: no Dendrite, no stripe-mock (nothing is installed or
# started under -short).
test-short: vet
	$(GO) test -count=1 -short ./...

# Real-process fault tests (kill -9, homeserver down, two processes): about
# four minutes, run one after another rather than beside `make test`'s
# parallel packages (CI runs both: .ci/run).
faults: tools
	MATRIX_STRIPE_FAULTS=1 $(GO) test -count=1 -timeout 20m -run 'TestKillNineMidBurst|TestHomeserverDownMidBurst|TestTwoBridgeProcessesOneDatabase' -v ./e2e/

# Performance figures (docs/performance.md), each a ratio to its baseline or
# to its target measured in one run, as a table: about six minutes. Needs
# PostgreSQL, as `make test` does.
bench: tools
	GO=$(GO) ./scripts/bench.sh

# Dendrite + fake Stripe (demo scenario) + the bridge on SQLite, until Ctrl-C.
# `make demo DEMO_FLAGS=-encryption` makes the customer rooms encrypted.
# Built, then run: `go run` would report exit status 1 after Ctrl-C.
demo: tools
	$(GO) build -o .tools/bin/matrix-stripe-demo ./cmd/matrix-stripe-demo
	./.tools/bin/matrix-stripe-demo $(DEMO_FLAGS)

clean:
	rm -f matrix-stripe

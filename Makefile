# matrix-stripe developer tasks. `make demo` and `make test` are the two
# commands the README starts with; everything they need is installed by them.

GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.Version=$(VERSION)

.PHONY: all build tools test test-short vet bench faults demo clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o matrix-stripe ./cmd/matrix-stripe

# Pinned test peers (Dendrite, stripe-mock) into the git-ignored .tools/.
tools:
	./scripts/install-tools.sh

vet:
	$(GO) vet ./...
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

# Every test: unit tests (SQLite), database tests on PostgreSQL
# (MATRIX_STRIPE_TEST_POSTGRES; REQUIRE_POSTGRES=1 turns a skip into a failure)
# and end-to-end tests against a real Dendrite and stripe-mock.
test: tools vet
	$(GO) test -count=1 -timeout 20m ./...

# Unit tests only: no Dendrite, no stripe-mock.
test-short: vet
	$(GO) test -count=1 -short ./...

# Real-process fault tests (kill -9, homeserver down, two processes): about
# four minutes, run one after another rather than beside `make test`'s
# parallel packages (CI runs both: .ci/run).
faults: tools
	MATRIX_STRIPE_FAULTS=1 $(GO) test -count=1 -timeout 20m -run 'TestKillNineMidBurst|TestHomeserverDownMidBurst|TestTwoBridgeProcessesOneDatabase' -v ./e2e/

bench: tools
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

# Dendrite + fake Stripe (demo scenario) + the bridge on SQLite, until Ctrl-C.
# Built, then run: `go run` would report exit status 1 after Ctrl-C.
demo: tools
	$(GO) build -o .tools/bin/matrix-stripe-demo ./cmd/matrix-stripe-demo
	./.tools/bin/matrix-stripe-demo

clean:
	rm -f matrix-stripe

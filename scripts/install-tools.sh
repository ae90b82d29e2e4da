#!/usr/bin/env bash
# Installs the pinned test peers (Dendrite homeserver, stripe-mock) into the
# git-ignored .tools/ folder with `go install`, and Chromium (Debian's
# `chromium` package, for the web chat's browser tests) with apt-get when it
# is missing and we run as root. Skips what is already there, so it is cheap
# to call from every make target that needs them.
set -euo pipefail

DENDRITE_VERSION=v0.13.8
# stripe-mock v0.183.0 embeds Stripe's OpenAPI spec of API version 2023-10-16,
# the version stripe-go v76 sends; later releases check against newer specs
# (v0.203.0 refuses /v1/invoices/upcoming, replaced there by create_preview).
STRIPE_MOCK_VERSION=v0.183.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools/bin"

install() {
	local name="$1" pkg="$2" version="$3"
	# The stamp names the version installed: a changed pin finds no stamp
	# and re-installs over the old binary, then replaces the old stamp.
	local stamp="$tools/bin/.$name-$version"
	if [[ -x "$tools/bin/$name" && -f "$stamp" ]]; then
		return 0
	fi
	echo "installing $name $version into .tools/bin (first time only, may take a few minutes)" >&2
	GOBIN="$tools/bin" GOFLAGS=-buildvcs=false go install "$pkg@$version"
	rm -f "$tools/bin/.$name-"*
	touch "$stamp"
}

install dendrite github.com/matrix-org/dendrite/cmd/dendrite "$DENDRITE_VERSION"
install stripe-mock github.com/stripe/stripe-mock "$STRIPE_MOCK_VERSION"

# The web chat's browser tests drive headless Chromium (chromedp). Without it
# they skip loudly, or fail under REQUIRE_BROWSER=1.
install_chromium() {
	if command -v chromium >/dev/null 2>&1; then
		return 0
	fi
	if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
		echo "chromium is not installed and this script cannot install it (needs root and apt-get):" >&2
		echo "  run 'apt-get install chromium' as root; until then the web chat browser tests skip (and fail under REQUIRE_BROWSER=1)" >&2
		return 0
	fi
	echo "installing chromium with apt-get (first time only, may take a few minutes)" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2
}

install_chromium

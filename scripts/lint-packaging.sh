#!/usr/bin/env bash
# Lints the packaging (Dockerfile, .dockerignore, contrib/matrix-stripe.service)
# without needing a container engine:
#   - the Dockerfile's required properties (multi-stage, non-root USER,
#     HEALTHCHECK on /_matrix/mau/ready, /data, cgo static build, the port of
#     example-config.yaml, the config path in the entrypoint);
#   - the systemd unit: sections and hardening keys, and `systemd-analyze
#     verify` (plus `security --offline`) when systemd-analyze exists;
#   - with go: runs the Dockerfile's own `go build` line and checks the binary
#     is static, built with cgo, and opens SQLite (a CGO_ENABLED=0 binary
#     builds fine but has no SQLite driver), and that the Dockerfile's
#     HEALTHCHECK command fails while the bridge is not ready;
#   - with a working docker or podman: builds the image too.
# Each failure is one line on stderr; the exit status is 1 if any failed.
# LINT_PACKAGING_SKIP_GO=1 / LINT_PACKAGING_SKIP_IMAGE=1 skip those parts.
set -uo pipefail
cd "$(dirname "$0")/.."

failures=0
fail() {
	echo "lint-packaging: FAIL: $*" >&2
	failures=$((failures + 1))
}
note() { echo "lint-packaging: $*"; }

tmp="$(mktemp -d)"
bridge_pid=""
cleanup() {
	if [ -n "$bridge_pid" ]; then
		kill "$bridge_pid" 2>/dev/null
		wait "$bridge_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# ---------------------------------------------------------------- Dockerfile
df=Dockerfile
if [ ! -f "$df" ]; then
	fail "$df is missing"
else
	# One instruction per line: continuation lines joined, comments dropped.
	awk '
		/^[[:space:]]*#/ { next }
		{ line = line $0 }
		/\\[[:space:]]*$/ { sub(/\\[[:space:]]*$/, " ", line); next }
		{ if (line ~ /[^[:space:]]/) print line; line = "" }
		END { if (line ~ /[^[:space:]]/) print line }
	' "$df" >"$tmp/instructions"
	inst() { grep -iE "^[[:space:]]*$1([[:space:]]|$)" "$tmp/instructions"; }

	froms="$(inst FROM | wc -l)"
	[ "$froms" -ge 2 ] || fail "$df: not multi-stage (found $froms FROM, need at least 2)"

	# USER of the final stage (after the last FROM).
	final_user="$(awk 'toupper($1) == "FROM" { user = "" } toupper($1) == "USER" { user = $2 } END { print user }' "$tmp/instructions")"
	case "${final_user%%:*}" in
	"") fail "$df: the final stage has no USER (it would run as root)" ;;
	root | 0) fail "$df: the final stage runs as root (USER $final_user)" ;;
	esac

	hc="$(inst HEALTHCHECK | tail -n1)"
	if [ -z "$hc" ]; then
		fail "$df: no HEALTHCHECK"
	elif ! grep -q '/_matrix/mau/ready' <<<"$hc"; then
		fail "$df: the HEALTHCHECK does not ask /_matrix/mau/ready"
	fi

	inst 'WORKDIR' | grep -qE '[[:space:]]/data/?[[:space:]]*$' || fail "$df: WORKDIR is not /data"
	inst 'VOLUME' | grep -qE '/data' || fail "$df: no VOLUME /data"

	build_line="$(grep -E 'go build' "$tmp/instructions" | head -n1)"
	if [ -z "$build_line" ]; then
		fail "$df: no RUN with go build"
	else
		# mattn/go-sqlite3 (via go.mau.fi/util/dbutil/litestream) needs cgo.
		grep -q 'CGO_ENABLED=1' <<<"$build_line" || fail "$df: go build must set CGO_ENABLED=1 (the SQLite driver, mattn/go-sqlite3, needs cgo)"
		grep -qE -- '-extldflags[ =]+"?-static' <<<"$build_line" || fail "$df: go build does not link statically (-extldflags -static)"
		grep -q -- '-trimpath' <<<"$build_line" || fail "$df: go build lacks -trimpath"
		grep -q 'main.Version=\${\?VERSION' <<<"$build_line" || fail "$df: go build does not set main.Version from \$VERSION"
		grep -q './cmd/matrix-stripe' <<<"$build_line" || fail "$df: go build does not build ./cmd/matrix-stripe"
		grep -q -- 'goolm' <<<"$build_line" || fail "$df: go build lacks the goolm tag (encryption without libolm)"
		inst ARG | grep -qE '^[[:space:]]*ARG[[:space:]]+VERSION=' || fail "$df: no ARG VERSION=<default>"
	fi

	port="$(awk '/^appservice:/ { in_as = 1; next } /^[^[:space:]#]/ { in_as = 0 } in_as && $1 == "port:" { print $2; exit }' example-config.yaml)"
	if [ -z "$port" ]; then
		fail "example-config.yaml: cannot find appservice.port"
	else
		inst EXPOSE | grep -qE "[[:space:]]$port(/tcp)?([[:space:]]|$)" || fail "$df: does not EXPOSE $port (appservice.port of example-config.yaml)"
		grep -qE "(:|PORT[:=-]+)$port([^0-9]|$)" <<<"$hc$(inst ENV)" || fail "$df: the HEALTHCHECK does not default to port $port"
	fi

	entry="$(inst ENTRYPOINT | tail -n1)"
	grep -q '"-c", *"/data/config.yaml"' <<<"$entry" || fail "$df: ENTRYPOINT does not pass -c /data/config.yaml"
	grep -q '"-r", *"/data/registration.yaml"' <<<"$entry" || fail "$df: ENTRYPOINT does not pass -r /data/registration.yaml"
fi

if [ ! -f .dockerignore ]; then
	fail ".dockerignore is missing"
else
	for pat in .git .tools; do
		grep -qxE "/?$pat/?" .dockerignore || fail ".dockerignore does not exclude $pat"
	done
	grep -qE '\*\.db$' .dockerignore || fail ".dockerignore does not exclude SQLite databases (*.db)"
	grep -qxE '/?matrix-stripe' .dockerignore || fail ".dockerignore does not exclude the built binary (matrix-stripe)"
fi

# -------------------------------------------------------------- systemd unit
unit=contrib/matrix-stripe.service
if [ ! -f "$unit" ]; then
	fail "$unit is missing"
else
	for section in Unit Service Install; do
		grep -qx "\[$section\]" "$unit" || fail "$unit: no [$section] section"
	done
	for kv in \
		'Type=(simple|exec)' 'User=matrix-stripe' 'Group=matrix-stripe' \
		'WorkingDirectory=/var/lib/matrix-stripe' 'StateDirectory=matrix-stripe' \
		'ExecStart=/usr/local/bin/matrix-stripe -c /etc/matrix-stripe/config.yaml.*' \
		'Restart=on-failure' 'NoNewPrivileges=(yes|true)' 'ProtectSystem=strict' \
		'ReadWritePaths=.*/etc/matrix-stripe.*' \
		'ProtectHome=(yes|true|read-only|tmpfs)' 'PrivateTmp=(yes|true)' 'PrivateDevices=(yes|true)' \
		'ProtectKernelTunables=(yes|true)' 'ProtectKernelModules=(yes|true)' 'ProtectKernelLogs=(yes|true)' \
		'ProtectControlGroups=(yes|true)' 'ProtectClock=(yes|true)' 'ProtectHostname=(yes|true)' \
		'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' 'RestrictNamespaces=(yes|true)' \
		'RestrictRealtime=(yes|true)' 'RestrictSUIDSGID=(yes|true)' 'LockPersonality=(yes|true)' \
		'MemoryDenyWriteExecute=(yes|true)' 'SystemCallArchitectures=native' \
		'SystemCallFilter=@system-service' 'CapabilityBoundingSet=' 'AmbientCapabilities=' \
		'UMask=0077' 'WantedBy=multi-user.target'; do
		grep -qxE "$kv" "$unit" || fail "$unit: missing or different: ${kv}"
	done
	if command -v systemd-analyze >/dev/null 2>&1; then
		# verify wants ExecStart's binary to exist; the binary is not installed
		# here, so check a copy that runs /bin/true instead.
		sed 's#^ExecStart=/usr/local/bin/matrix-stripe#ExecStart=/bin/true#' "$unit" >"$tmp/matrix-stripe.service"
		if ! out="$(systemd-analyze verify "$tmp/matrix-stripe.service" 2>&1)" || [ -n "$out" ]; then
			fail "$unit: systemd-analyze verify: $(tr '\n' ' ' <<<"$out")"
		fi
		if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
			if ! out="$(systemd-analyze security --offline=yes --threshold=30 --no-pager "$tmp/matrix-stripe.service" 2>&1)"; then
				fail "$unit: systemd-analyze security exposure above 3.0 (threshold 30 on systemd's 0-100 scale): $(grep -o 'Overall exposure level.*' <<<"$out")"
			else
				note "$unit: $(grep -o 'Overall exposure level.*' <<<"$out")"
			fi
		fi
	else
		note "systemd-analyze not found: checked $unit with grep only"
	fi
fi

# ------------------------------------------------- the Dockerfile's go build
if [ "${LINT_PACKAGING_SKIP_GO:-}" = 1 ]; then
	note "LINT_PACKAGING_SKIP_GO=1: not building the binary"
elif ! command -v go >/dev/null 2>&1; then
	note "go not found: not building the binary"
elif [ -n "${build_line:-}" ]; then
	# The Dockerfile's command itself, up to its first &&, with the output
	# path moved here: the lint cannot drift from the image.
	cmd="$(sed -E 's/^[[:space:]]*RUN[[:space:]]+//; s/[[:space:]]+&&.*$//' <<<"$build_line")"
	cmd="${cmd//\/out\/matrix-stripe/$tmp/matrix-stripe}"
	bin="$tmp/matrix-stripe"
	note "building: $cmd"
	if ! out="$(VERSION=lint-packaging bash -c "$cmd" 2>&1)"; then
		fail "the Dockerfile's go build failed: $(tail -n3 <<<"$out" | tr '\n' ' ')"
	elif warnings="$(grep -vE '^go: (downloading|finding) ' <<<"$out")" && [ -n "$warnings" ]; then
		# Linker warnings (getaddrinfo/dlopen in a static binary) mean
		# shared libraries would be needed at run time after all.
		fail "the Dockerfile's go build printed warnings: $(tr '\n' ' ' <<<"$warnings")"
	fi
	if [ -x "$bin" ]; then
		static=""
		if command -v file >/dev/null 2>&1; then
			file -b "$bin" | grep -q 'statically linked' && static=yes
		elif command -v ldd >/dev/null 2>&1; then
			ldd "$bin" 2>&1 | grep -qE 'not a dynamic executable|statically linked' && static=yes
		else
			static=unknown
		fi
		case "$static" in
		yes) note "binary is statically linked" ;;
		unknown) note "neither file nor ldd found: not checking that the binary is static" ;;
		*) fail "the binary is not statically linked: $(file -b "$bin" 2>/dev/null || ldd "$bin" 2>&1 | head -n1)" ;;
		esac
		go version -m "$bin" | grep -q 'CGO_ENABLED=1' || fail "the binary was not built with cgo: it has no SQLite driver"
		"$bin" -version | grep -q '^matrix-stripe lint-packaging$' || fail "the binary's -version does not print the VERSION build argument"

		# SQLite smoke test: start the bridge against a homeserver that is not
		# there. It opens and migrates the database, listens, then retries the
		# homeserver for a while; meanwhile live is 200 and ready is not, and
		# the Dockerfile's HEALTHCHECK must fail.
		smoke="$tmp/smoke"
		mkdir -p "$smoke"
		hport=""
		for p in $(seq 29341 29399); do
			if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then hport=$p; break; fi
		done
		if [ -z "$hport" ]; then
			fail "smoke test: no free port in 29341-29399"
		elif ! (cd "$smoke" && "$bin" -e -c config.yaml >/dev/null); then
			fail "smoke test: $bin -e could not write the example config"
		else
			sed -i -E \
				-e 's#^(    address: )http://localhost:8008#\1http://127.0.0.1:1#' \
				-e "s#^(    port: )$port\$#\\1$hport#" \
				-e 's#^(    as_token: ).*#\1"lint-packaging-as-token"#' \
				-e 's#^(    hs_token: ).*#\1"lint-packaging-hs-token"#' \
				"$smoke/config.yaml"
			(cd "$smoke" && exec env MATRIX_STRIPE_MAIN_API_KEY=rk_test_lintpackaging \
				MATRIX_STRIPE_MAIN_WEBHOOK_SECRETS=whsec_lintpackaging \
				"$bin" -n -c config.yaml >"$smoke/log" 2>&1) &
			bridge_pid=$!
			live=""
			for _ in $(seq 1 100); do
				if ! kill -0 "$bridge_pid" 2>/dev/null; then break; fi
				if [ -s "$smoke/matrix-stripe.db" ] && curl -fsS -o /dev/null "http://127.0.0.1:$hport/_matrix/mau/live" 2>/dev/null; then
					live=yes
					break
				fi
				sleep 0.2
			done
			if [ "$live" != yes ]; then
				fail "smoke test: the static binary did not open SQLite and listen: $(grep -oE '"error":"([^"\\]|\\.)*"' "$smoke/log" | head -n1)"
			else
				note "smoke test: static binary opened SQLite ($(du -k "$smoke/matrix-stripe.db" | cut -f1) KiB) and is live"
				hc_cmd="$(sed -E 's/^.*[[:space:]]CMD[[:space:]]+//' <<<"$hc")"
				if HEALTHCHECK_PORT=$hport sh -c "$hc_cmd" >/dev/null 2>&1; then
					fail "smoke test: the HEALTHCHECK command succeeded while the bridge was not ready"
				elif ! HEALTHCHECK_PORT=$hport sh -c "${hc_cmd//mau\/ready/mau\/live}" >/dev/null 2>&1; then
					fail "smoke test: the HEALTHCHECK command cannot reach the listener (tried it on /_matrix/mau/live)"
				else
					note "smoke test: HEALTHCHECK fails before ready and reaches the listener"
				fi
			fi
			kill "$bridge_pid" 2>/dev/null
			wait "$bridge_pid" 2>/dev/null
			bridge_pid=""
		fi
	fi
fi

# ------------------------------------------------------------ image (engine)
if [ "${LINT_PACKAGING_SKIP_IMAGE:-}" = 1 ]; then
	note "LINT_PACKAGING_SKIP_IMAGE=1: not building the image"
else
	engine=""
	for e in docker podman; do
		if command -v "$e" >/dev/null 2>&1 && "$e" info >/dev/null 2>&1; then
			engine=$e
			break
		fi
	done
	if [ -z "$engine" ]; then
		note "no working docker or podman: not building the image"
	else
		tag="matrix-stripe:lint-packaging"
		note "building the image with $engine"
		if ! out="$("$engine" build --build-arg VERSION=lint-packaging -t "$tag" . 2>&1)"; then
			fail "$engine build failed: $(tail -n3 <<<"$out" | tr '\n' ' ')"
		elif ! "$engine" run --rm "$tag" -version 2>&1 | grep -q '^matrix-stripe lint-packaging$'; then
			fail "the image does not run: $engine run --rm $tag -version"
		elif [ "$("$engine" run --rm --entrypoint id "$tag" -u)" = 0 ]; then
			fail "the image runs as root"
		else
			note "image $tag builds and runs as a non-root user"
		fi
	fi
fi

if [ "$failures" -gt 0 ]; then
	echo "lint-packaging: $failures failure(s)" >&2
	exit 1
fi
note "ok"

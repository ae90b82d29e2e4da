#!/usr/bin/env bash
# The performance figures of docs/performance.md, each measured in one run
# as a ratio to its baseline or to its target, printed as a table.
#
#   scripts/bench.sh                 # everything, about six minutes on two cores
#   BENCH_ONLY=ingest,command scripts/bench.sh
#
# Needs PostgreSQL (MATRIX_STRIPE_TEST_POSTGRES, default
# postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable; a missing
# server fails the run, as REQUIRE_POSTGRES=1 makes it) and, for delivery,
# Dendrite in .tools (make tools). Benchmarks never assert timings: a
# figure that misses its target is marked, and the run still succeeds; a
# benchmark that fails or does not report is an error.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
export REQUIRE_POSTGRES=${REQUIRE_POSTGRES:-1}
# As the Makefile builds: mautrix's pure-Go Olm, no libolm.
case " ${GOFLAGS:-} " in
*goolm*) ;;
*) export GOFLAGS="-tags=goolm${GOFLAGS:+ $GOFLAGS}" ;;
esac
only=${BENCH_ONLY:-ingest,command,delivery,startup,catchup}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failed=0

# run NAME PACKAGE REGEX BENCHTIME: one `go test -bench`, its output kept
# for the table.
run() {
	local name=$1 pkg=$2 regex=$3 benchtime=$4
	[[ ",$only," == *",$name,"* ]] || return 0
	local cmd=("$GO" test -run '^$' -bench "$regex" -benchtime "$benchtime" -count 1 -timeout 20m "$pkg")
	printf '+ %s\n' "$(printf '%q ' "${cmd[@]}")" >&2
	local start=$SECONDS
	if ! "${cmd[@]}" >"$out/$name.txt" 2>&1; then
		failed=1
		echo "FAILED: $name" >&2
		tail -n 30 "$out/$name.txt" >&2
	fi
	printf '  (%ds)\n' $((SECONDS - start)) >&2
	printf 'REQUIRE_POSTGRES=%s GOFLAGS=%s %s\n' "$REQUIRE_POSTGRES" "$GOFLAGS" "${cmd[*]}" >"$out/$name.cmd"
}

# The command benchmark first: right after the ingest's 24,000 commits
# PostgreSQL is still writing them out, which adds to the command's look-ups.
run command ./commands/ 'BenchmarkCommandOverhead$' 2000x
run ingest ./webhook/ 'BenchmarkIngest$' 3000x
run delivery ./e2e/ 'BenchmarkDelivery$' 400x
run startup ./e2e/ 'BenchmarkStartup$' 3x
run catchup ./e2e/ 'BenchmarkCatchUp$' 1x

# metric NAME BENCHMARK UNIT: the value the benchmark reported in UNIT.
metric() {
	[[ -f "$out/$1.txt" ]] || return 0
	awk -v bench="$2" -v unit="$3" '
		$1 ~ /^Benchmark/ {
			name = $1
			sub(/-[0-9]+$/, "", name)
			if (name != bench) next
			for (i = 3; i < NF; i += 2) if ($(i + 1) == unit) { print $i; exit }
		}' "$out/$1.txt"
}

# row LABEL NAME BENCHMARK UNIT OP TARGET: one line of the table; OP is
# ">=" or "<=" (the figure against its target) or "" (no target: shown
# for information).
row() {
	local label=$1 name=$2 bench=$3 unit=$4 op=$5 target=$6
	[[ ",$only," == *",$name,"* ]] || return 0
	local value
	value=$(metric "$name" "$bench" "$unit")
	if [[ -z $value ]]; then
		printf '%-40s %-16s %10s   %-12s %s\n' "$label" "$unit" "-" "${op:+target $op $target}" "NOT MEASURED"
		failed=1
		return
	fi
	local verdict=""
	if [[ -n $op ]]; then
		if awk -v v="$value" -v t="$target" -v op="$op" 'BEGIN { exit !(op == ">=" ? v >= t : v <= t) }'; then
			verdict="ok"
		else
			verdict="MISSED"
		fi
	fi
	value=$(awk -v v="$value" 'BEGIN { printf (v >= 100 ? "%.0f" : "%.3g"), v }')
	printf '%-40s %-16s %10s   %-12s %s\n' "$label" "$unit" "$value" "${op:+target $op $target}" "$verdict"
}

echo
printf '%-40s %-16s %10s   %-12s %s\n' "figure" "metric" "measured" "target" ""
row "ingest postgres serial" ingest BenchmarkIngest/postgres/serial x-raw ">=" 0.8
row "ingest postgres 2 clients" ingest BenchmarkIngest/postgres/clients-2 x-raw ">=" 0.8
row "ingest postgres serial" ingest BenchmarkIngest/postgres/serial events/s "" ""
row "ingest postgres 2 clients" ingest BenchmarkIngest/postgres/clients-2 events/s "" ""
row "ingest sqlite serial" ingest BenchmarkIngest/sqlite/serial x-raw "" ""
row "ingest sqlite 2 clients" ingest BenchmarkIngest/sqlite/clients-2 x-raw "" ""
row "delivery postgres" delivery BenchmarkDelivery/postgres x-bare ">=" 0.9
row "delivery sqlite" delivery BenchmarkDelivery/sqlite x-bare ">=" 0.9
row "start-up, 100,000 rooms" startup BenchmarkStartup/rooms=100000 startup-ms "<=" 1000
row "start-up, 100,000 rooms" startup BenchmarkStartup/rooms=100000 x-target-startup ">=" 1
row "start-up, no rooms" startup BenchmarkStartup/rooms=0 startup-ms "" ""
row "idle RSS, 100,000 rooms" startup BenchmarkStartup/rooms=100000 idle-rss-MiB "<=" 64
row "idle RSS, 100,000 rooms" startup BenchmarkStartup/rooms=100000 x-target-rss ">=" 1
row "idle RSS, 100,000 rooms (own memory)" startup BenchmarkStartup/rooms=100000 idle-anon-MiB "" ""
row "catch-up of 51,000 events, peak RSS" catchup BenchmarkCatchUp peak-rss-MiB "<=" 64
row "catch-up of 51,000 events, peak RSS" catchup BenchmarkCatchUp x-target ">=" 1
row "catch-up of 51,000 events" catchup BenchmarkCatchUp catchup-s "" ""
row "catch-up of 51,000 events" catchup BenchmarkCatchUp first-delivery-s "" ""
row "command overhead (summary), p50" command BenchmarkCommandOverhead overhead-p50-ms "<=" 2
row "command overhead (summary), p50" command BenchmarkCommandOverhead x-target ">=" 1

echo
echo "Commands (each figure above is from one of them):"
for name in command ingest delivery startup catchup; do
	[[ -f "$out/$name.cmd" ]] && printf '  %s\n' "$(cat "$out/$name.cmd")"
done
exit $failed

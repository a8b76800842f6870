#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run the test layers and end with "N passed, N failed".
#   tests/run.sh            every layer
#   tests/run.sh unit|fuzz|netns|guest  one layer
# The fuzz layer replays tests/fuzz/crashes/*.case, then fuzzes for
# KVB_FUZZ_TIME seconds (default 60; `make fuzz` runs longer).
# Each test program prints "PASS name" / "FAIL name: why" lines; a program
# that exits non-zero without printing a FAIL line counts as one failure.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAYERS=("$@")
[ ${#LAYERS[@]} -eq 0 ] && LAYERS=(unit fuzz netns guest)

passed=0
failed=0
times=()	# "seconds name" of each test program, for the slowest at the end
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run_one NAME CMD...: CMD in a session of its own, at most KVB_TEST_TIMEOUT
# seconds (default 900): a test that hangs is killed by timeout(1), with its
# process group, and counts as a failure instead of stalling the suite. Its
# output goes to a file that tail follows, not to a pipe: a daemon the test
# left behind (dhcpcd's privsep helpers outlive their parent) holding the
# pipe open would otherwise keep the reader waiting for ever.
run_one() {
	local name=$1; shift
	local limit=${KVB_TEST_TIMEOUT:-900} pid rc start=$SECONDS
	echo "== $name"
	# timeout leads the session's process group: it signals the whole group
	setsid timeout -k 10 "$limit" "$@" >"$log" 2>&1 </dev/null &
	pid=$!
	tail -n +1 -f --pid="$pid" "$log"
	wait "$pid"
	rc=$?
	if [ $((SECONDS - start)) -ge "$limit" ] && { [ "$rc" -eq 124 ] ||
		[ "$rc" -eq 137 ]; }; then
		echo "FAIL $name: still running after $limit s, killed" |
			tee -a "$log"
	fi
	# whatever the test left in its session goes with it
	kill -KILL -- -"$pid" 2>/dev/null
	local p f
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited with status $rc"
		f=1
	fi
	if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: ran no check"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	echo "-- $name: $((SECONDS - start)) s, $p passed, $f failed"
	times+=("$((SECONDS - start)) $name")
}

if [ "$(id -u)" -ne 0 ]; then
	echo "FAIL tests: must run as root (BPF, namespaces)"
	echo "0 passed, 1 failed"
	exit 1
fi

# what a run killed outright (no EXIT trap) left: its routes would take
# this run's traffic (tests/tools/sweep.sh; live runs are not touched)
timeout 300 bash "$ROOT/tests/tools/sweep.sh" "$ROOT/build/kvmbpf" |
	sed 's/^/NOTE /'

for layer in "${LAYERS[@]}"; do
	case $layer in
	unit)
		run_one unit "$ROOT/build/unit_tests"
		;;
	fuzz)
		run_one fuzz "$ROOT/build/kvbfuzz" --time "${KVB_FUZZ_TIME:-60}"
		;;
	netns|guest)
		for t in "$ROOT"/tests/"$layer"/*.sh; do
			[ "$(basename "$t")" = lib.sh ] && continue
			run_one "$layer/$(basename "$t" .sh)" bash "$t"
		done
		;;
	*)
		echo "tests/run.sh: unknown layer '$layer' (unit, fuzz, netns, guest)" >&2
		exit 2
		;;
	esac
done

# where the suite's time went (CI's budget: well under 30 minutes)
echo "== slowest: $(printf '%s\n' "${times[@]}" | sort -rn | head -6 |
	awk '{printf "%s%s %d s", (NR > 1 ? ", " : ""), $2, $1}'); all: $SECONDS s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

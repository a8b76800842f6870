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
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_one() {
	local name=$1; shift
	echo "== $name"
	"$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
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
}

if [ "$(id -u)" -ne 0 ]; then
	echo "FAIL tests: must run as root (BPF, namespaces)"
	echo "0 passed, 1 failed"
	exit 1
fi

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

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

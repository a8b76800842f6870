#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make demo`'s script, under unique names: every cell of its reachability
# matrix is what the network types promise.
source "$(dirname "$0")/lib.sh"

export KVB_DEMO_PREFIX=$T
trap 'bash "$ROOT/scripts/demo.sh" down; cleanup' EXIT
out=$(bash "$ROOT/scripts/demo.sh" 2>&1)
matrix=$(echo "$out" | sed -n '/^Who reaches/,/^$/p')
echo "$matrix"

# expected: host, g1-3, lan see each other; o1<->o2; i1<->i2; n1<->n2,
# n* -> host and wan, host -> n*; r1<->r2, r* <-> host and wan; nothing
# else (the WAN reaches only the routed guests)
want() {
	case "$1:$2" in
	n*:n*|n*:host|n*:wan|host:n*) echo yes ;;
	host:wan) echo yes ;;	# the host's own route
	r*:r*|r*:host|host:r*|r*:wan|wan:r*) echo yes ;;
	host:o*|host:i*|o*:host|i*:host) echo - ;;
	g*:[ghl]*|lan:[ghl]*|host:[gl]*) echo yes ;;
	o*:o*|i*:i*) echo yes ;;
	*) echo - ;;
	esac
}
cols=$(echo "$matrix" | grep '^      host')
read -r -a names <<<"$cols"
for from in "${names[@]}"; do
	row=$(echo "$matrix" | grep "^$from ")
	read -r -a cells <<<"$row"
	for i in "${!names[@]}"; do
		to=${names[$i]}
		[ "$from" = "$to" ] && continue
		got=${cells[$((i + 1))]:-?}
		exp=$(want "$from" "$to")
		if [ "$got" = "$exp" ]; then
			pass "demo: $from -> $to: $got"
		else
			fail "demo: $from -> $to: got '$got', want '$exp'"
		fi
	done
done
echo "$out" | grep -q "^Port forward wan -> 10.55.0.1:8080 -> n1:80: hello from n1$" &&
	pass "demo: the port forward answers" || fail "demo: the port forward did not answer"
echo "$out" | grep -q "^IPv6 r1 -> r2 (fd88:2::.*, SLAAC): yes$" &&
	pass "demo: routed IPv6 by SLAAC" || fail "demo: routed IPv6 r1 -> r2 failed"
[ "${#names[@]}" -eq 14 ] || fail "demo: matrix has ${#names[@]} columns, want 14"
finish

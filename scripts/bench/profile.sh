#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Where the time goes: `perf record` on the generator's CPU while the generator pushes 60-byte
# UDP through each configuration (run.sh's set-ups), top symbols into
# build/bench/profile-CONFIG.txt, for docs/BENCHMARKS.md, and for kvmbpf's
# configurations the BPF programs' time by source line in nanoseconds a
# packet (bpflines, bpflines.py) into build/bench/lines-CONFIG.txt. Run by
# run.sh; alone: bash scripts/bench/profile.sh (PROFILE="kvmbpf-acl ...":
# some; kvmbpf-acl is kvmbpf with acl_on 1000). Not in the default list:
# kvmbpf-acl-new, new connections through the ports of kvmbpf-acl (rounds
# of 60,000 one-packet flows, the ports' connections forgotten between
# rounds), with call graphs: the kernel's time under each BPF call site
# (bpfsites.py) into build/bench/sites-kvmbpf-acl-new.txt as well
KVB_BENCH_LIB=1 source "$(dirname "$0")/run.sh"

PROF_HZ=${PROF_HZ:-10000}

# prof CONFIG: profile one configuration (already set up); a kvmbpf one's
# BPF time by source line too (bpflines) into build/bench/lines-CONFIG.txt
prof() {
	local id dmac=$DST ips=(10.98.0.1 10.98.0.2 onemac)
	if [ "${RATE_L3:-0}" = 1 ]; then
		dmac=$GWMAC
		ips=(10.98.0.1 10.97.0.2 onemac)
	fi
	id=$(ip netns exec "$T-d" "$B" sink eth0) || return 1
	# the generator's CPU: the path runs there (XDP_TX into the veth,
	# its peer's NAPI, tc, the next veth); the rest of a shared host
	# stays out
	perf record -F "$PROF_HZ" -C "$GENCPU" -q -o "$OUT/perf-$1.data" -- \
		taskset -c "$GENCPU" ip netns exec "$T-s" "$B" gen eth0 "$dmac" $SRC 1000 "$PKTS" "${ips[@]}" \
		>/dev/null 2>&1
	perf report -i "$OUT/perf-$1.data" --stdio --sort sym --percent-limit 1.5 \
		2>/dev/null | grep -v '^#' | grep -v '^$' | head -14 |
		sed 's/^ *//' >"$OUT/profile-$1.txt"
	# the programs are still loaded: their line table, then the samples
	case $1 in
	kvmbpf*)
		"$ROOT/build/bpflines" >"$OUT/lines-$1.tab" &&
			perf script -i "$OUT/perf-$1.data" -F ip,sym 2>/dev/null >"$OUT/samples-$1.txt" &&
			"$PY" "$ROOT/scripts/bench/bpflines.py" "$OUT/lines-$1.tab" \
				"$OUT/samples-$1.txt" "$("$PY" -c "print(1e9 / $PROF_HZ / $PKTS)")" 40 \
				>"$OUT/lines-$1.txt"
		rm -f "$OUT/lines-$1.tab" "$OUT/samples-$1.txt"
		;;
	esac
	rm -f "$OUT/perf-$1.data"
	ip -n "$T-d" link set eth0 xdp off
}

# prof_new: kvmbpf-acl-new (set up as kvmbpf-acl): NEW_ROUNDS (10) rounds
# of 60,000 new connections, each a flow of one packet; between rounds
# both ports forget theirs (their ACL off and on again, on the other CPU)
prof_new() {
	local id rounds=${NEW_ROUNDS:-10} per=60000 n c0 c1 r
	local other=$((GENCPU == 0 ? 1 : 0))
	id=$(ip netns exec "$T-d" "$B" sink eth0) || return 1
	c0=$("$B" count "$id")
	perf record -g -F "$PROF_HZ" -C "$GENCPU" -q -o "$OUT/perf-$1.data" -- \
		bash -c "for r in \$(seq $rounds); do
			taskset -c $GENCPU ip netns exec $T-s $B gen eth0 $DST $SRC $per $per 10.98.0.1 10.98.0.2 onemac >/dev/null || exit 1
			for a in none big; do
				taskset -c $other ${K[*]} port set $T-a acl \$a &&
				taskset -c $other ${K[*]} port set $T-b acl \$a || exit 1
			done
		done" >/dev/null 2>&1 || { echo "profile $1: a round failed" >&2; return 1; }
	c1=$("$B" count "$id")
	n=$((rounds * per))
	# a round that lost its packets would make every figure too small
	if [ $((c1 - c0)) -lt $n ]; then
		echo "profile $1: $((c1 - c0)) of $n packets delivered" >&2
		return 1
	fi
	perf report -i "$OUT/perf-$1.data" --stdio --no-children --sort sym \
		--percent-limit 1.5 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' |
		head -14 | sed 's/^ *//' >"$OUT/profile-$1.txt"
	local scale
	scale=$("$PY" -c "print(1e9 / $PROF_HZ / $n)")
	"$ROOT/build/bpflines" >"$OUT/lines-$1.tab" &&
		perf script -i "$OUT/perf-$1.data" -F ip,sym -G 2>/dev/null >"$OUT/samples-$1.txt" &&
		"$PY" "$ROOT/scripts/bench/bpflines.py" "$OUT/lines-$1.tab" \
			"$OUT/samples-$1.txt" "$scale" 40 >"$OUT/lines-$1.txt" &&
		perf script -i "$OUT/perf-$1.data" -F ip,sym 2>/dev/null >"$OUT/samples-$1.txt" &&
		"$PY" "$ROOT/scripts/bench/bpfsites.py" "$OUT/lines-$1.tab" \
			"$OUT/samples-$1.txt" "$scale" 25 >"$OUT/sites-$1.txt"
	rm -f "$OUT/lines-$1.tab" "$OUT/samples-$1.txt" "$OUT/perf-$1.data"
	ip -n "$T-d" link set eth0 xdp off
}

for cfg in ${PROFILE:-bridge kvmbpf kvmbpf-acl fwd kvmbpf-routed nft-masq kvmbpf-nat}; do
	case $cfg in
	bridge | kvmbpf) RATE_L3=0 setup $cfg; RATE_L3=0 prof "$cfg" ;;
	kvmbpf-acl) RATE_L3=0 setup kvmbpf; acl_on 1000; RATE_L3=0 prof "$cfg" ;;
	kvmbpf-acl-new) RATE_L3=0 setup kvmbpf; acl_on 1000; prof_new "$cfg" ;;
	*) RATE_L3=1 setup_l3 $cfg; RATE_L3=1 prof "$cfg" ;;
	esac
done

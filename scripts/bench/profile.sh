#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Where the time goes: `perf record` on the generator's CPU while the generator pushes 60-byte
# UDP through each configuration (run.sh's set-ups), top symbols into
# build/bench/profile-CONFIG.txt, for docs/BENCHMARKS.md, and for kvmbpf's
# configurations the BPF programs' time by source line in nanoseconds a
# packet (bpflines, bpflines.py) into build/bench/lines-CONFIG.txt. Run by
# run.sh; alone: bash scripts/bench/profile.sh (PROFILE="kvmbpf-acl ...":
# some; kvmbpf-acl is kvmbpf with acl_on 1000)
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

for cfg in ${PROFILE:-bridge kvmbpf kvmbpf-acl fwd kvmbpf-routed nft-masq kvmbpf-nat}; do
	case $cfg in
	bridge | kvmbpf) RATE_L3=0 setup $cfg; RATE_L3=0 prof "$cfg" ;;
	kvmbpf-acl) RATE_L3=0 setup kvmbpf; acl_on 1000; RATE_L3=0 prof "$cfg" ;;
	*) RATE_L3=1 setup_l3 $cfg; RATE_L3=1 prof "$cfg" ;;
	esac
done

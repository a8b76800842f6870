#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# kvmbpf benchmarks (`make bench`; not part of `make test`). Every figure is
# a ratio against the kernel's own equivalent measured in the same run, on
# the same topology, median of RUNS runs with the spread (min-max).
#
#   1. cost per packet of each datapath path (BPF_PROG_RUN) vs an empty
#      program;
#   2. guest-to-guest switching, 60-byte UDP, 1 and 1000 flows: kvmbpf (XDP
#      on, and tc alone) vs a Linux bridge vs a bare redirect_map ceiling;
#   6. the same with 64k learned MACs in the table, and the maps' memory;
#   7. TCP throughput (iperf3, offloads on): kvmbpf (XDP on, tc alone) vs
#      Linux bridge.
# Routed and NAT figures (3, 4, 5, 1M connections) wait for those network
# types. The generator is kvbbench's XDP program run with
# BPF_F_TEST_XDP_LIVE_FRAMES in the sender's namespace; packets per second
# are counted at the receiver (an XDP sink), not at the sender.
#
# Output: a table, build/bench/results.json, docs/bench.png (gnuplot),
# docs/BENCHMARKS.md.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$ROOT/build/kvbbench
PY=/usr/bin/python3
RUNS=${RUNS:-5}
PKTS=${PKTS:-2000000}
OUT=$ROOT/build/bench
T=kb$((RANDOM % 1000))
BPFFS=/sys/fs/bpf/kvbbench_$T
K=("$ROOT/build/kvmbpf" --bpffs "$BPFFS")
SRC=02:00:00:00:0b:01 DST=02:00:00:00:0b:02
mkdir -p "$OUT"
RES=$OUT/raw.txt
: >"$RES"

for p in gnuplot-nox; do
	dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q 'ok installed' ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $p >/dev/null
done

cleanup() {
	ip netns del "$T-s" 2>/dev/null
	ip netns del "$T-d" 2>/dev/null
	ip link del "$T-a" 2>/dev/null
	ip link del "$T-b" 2>/dev/null
	ip link del "$T-br" 2>/dev/null
	rm -rf "$BPFFS"
}
trap cleanup EXIT

topo() {
	cleanup
	ip netns add "$T-s"
	ip netns add "$T-d"
	ip link add "$T-a" type veth peer name eth0 netns "$T-s"
	ip link add "$T-b" type veth peer name eth0 netns "$T-d"
	ip -n "$T-s" link set eth0 address $SRC up
	ip -n "$T-d" link set eth0 address $DST up
	ip -n "$T-s" addr add 10.98.0.1/24 dev eth0
	ip -n "$T-d" addr add 10.98.0.2/24 dev eth0
	for d in "$T-a" "$T-b"; do
		sysctl -qw net.ipv6.conf."$d".disable_ipv6=1
		ip link set "$d" up
		# a veth without XDP needs GRO on to take XDP_TX from its peer
		ethtool -K "$d" gro on >/dev/null 2>&1
	done
}

setup() { # bridge | kvmbpf | kvmbpf-tc | ceiling
	topo
	case $1 in
	bridge)
		ip link add "$T-br" type bridge
		ip link set "$T-a" master "$T-br"
		ip link set "$T-b" master "$T-br"
		ip link set "$T-br" up
		;;
	kvmbpf | kvmbpf-tc)
		local x=on
		[ "$1" = kvmbpf-tc ] && x=off
		"${K[@]}" net add bench type bridge >/dev/null
		"${K[@]}" attach "$T-a" net bench mac $SRC xdp $x spoofcheck off
		"${K[@]}" attach "$T-b" net bench mac $DST xdp $x spoofcheck off
		;;
	ceiling)
		"$B" ceil "$T-a" "$T-b"
		;;
	esac
	sleep 1	# let STP-less bridge ports and carriers settle
}

# rate CONFIG FLOWS: receiver pps of one run
rate() {
	local id c0 c1 line n t
	id=$(ip netns exec "$T-d" "$B" sink eth0) || return 1
	ip netns exec "$T-s" "$B" gen eth0 $DST $SRC "$2" 1000 >/dev/null
	c0=$("$B" count "$id")
	line=$(ip netns exec "$T-s" "$B" gen eth0 $DST $SRC "$2" "$PKTS") || return 1
	c1=$("$B" count "$id")
	t=${line#* }
	ip -n "$T-d" link set eth0 xdp off
	"$PY" -c "print(int(($c1 - $c0) / $t))"
}

record() { echo "$*" >>"$RES"; }

fill_fdb() { # IFINDEX: 65,000 learned MACs behind that port (network id 1)
	"$PY" - "$BPFFS" "$1" <<'EOP'
import subprocess, sys, time
d, ifx = sys.argv[1], int(sys.argv[2])
now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
val = " ".join(map(str, list(ifx.to_bytes(4, "little")) + [0] * 4 +
                   list(now.to_bytes(8, "little"))))
with open("/tmp/kvb_fdb_batch", "w") as f:
    for i in range(65000):
        key = [1, 0, 0, 0, 0x06, 0, 0, (i >> 16) & 255, (i >> 8) & 255, i & 255, 0, 0]
        f.write("map update pinned %s/kvb_fdb_v4 key %s value %s\n" % (
            d, " ".join(map(str, key)), val))
subprocess.run(["bpftool", "batch", "file", "/tmp/kvb_fdb_batch"],
               check=True, stdout=subprocess.DEVNULL)
EOP
	rm -f /tmp/kvb_fdb_batch
}

echo "== 1. cost per packet (BPF_PROG_RUN, ns)"
setup kvmbpf
ia=$(cat /sys/class/net/"$T-a"/ifindex)
uni=$(cd "$ROOT/tests/tools" && "$PY" -c "import craft; print(craft.eth(craft.mac('$DST'), craft.mac('$SRC'), 0x0800, craft.ip4('10.98.0.1', '10.98.0.2', 17, craft.udp(1, 2, b'x' * 18))).hex())")
bc=$(cd "$ROOT/tests/tools" && "$PY" -c "import craft; print(craft.eth(b'\xff' * 6, craft.mac('$SRC'), 0x0800, craft.ip4('10.98.0.1', '10.98.0.2', 17, craft.udp(1, 2, b'x' * 18))).hex())")
vlan="${uni:0:24}8100000508${uni:26}"
ip netns exec "$T-d" ping -c1 -W1 10.98.0.1 >/dev/null 2>&1	# learn both MACs
for r in $(seq "$RUNS"); do
	record cost empty-tc "$("$B" cost empty-tc "$ia" "$uni" 200000 | cut -d' ' -f1)"
	record cost empty-xdp "$("$B" cost empty-xdp "$ia" "$uni" 200000 xdp | cut -d' ' -f1)"
	record cost tc-unicast "$("$B" cost "$BPFFS/prog_tc_ingress" "$ia" "$uni" 200000 | cut -d' ' -f1)"
	record cost tc-flood "$("$B" cost "$BPFFS/prog_tc_ingress" "$ia" "$bc" 200000 | cut -d' ' -f1)"
	record cost tc-drop-vlan "$("$B" cost "$BPFFS/prog_tc_ingress" "$ia" "$vlan" 200000 | cut -d' ' -f1)"
	record cost xdp-pass "$("$B" cost "$BPFFS/prog_xdp" "$ia" "$uni" 200000 xdp | cut -d' ' -f1)"
	record cost xdp-drop-vlan "$("$B" cost "$BPFFS/prog_xdp" "$ia" "$vlan" 200000 xdp | cut -d' ' -f1)"
done

echo "== 2. switching, 60-byte UDP (Mpps at the receiver)"
for flows in 1 1000; do
	for cfg in bridge kvmbpf kvmbpf-tc ceiling; do
		setup $cfg
		for r in $(seq "$RUNS"); do
			record switch "$cfg/$flows" "$(rate $cfg $flows)"
		done
	done
done

echo "== 6. scale: 64k learned MACs"
setup kvmbpf
fill_fdb "$(cat /sys/class/net/"$T-a"/ifindex)"
for r in $(seq "$RUNS"); do record switch "kvmbpf-64k-macs/1000" "$(rate kvmbpf 1000)"; done
mem=$(bpftool -j map show | "$PY" -c "
import json, sys
print(sum(m.get('bytes_memlock', 0) for m in json.load(sys.stdin) if m.get('name', '').startswith('kvb_')))")
record memory kvmbpf-maps "$mem"

echo "== 7. TCP throughput, iperf3, offloads on (Gbit/s)"
for cfg in bridge kvmbpf kvmbpf-tc; do
	setup $cfg
	for r in $(seq 3); do
		ip netns exec "$T-d" iperf3 -s -1 -D -B 10.98.0.2 >/dev/null 2>&1
		sleep 0.3
		bps=$(ip netns exec "$T-s" iperf3 -c 10.98.0.2 -t 3 -J 2>/dev/null | "$PY" -c "
import json, sys; print(json.load(sys.stdin)['end']['sum_received']['bits_per_second'])")
		record tcp "$cfg" "${bps:-0}"
	done
	pkill -f "iperf3 -s -1 -D -B 10.98.0.2" 2>/dev/null; true
done

"$PY" "$ROOT/scripts/bench/report.py" "$RES" "$OUT" "$ROOT/docs"

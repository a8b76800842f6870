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
#   3. routed between two networks, 1 and 1000 flows: kvmbpf vs kernel IP
#      forwarding;
#   4. NAT, established flows, 1 and 65,536 flows: kvmbpf vs kernel
#      forwarding plus nft masquerade;
#   5. NAT new connections per second, the same two;
#   7. (also) TCP through NAT: kvmbpf vs kernel forwarding + nft masquerade.
#   6. (also) NAT with 65,536 live flows in a table holding 1M flows.
# The generator is kvbbench's XDP program run with
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

for p in gnuplot-nox linux-perf; do
	dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q 'ok installed' ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $p >/dev/null
done

cleanup() {
	ip netns del "$T-s" 2>/dev/null
	ip netns del "$T-d" 2>/dev/null
	ip link del "$T-a" 2>/dev/null
	ip link del "$T-b" 2>/dev/null
	ip link del "$T-br" 2>/dev/null
	nft delete table ip "kvbbench_$T" 2>/dev/null
	[ -d "$BPFFS" ] && "${K[@]}" reset >/dev/null 2>&1
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

# Two subnets: the sender 10.98.0.1 behind 10.98.0.254, the receiver
# 10.97.0.2 behind 10.97.0.254, routed (kernel forwarding, kernel plus nft
# masquerade, kvmbpf routed, kvmbpf nat). GWMAC: where the sender sends.
setup_l3() { # fwd | nft-masq | kvmbpf-routed[-tc] | kvmbpf-nat[-tc]
	local gif x=on
	case $1 in *-tc) x=off ;; esac
	topo
	ip -n "$T-s" route add default via 10.98.0.254 2>/dev/null
	ip -n "$T-d" addr flush dev eth0
	ip -n "$T-d" addr add 10.97.0.2/24 dev eth0
	case $1 in
	fwd | nft-masq)
		ip addr add 10.98.0.254/24 dev "$T-a"
		ip addr add 10.97.0.254/24 dev "$T-b"
		sysctl -qw net.ipv4.conf."$T-a".forwarding=1 net.ipv4.conf."$T-b".forwarding=1
		ip neigh replace 10.97.0.2 lladdr $DST dev "$T-b"
		GWMAC=$(cat /sys/class/net/"$T-a"/address)
		if [ "$1" = nft-masq ]; then
			nft add table ip "kvbbench_$T"
			nft add chain ip "kvbbench_$T" post '{ type nat hook postrouting priority 100; }'
			nft add rule ip "kvbbench_$T" post oifname "$T-b" masquerade
		fi
		;;
	kvmbpf-routed | kvmbpf-routed-tc)
		"${K[@]}" net add ra type routed subnet 10.98.0.0/24 gateway 10.98.0.254 >/dev/null
		"${K[@]}" net add rb type routed subnet 10.97.0.0/24 gateway 10.97.0.254 >/dev/null
		"${K[@]}" net peer ra rb
		"${K[@]}" attach "$T-a" net ra spoofcheck off xdp $x
		"${K[@]}" attach "$T-b" net rb mac $DST spoofcheck off xdp $x
		gif=$("${K[@]}" -j net show rb | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
		ip neigh replace 10.97.0.2 lladdr $DST dev "$gif"
		gif=$("${K[@]}" -j net show ra | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
		GWMAC=$(cat /sys/class/net/"$gif"/address)
		;;
	kvmbpf-nat | kvmbpf-nat-tc)
		ip addr add 10.97.0.254/24 dev "$T-b"
		ip neigh replace 10.97.0.2 lladdr $DST dev "$T-b"
		"${K[@]}" net add n type nat subnet 10.98.0.0/24 gateway 10.98.0.254 \
			wan "$T-b" dhcp off >/dev/null
		"${K[@]}" attach "$T-a" net n spoofcheck off xdp $x
		gif=$("${K[@]}" -j net show n | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
		GWMAC=$(cat /sys/class/net/"$gif"/address)
		;;
	esac
	sleep 1
}

# rate CONFIG FLOWS [NEW]: receiver pps of one run (switching: to DST
# directly; after setup_l3, RATE_L3=1: through the gateway to 10.97.0.2,
# one sender MAC, flows by source port). The warm-up sends every flow
# twice, so NAT measures established flows; with NEW, no warm-up and one
# packet per flow: every packet opens a connection.
rate() {
	local id c0 c1 line n t dmac=$DST ips=() warm=1000 count=$PKTS
	if [ "${RATE_L3:-0}" = 1 ]; then
		dmac=$GWMAC
		ips=(10.98.0.1 10.97.0.2 onemac)
		warm=$(($2 * 2 > 1000 ? $2 * 2 : 1000))
	fi
	[ -n "${3:-}" ] && warm=0 count=$2
	id=$(ip netns exec "$T-d" "$B" sink eth0) || return 1
	[ "$warm" -gt 0 ] &&
		ip netns exec "$T-s" "$B" gen eth0 "$dmac" $SRC "$2" "$warm" "${ips[@]}" >/dev/null
	c0=$("$B" count "$id")
	line=$(ip netns exec "$T-s" "$B" gen eth0 "$dmac" $SRC "$2" "$count" "${ips[@]}") || return 1
	c1=$("$B" count "$id")
	t=${line#* }
	ip -n "$T-d" link set eth0 xdp off
	"$PY" -c "print(int(($c1 - $c0) / $t))"
}

record() { echo "$*" >>"$RES"; }

# tcp_runs CONFIG ADDR: three iperf3 runs from the sender to ADDR
tcp_runs() {
	local r bps
	for r in $(seq 3); do
		ip netns exec "$T-d" iperf3 -s -1 -D -B "$2" >/dev/null 2>&1
		sleep 0.3
		bps=$(ip netns exec "$T-s" iperf3 -c "$2" -t 3 -J 2>/dev/null | "$PY" -c "
import json, sys; print(json.load(sys.stdin)['end']['sum_received']['bits_per_second'])")
		record tcp "$1" "${bps:-0}"
	done
	pkill -f "iperf3 -s -1 -D -B $2" 2>/dev/null
	true
}

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
        f.write("map update pinned %s/kvb_fdb key %s value %s\n" % (
            d, " ".join(map(str, key)), val))
subprocess.run(["bpftool", "batch", "file", "/tmp/kvb_fdb_batch"],
               check=True, stdout=subprocess.DEVNULL)
EOP
	rm -f /tmp/kvb_fdb_batch
}

# profile.sh sources this file for its set-ups and helpers only
[ "${KVB_BENCH_LIB:-0}" = 1 ] && return 0
: >"$RES"

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

# cost_l3 NAME: the tc program's cost for the routed/NAT frame (section 1)
cost_l3() {
	local ia hex
	ia=$(cat /sys/class/net/"$T-a"/ifindex)
	hex=$(cd "$ROOT/tests/tools" && "$PY" -c "import craft; print(craft.eth(craft.mac('$GWMAC'), craft.mac('$SRC'), 0x0800, craft.ip4('10.98.0.1', '10.97.0.2', 17, craft.udp(1, 2, b'x' * 18))).hex())")
	# the program rewrites the frame (TTL, NAT): a fresh copy every run
	"$B" cost "$BPFFS/prog_tc_ingress" "$ia" "$hex" 100 each >/dev/null	# warm: flow, neighbour
	for r in $(seq "$RUNS"); do
		record cost "$1" "$("$B" cost "$BPFFS/prog_tc_ingress" "$ia" "$hex" 5000 each | cut -d' ' -f1)"
		record cost empty-tc-each "$("$B" cost empty-tc "$ia" "$hex" 5000 each | cut -d' ' -f1)"
	done
}

echo "== 3. routed between two networks, 60-byte UDP (Mpps at the receiver)"
RATE_L3=1
for flows in 1 1000; do
	for cfg in fwd kvmbpf-routed kvmbpf-routed-tc; do
		setup_l3 $cfg
		for r in $(seq "$RUNS"); do record route "$cfg/$flows" "$(rate $cfg $flows)"; done
	done
done
setup_l3 kvmbpf-routed-tc
cost_l3 tc-routed

echo "== 4. NAT, established flows, 60-byte UDP (Mpps at the receiver)"
for flows in 1 65536; do
	for cfg in nft-masq kvmbpf-nat kvmbpf-nat-tc; do
		setup_l3 $cfg
		for r in $(seq "$RUNS"); do record nat "$cfg/$flows" "$(rate $cfg $flows)"; done
	done
done
setup_l3 kvmbpf-nat-tc
cost_l3 tc-nat-established

echo "== 5. NAT, new connections (one packet each, 100,000 per run; per second)"
for cfg in nft-masq kvmbpf-nat-tc; do
	for r in $(seq "$RUNS"); do
		setup_l3 $cfg	# a fresh device: no flow left from the last run
		record newconn "$cfg" "$(rate $cfg 100000 new)"
	done
done
RATE_L3=0

echo "== 6. scale: 64k learned MACs"
setup kvmbpf
fill_fdb "$(cat /sys/class/net/"$T-a"/ifindex)"
for r in $(seq "$RUNS"); do record switch "kvmbpf-64k-macs/1000" "$(rate kvmbpf 1000)"; done
mem=$(bpftool -j map show | "$PY" -c "
import json, sys
print(sum(m.get('bytes_memlock', 0) for m in json.load(sys.stdin) if m.get('name', '').startswith('kvb_')))")
record memory kvmbpf-maps "$mem"

echo "== 6. scale: NAT among 1M tracked connections"
# 65,536 live flows among idle ones filling the table to 1,048,576 flows
setup_l3 kvmbpf-nat-tc
"$B" ctfill "$BPFFS/kvb_ct" $((2 * (1048576 - 65536))) >/dev/null
for r in $(seq "$RUNS"); do
	record nat "kvmbpf-nat-tc-1M/65536" "$(RATE_L3=1 rate kvmbpf-nat-tc 65536)"
done
record memory kvmbpf-maps-1M "$(bpftool -j map show | "$PY" -c "
import json, sys
print(sum(m.get('bytes_memlock', 0) for m in json.load(sys.stdin) if m.get('name', '').startswith('kvb_')))")"

echo "== 7. TCP throughput, iperf3, offloads on (Gbit/s)"
for cfg in bridge kvmbpf kvmbpf-tc; do
	setup $cfg
	tcp_runs "$cfg" 10.98.0.2
done

echo "== 7. TCP throughput through NAT, iperf3, offloads on (Gbit/s)"
for cfg in nft-masq kvmbpf-nat-tc; do
	setup_l3 $cfg
	tcp_runs "$cfg" 10.97.0.2
done

echo "== profiles (perf, whole system, while the generator runs)"
bash "$ROOT/scripts/bench/profile.sh"

"$PY" "$ROOT/scripts/bench/report.py" "$RES" "$OUT" "$ROOT/docs"

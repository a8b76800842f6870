#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Overlay benchmarks (issue 19), `make bench` section "overlay" (or run
# alone, under the test lock):
#
#  1. TCP throughput (iperf3, offloads on) between a guest on host 1 and
#     one on host 2 (namespaces joined by a veth underlay): kvmbpf's
#     overlay bridge against the kernel's own VXLAN device (flood and
#     learn: an all-zero FDB entry per remote) under a Linux bridge, on
#     the same topology; runs interleaved, median and spread, and the
#     same-run ratio.
#  2. The cost of flooding one frame from a guest to 1, 8 and 64 hosts
#     (head-end replication; BPF_PROG_RUN of tc ingress on a broadcast,
#     the copies really encapsulated and sent into a dummy underlay),
#     against the same flood with no overlay.
#
# RUNS (3), SECS (5 per iperf3 run). Results: a table on stdout and
# build/bench/overlay.txt.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$ROOT/build/kvbbench
RUNS=${RUNS:-3}
SECS=${SECS:-5}
GENCPU=${GENCPU:-1}
T=ko$((RANDOM % 1000))
OUT=$ROOT/build/bench
mkdir -p "$OUT"
RES=$OUT/overlay.txt
: >"$RES"
PY=/usr/bin/python3
FAILED=0

NSS=("$T-h1" "$T-h2" "$T-g1" "$T-g2" "$T-f")
bp() { echo "/sys/fs/bpf/kvbbench_${T}_$1"; }
kv() { local h=$1; shift; nsenter --net="/run/netns/$T-$h" "$ROOT/build/kvmbpf" --bpffs "$(bp "$h")" "$@"; }
teardown() {
	local h ns
	for h in h1 h2 f; do
		[ -d "$(bp $h)" ] && kv $h reset >/dev/null 2>&1
		rm -rf "$(bp $h)"
	done
	for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null; done
}
trap teardown EXIT

# two hosts on a veth underlay, a guest behind each
topo() {
	local h ns
	teardown
	for ns in "${NSS[@]}"; do ip netns add "$ns" && ip -n "$ns" link set lo up; done
	ip -n "$T-h1" link add ul type veth peer name ul netns "$T-h2"
	for h in 1 2; do
		ip -n "$T-h$h" addr add 10.94.0.$h/24 dev ul
		ip -n "$T-h$h" link set ul up
		ip -n "$T-h$h" link add g type veth peer name eth0 netns "$T-g$h"
		ip netns exec "$T-h$h" sysctl -qw net.ipv6.conf.g.disable_ipv6=1
		ip -n "$T-h$h" link set g up
		ip -n "$T-g$h" link set eth0 mtu 1450 up
		ip -n "$T-g$h" addr add 10.94.1.$h/24 dev eth0
	done
}

setup() { # kvmbpf | linux
	local h o
	topo
	for h in 1 2; do
		o=$((3 - h))
		if [ "$1" = kvmbpf ]; then
			kv h$h net add lan type bridge vni 100 vtep 10.94.0.$o >/dev/null &&
				kv h$h attach g net lan mac "$(ip -n "$T-g$h" -br link show eth0 | awk '{print $3}')" \
					ip 10.94.1.$h >/dev/null || return 1
		else
			ip -n "$T-h$h" link add vx type vxlan id 100 dstport 4789 local 10.94.0.$h dev ul &&
				ip netns exec "$T-h$h" bridge fdb append 00:00:00:00:00:00 dev vx dst 10.94.0.$o &&
				ip -n "$T-h$h" link add br0 type bridge &&
				ip -n "$T-h$h" link set vx master br0 && ip -n "$T-h$h" link set g master br0 &&
				ip -n "$T-h$h" link set vx up && ip -n "$T-h$h" link set br0 up || return 1
		fi
	done
	ip netns exec "$T-g1" ping -c 3 -i 0.2 -W 2 10.94.1.2 >/dev/null
}

tcp_run() { # CONFIG
	local bps
	ip netns exec "$T-g2" iperf3 -s -1 -B 10.94.1.2 >/dev/null 2>&1 &
	sleep 0.5
	bps=$(taskset -c "$GENCPU" ip netns exec "$T-g1" iperf3 -c 10.94.1.2 -t "$SECS" -J 2>/dev/null | "$PY" -c "
import json, sys
print(json.load(sys.stdin)['end']['sum_received']['bits_per_second'])" 2>/dev/null)
	wait
	if [ -z "$bps" ] || [ "${bps%.*}" = 0 ]; then
		echo "FAIL tcp $1: iperf3 moved nothing" >&2
		FAILED=1
		return
	fi
	echo "tcp $1 $bps" >>"$RES"
}

echo "== overlay 1. TCP throughput between hosts, iperf3, offloads on (Gbit/s)"
for r in $(seq "$RUNS"); do
	for cfg in kvmbpf linux; do
		setup $cfg || { echo "FAIL setup $cfg" >&2; FAILED=1; continue; }
		tcp_run $cfg
	done
done

echo "== overlay 2. flooding one frame to N hosts (BPF_PROG_RUN of tc ingress, ns)"
# one host whose underlay is a veth to a namespace that drops what it
# gets (no address there): every copy is encapsulated, routed (through a
# gateway with a static neighbour entry) and sent
flood_setup() { # N: vteps (0: no overlay)
	local i v="" ns
	teardown
	for ns in "${NSS[@]}"; do ip netns add "$ns" && ip -n "$ns" link set lo up; done
	ip -n "$T-f" link add u0 type veth peer name u0 netns "$T-h1" &&
		ip -n "$T-f" link set u0 up && ip -n "$T-h1" link set u0 up &&
		ip -n "$T-f" addr add 10.96.0.1/24 dev u0 &&
		ip -n "$T-f" neigh replace 10.96.0.2 lladdr 02:00:00:00:96:02 dev u0 &&
		ip -n "$T-f" route add 10.95.0.0/16 via 10.96.0.2 dev u0 || return 1
	ip -n "$T-f" link add ga type veth peer name eth0 netns "$T-g1"
	ip -n "$T-f" link add gb type veth peer name eth0 netns "$T-g2"
	for d in ga gb; do
		ip netns exec "$T-f" sysctl -qw net.ipv6.conf.$d.disable_ipv6=1
		ip -n "$T-f" link set $d up
	done
	ip -n "$T-g1" link set eth0 up; ip -n "$T-g2" link set eth0 up
	for ((i = 1; i <= $1; i++)); do v+=" vtep 10.95.$((i / 256)).$((i % 256))"; done
	# shellcheck disable=SC2086
	if [ "$1" -gt 0 ]; then
		kv f net add lan type bridge vni 100 $v >/dev/null 2>&1
	else
		kv f net add lan type bridge mtu 1450 >/dev/null
	fi
	kv f attach ga net lan spoofcheck off >/dev/null && kv f attach gb net lan spoofcheck off >/dev/null
}
bc=$(cd "$ROOT/tests/tools" && "$PY" -c "import craft; print(craft.eth(craft.mac('ff:ff:ff:ff:ff:ff'), craft.mac('02:00:00:00:0b:01'), 0x0800, craft.ip4('10.98.0.1', '10.98.0.255', 17, craft.udp(1, 2, b'x' * 18))).hex())")
for r in $(seq "$RUNS"); do
	for n in 0 1 8 64; do
		flood_setup $n || { echo "FAIL flood setup $n" >&2; FAILED=1; continue; }
		ia=$(ip netns exec "$T-f" cat /sys/class/net/ga/ifindex)
		v=$(nsenter --net="/run/netns/$T-f" "$B" cost "$(bp f)/prog_tc_ingress" "$ia" "$bc" 20000 | cut -d' ' -f1)
		[ -n "$v" ] && echo "flood $n $v" >>"$RES" || { echo "FAIL flood $n: BPF_PROG_RUN" >&2; FAILED=1; }
	done
done

"$PY" - "$RES" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    k, cfg, v = line.split()
    rows.setdefault((k, cfg), []).append(float(v))
def fmt(vals, scale):
    v = [x / scale for x in vals]
    return "%.2f (%.2f-%.2f)" % (statistics.median(v), min(v), max(v))
k = rows.get(("tcp", "kvmbpf")), rows.get(("tcp", "linux"))
if k[0] and k[1]:
    print("TCP between hosts, Gbit/s: kvmbpf overlay %s, kernel VXLAN + Linux bridge %s, ratio %.2f"
          % (fmt(k[0], 1e9), fmt(k[1], 1e9), statistics.median(k[0]) / statistics.median(k[1])))
base = rows.get(("flood", "0"))
for n in ("1", "8", "64"):
    v = rows.get(("flood", n))
    if v and base:
        extra = statistics.median(v) - statistics.median(base)
        print("flood to %2s hosts: %s ns a frame (no overlay: %s), %.0f ns a host"
              % (n, fmt(v, 1), fmt(base, 1), extra / int(n)))
EOF
exit $FAILED

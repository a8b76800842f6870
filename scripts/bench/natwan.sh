#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# NAT, WAN to guest, established flows (issue 17, item 3), `make bench`
# section "natwan" (or run alone, under the test lock):
#
# A WAN host (namespace $T-s, its eth0 the peer of the WAN veth $T-a)
# sends 60-byte UDP with complete checksums (`kvbbench gen ... onemac,csum`,
# XDP live frames, pinned to GENCPU) to the NAT address 10.96.0.254: the
# replies of FLOWS flows a guest opened before the run (flow f: the
# guest's port 20000 + f % 16 to the WAN's 10000 + f / 16, 16 guest
# sockets; the guest is a namespace's stack behind a tap, reached through
# `vnettap relay` while the flows are made, then read as QEMU reads it by
# `kvbbench tapsink`, which verifies every UDP checksum). Each flow's
# first reply (the warm-up) makes it established. Configurations,
# interleaved run by run, each with the same tap guest:
#   nft           the kernel: a router namespace forwarding between the
#                 WAN veth and the tap, `nft ... oifname WAN masquerade`
#                 (conntrack; the guest's neighbour entry static)
#   kvmbpf        a nat network with wan $T-a, wan-xdp off (the default):
#                 tc translates every reply
#   kvmbpf-wxdp   the same with wan-xdp on: XDP translates them
# The rate is what the path handed to the guest's tap per second of the
# generator's time (the path runs in the generator's context): for kvmbpf
# the fabric's tx count on the tap's port, for nft tun's count of frames
# the guest read plus those its full queue dropped. The fast path's share
# is the WAN port's xdp-fwd / rx. FLOWS (1 1000 65536), RUNS (3), PKTS
# (1,000,000), CONFIGS (all three); PROFILE=1: perf on the generator's CPU
# during each measured run instead (its rates are not figures). Results: a
# table on stdout and build/bench/natwan.txt.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=kn$((RANDOM % 1000))
source "$ROOT/scripts/bench/lib.sh"
V=$ROOT/build/vnettap
FLOWS=${FLOWS:-1 1000 65536}
SRC=02:00:00:00:0c:01 DST=02:00:00:00:0c:02
RES=$OUT/natwan.txt
: >"$RES"
SINK_PID=
RELAY_PID=
# PROFILE=1: perf instead of figures (tap_measure)
PROFILE_AS=${PROFILE:+perf-natwan.data}

cleanup() {
	stop_pid "$RELAY_PID"
	RELAY_PID=
	tap_cleanup
}
trap cleanup EXIT

fail_run() { echo "FAIL $*" >&2; FAILED=1; }

# make_flows N: the guest opens N flows to the WAN host (see the top),
# paced so that no tap queue overflows
make_flows() {
	ip netns exec "$T-g" "$PY" - "$1" <<'EOP'
import socket, sys, time
n = int(sys.argv[1])
socks = []
for j in range(16):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", 20000 + j))
    socks.append(s)
# twice: a datagram a full queue lost the first time makes its flow then
for f in list(range(n)) * 2:
    socks[f % 16].sendto(b"x", ("10.96.0.1", 10000 + f // 16))
    if f % 128 == 127:
        time.sleep(0.003)
EOP
}

# setup CONFIG FLOWS: the WAN host, the WAN veth, the tap guest, the NAT
# (the fabric's or the kernel's), FLOWS flows made; NS the command prefix
# of the namespace the tap lives in
setup() {
	local i n
	cleanup
	ip netns add "$T-s"
	ip link add "$T-a" type veth peer name eth0 netns "$T-s"
	ip -n "$T-s" link set eth0 address $SRC up
	ip -n "$T-s" addr add 10.96.0.1/24 dev eth0
	# the WAN host answers the guests' datagrams with nothing
	ip netns exec "$T-s" nft -f - <<-'EON'
	table inet kvbb { chain input { type filter hook input priority 0; policy accept; udp dport 20000-20015 drop; }; }
	EON
	sysctl -qw net.ipv6.conf."$T-a".disable_ipv6=1 2>/dev/null
	ip netns add "$T-g"
	ip -n "$T-g" link set lo up
	ip -n "$T-g" tuntap add dev eth0 mode tap vnet_hdr
	ip -n "$T-g" link set eth0 address $DST up
	ip -n "$T-g" addr add 192.168.60.2/24 dev eth0
	ip -n "$T-g" route add default via 192.168.60.1
	case $1 in
	nft)
		ip netns add "$T-m"
		NS=(ip netns exec "$T-m")
		ip link set "$T-a" netns "$T-m"
		"${NS[@]}" ip link set lo up
		"${NS[@]}" ip addr add 10.96.0.254/24 dev "$T-a"
		"${NS[@]}" ip link set "$T-a" up
		"${NS[@]}" ethtool -K "$T-a" gro on >/dev/null 2>&1
		"${NS[@]}" ip tuntap add dev "$T-tb" mode tap vnet_hdr
		"${NS[@]}" ip addr add 192.168.60.1/24 dev "$T-tb"
		"${NS[@]}" ip link set "$T-tb" up
		"${NS[@]}" ip neigh replace 192.168.60.2 lladdr $DST dev "$T-tb" nud permanent
		"${NS[@]}" sysctl -qw net.ipv4.ip_forward=1
		"${NS[@]}" nft -f - <<-EON
		table ip kvbb { chain post { type nat hook postrouting priority 100; policy accept; oifname "$T-a" masquerade; }; }
		EON
		;;
	kvmbpf*)
		local x=off
		[ "$1" = kvmbpf-wxdp ] && x=on
		NS=()
		ip addr add 10.96.0.254/24 dev "$T-a"
		ip link set "$T-a" up
		# a veth without XDP needs GRO on to take XDP_TX from its peer
		ethtool -K "$T-a" gro on >/dev/null 2>&1
		ip tuntap add dev "$T-tb" mode tap vnet_hdr
		sysctl -qw net.ipv6.conf."$T-tb".disable_ipv6=1
		ip link set "$T-tb" up
		"${K[@]}" net add n type nat subnet 192.168.60.0/24 wan "$T-a" \
			dhcp off wan-xdp $x >/dev/null &&
			"${K[@]}" attach "$T-tb" net n mac $DST ip 192.168.60.2 ||
			fail_run "$1: set-up"
		;;
	esac
	"${NS[@]}" "$V" relay "$T-tb" "$T-g" eth0 >/dev/null 2>&1 &
	RELAY_PID=$!
	sleep 0.3
	make_flows "$2" || fail_run "$1/$2: making the flows failed"
	sleep 0.3
	kill "$RELAY_PID"
	wait "$RELAY_PID" 2>/dev/null
	RELAY_PID=
	if [ "$1" = nft ]; then
		n=$("${NS[@]}" cat /proc/sys/net/netfilter/nf_conntrack_count)
	else
		n=$("${K[@]}" -j net show n | "$PY" -c "
import json, sys; print(json.load(sys.stdin)['ct_count'])")
	fi
	[ "${n:-0}" -ge "$2" ] || fail_run "$1/$2: only ${n:-0} flows made"
	record flows "$1/$2" "${n:-0}"
}

wanmac() { "${NS[@]}" cat /sys/class/net/"$T-a"/address; }

# run CONFIG FLOWS: one run, recorded as CONFIG/FLOWS; the warm-up:
# every flow's first reply (it makes the flow established)
run() {
	tap_measure "$1/$2" "$(wanmac)" "$2" 10.96.0.1 10.96.0.254 onemac,csum
}

for b in "$B" "$V"; do
	[ -x "$b" ] || { echo "FAIL natwan: $b missing (make all)" >&2; exit 1; }
done
echo "== NAT, WAN to guest, established flows, 60-byte UDP, complete checksums (Mpps reaching the guest's tap)"
for r in $(seq "$RUNS"); do
	for flows in $FLOWS; do
		for cfg in ${CONFIGS:-nft kvmbpf kvmbpf-wxdp}; do
			setup $cfg "$flows"
			run $cfg "$flows"
		done
	done
done
cleanup

PYTHONPATH=$ROOT/scripts/bench "$PY" - "$RES" <<'EOF'
import sys
from taptable import load, rate_table
rate_table(load(sys.argv[1]),
           [("nft", "kernel: forwarding + nft masquerade"),
            ("kvmbpf", "kvmbpf, wan-xdp off (default)"),
            ("kvmbpf-wxdp", "kvmbpf, wan-xdp on")], "nft", "wan-xdp off")
EOF
[ "$FAILED" = 0 ] || { echo "FAIL: the natwan bench had failed runs (above)" >&2; exit 1; }

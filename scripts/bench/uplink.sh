#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# LAN to guest through a bridge network's uplink (issue 17, item 3), `make
# bench` section "uplink" (or run alone, under the test lock):
#
# A LAN host (namespace $T-s, its eth0 the peer of the uplink veth $T-a)
# sends 60-byte UDP with complete checksums (`kvbbench gen ... csum`, XDP
# live frames, pinned to GENCPU) to a guest whose NIC is a tap ($T-tb,
# read as QEMU reads it by `kvbbench tapsink`, which verifies every UDP
# checksum). Configurations, interleaved run by run:
#   bridge        a Linux bridge of the veth and the tap (br_netfilter off,
#                 in a namespace of its own), the guest's MAC static in it
#   kvmbpf        a bridge network with uplink $T-a, uplink-xdp off (the
#                 default): tc switches every frame
#   kvmbpf-uxdp   the same with uplink-xdp on: XDP's fast path
# The rate is what the path handed to the guest's tap per second of the
# generator's time (the path runs in the generator's context: XDP_TX into
# the veth, its peer's NAPI, the uplink's XDP or tc or the bridge, the
# tap's queue): for kvmbpf the fabric's tx count on the tap's port (what
# tc redirected or XDP queued for the tap), for the bridge tun's own count
# of frames the guest read plus those its full queue dropped (tun counts
# each such skb; for XDP frames only one a batch, so the fabric's count is
# used there). The guest (tapsink, pinned to the other CPU) reads slower
# than the XDP path: the share it read is the "delivered" fraction. FLOWS (1 1000): source UDP port
# and MAC vary per flow (1000 LAN hosts). The fast path's share is the
# uplink's xdp-fwd / rx. And what uplink-xdp costs the frames it passes
# to tc (all the host's own traffic, partial checksums, ...): the same
# frames with UDP checksum 0 ("zero": XDP passes them), kvmbpf with
# uplink-xdp off and on. And TCP (iperf3, 3 s, offloads on) from the LAN
# host's stack to a guest in a namespace behind a veth port (TCP=0: not
# run): a veth is never a redirect target, so this is all tc's, and shows
# what XDP on a veth uplink costs the LAN's TCP (its peer loses GSO/TSO).
# RUNS (3), PKTS (1,000,000). Results: a table on
# stdout and build/bench/uplink.txt.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=ku$((RANDOM % 1000))
source "$ROOT/scripts/bench/lib.sh"
FLOWS=${FLOWS:-1 1000}
SRC=02:00:00:00:0b:01 DST=02:00:00:00:0b:02 DST2=02:00:00:00:0b:03
RES=$OUT/uplink.txt
: >"$RES"
SINK_PID=
trap tap_cleanup EXIT

fail_run() { echo "FAIL $*" >&2; FAILED=1; }

# setup CONFIG: the LAN host, the uplink veth and the guest's tap; NS the
# command prefix of the namespace the tap lives in
setup() {
	tap_cleanup
	veth_ns "$T-s" "$T-a" $SRC 10.98.0.1/24
	# a veth without XDP needs GRO on to take XDP_TX from its peer
	ethtool -K "$T-a" gro on >/dev/null 2>&1
	# a guest behind a veth (TCP): 10.98.0.3
	veth_ns "$T-d" "$T-b" $DST2 10.98.0.3/24
	case $1 in
	bridge)
		ip netns add "$T-m"
		NS=(ip netns exec "$T-m")
		"${NS[@]}" sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
			net.bridge.bridge-nf-call-ip6tables=0 \
			net.bridge.bridge-nf-call-arptables=0 2>/dev/null
		ip link set "$T-a" netns "$T-m"
		"${NS[@]}" ip link add br0 type bridge
		"${NS[@]}" ip tuntap add dev "$T-tb" mode tap vnet_hdr
		ip link set "$T-b" netns "$T-m"
		for d in "$T-a" "$T-tb" "$T-b"; do
			"${NS[@]}" ip link set "$d" master br0 up
		done
		"${NS[@]}" ethtool -K "$T-a" gro on >/dev/null 2>&1
		"${NS[@]}" ip link set br0 up
		# the guest sends nothing (tapsink only reads): its MAC by hand
		"${NS[@]}" bridge fdb add $DST dev "$T-tb" master static
		;;
	kvmbpf*)
		local x=off
		[ "$1" = kvmbpf-uxdp ] && x=on
		NS=()
		ip tuntap add dev "$T-tb" mode tap vnet_hdr
		ip link set "$T-tb" up
		"${K[@]}" net add lan type bridge uplink "$T-a" uplink-xdp $x >/dev/null &&
			"${K[@]}" attach "$T-tb" net lan mac $DST ip 10.98.0.2 &&
			"${K[@]}" attach "$T-b" net lan mac $DST2 ip 10.98.0.3 ||
			fail_run "$1: set-up"
		;;
	esac
	sleep 0.5
}

# run CONFIG FLOWS [zero]: one run, recorded as CONFIG/FLOWS (or
# CONFIG/zero/FLOWS: UDP checksum 0); the warm-up: every flow's source
# learnt, the guest's MAC known
run() {
	local cfg=$1 flows=$2 c=csum
	[ -n "${3:-}" ] && { cfg=$cfg/zero; c=none; }
	tap_measure "$cfg/$flows" $DST "$flows" 10.98.0.1 10.98.0.2 $c
}

# tcp CONFIG: one iperf3 run from the LAN host to the veth guest
tcp() {
	local bps pid
	ip netns exec "$T-d" iperf3 -s -1 -B 10.98.0.3 >/dev/null 2>&1 &
	pid=$!
	sleep 0.3
	bps=$(taskset -c "$GENCPU" ip netns exec "$T-s" iperf3 -c 10.98.0.3 -t 3 -J 2>/dev/null | "$PY" -c "
import json, sys; print(json.load(sys.stdin)['end']['sum_received']['bits_per_second'])")
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if [ -z "$bps" ] || [ "${bps%.*}" = 0 ]; then
		fail_run "tcp $1: iperf3 moved nothing"
		return
	fi
	record tcp "$1/1" "$bps"
}

echo "== LAN to guest through the uplink, 60-byte UDP, complete checksums (Mpps reaching the guest's tap)"
for r in $(seq "$RUNS"); do
	for flows in $FLOWS; do
		for cfg in bridge kvmbpf kvmbpf-uxdp; do
			setup $cfg
			run $cfg "$flows"
			[ "$cfg" != bridge ] && run $cfg "$flows" zero
		done
	done
	if [ "${TCP:-1}" = 1 ]; then
		for cfg in bridge kvmbpf kvmbpf-uxdp; do
			setup $cfg
			tcp $cfg
		done
	fi
done
tap_cleanup

PYTHONPATH=$ROOT/scripts/bench "$PY" - "$RES" <<'EOF'
import sys
from taptable import load, ms, rate_table
d = load(sys.argv[1])
rate_table(d, [("bridge", "Linux bridge, br_netfilter off"),
               ("kvmbpf", "kvmbpf, uplink-xdp off (default)"),
               ("kvmbpf-uxdp", "kvmbpf, uplink-xdp on")], "bridge", "uplink-xdp off",
           [("", "complete UDP checksum"), ("/zero", "UDP checksum 0 (XDP passes it)")])
t = d.get("tcp", {})
if t:
    print()
    print("| TCP, LAN host to a veth guest | Gbit/s median (min-max) | runs | paired vs bridge | paired vs uplink-xdp off |")
    print("|---|---|---|---|---|")
    for cfg, label in [("bridge", "Linux bridge"), ("kvmbpf", "kvmbpf, uplink-xdp off"),
                       ("kvmbpf-uxdp", "kvmbpf, uplink-xdp on")]:
        v = t.get(cfg + "/1")
        if not v:
            continue
        def paired(base):
            r = [x / y for x, y in zip(v, t.get(base + "/1", [])) if y]
            return ms(r, 1, "%.2fx") if r and base != cfg else ""
        print("| %s | %s | %d | %s | %s |" % (label, ms(v, 1e9), len(v), paired("bridge"),
              paired("kvmbpf") if cfg == "kvmbpf-uxdp" else ""))
EOF
[ "$FAILED" = 0 ] || { echo "FAIL: the uplink bench had failed runs (above)" >&2; exit 1; }

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A real guest's TCP throughput through a tap (QEMU/TCG, virtio-net, vhost
# off, the guest's offloads on as its kernel negotiates them): the guest
# sends MIB MiB of zeros to a LAN namespace behind the network's uplink.
# Configurations, interleaved over RUNS rounds so that drift hits all alike:
#   bridge   the tap and the uplink veth in a Linux bridge, in the root
#            namespace with the host's br_netfilter setting (printed; the
#            bench never changes the host's)
#   xdp-off  kvmbpf, tc alone on the tap
#   xdp-on   kvmbpf, tc plus the XDP program on the tap
# Prints one line per run (config, Mbit/s, frames and GSO super-frames
# counted at the receiver's veth by kvbbench gsocount) and the medians;
# ratios are against the bridge.
# Not part of `make test` (a benchmark, not a timed test).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/netns/lib.sh"
source "$ROOT/tests/guest/lib.sh"
RUNS=${RUNS:-3}
MIB=${MIB:-200}

# QEMU opens its tap in the root namespace, so the bridge lives there too
if [ -r /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
	echo "bridge baseline: br_netfilter present, bridge-nf-call-iptables=$(cat /proc/sys/net/bridge/bridge-nf-call-iptables) (the host's setting)"
else
	echo "bridge baseline: no br_netfilter"
fi

behind "$T-up" "$T-lan" 10.93.0.2/24
SENDER='
ip addr add 10.93.0.21/24 dev eth0; ip link set eth0 up
i=0; while [ $i -lt 90 ]; do ping -c1 -W1 10.93.0.2 >/dev/null 2>&1 && break; i=$((i+1)); done
dd if=/dev/zero bs=1048576 count='$MIB' 2>/dev/null | nc 10.93.0.2 5001
echo "KVB sent ok"'

# receive: bytes and seconds from the first byte to EOF, as Mbit/s
RECV='
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.93.0.2", 5001)); s.listen(1); s.settimeout(240)
c, _ = s.accept(); c.settimeout(60)
n = 0; t0 = None
while True:
    b = c.recv(1 << 20)
    if not b: break
    if t0 is None: t0 = time.monotonic()
    n += len(b)
dt = time.monotonic() - t0
print("%d %.1f" % (n, n * 8 / dt / 1e6))'

one() {
	local cfg=$1 out
	ip link del "$T-br" 2>/dev/null
	[ -d "$BPFFS" ] && kvmbpf reset >/dev/null 2>&1
	ip link del "$T-t" 2>/dev/null
	tap_add "$T-t" || return 1
	case $cfg in
	bridge)
		ip link add "$T-br" type bridge && ip link set "$T-br" up
		ip link set "$T-t" master "$T-br"
		ip link set "$T-up" master "$T-br" ;;
	xdp-*)
		kvmbpf net add lan type bridge uplink "$T-up" >/dev/null &&
		kvmbpf attach "$T-t" net lan mac 52:54:00:93:00:21 xdp "${cfg#xdp-}" ||
			return 1 ;;
	esac
	out=$(mktemp)
	# what the guest's data arrives as: frames, and of them GSO
	# super-frames (the LAN side's veth keeps them as the fabric sent)
	gid=$(in_ns "$T-lan" "$ROOT/build/kvbbench" gsocount eth0) || return 1
	in_ns "$T-lan" "$PY" -c "$RECV" >"$out" &
	local rp=$!
	: >"$GUEST_LOGDIR/g.log"
	guest_boot g "$T-t" 52:54:00:93:00:21 "$SENDER"
	wait $rp
	guest_exit g
	read -r bytes mbit <"$out"
	rm -f "$out"
	ip link set "$T-up" nomaster 2>/dev/null
	if [ "${bytes:-0}" != $((MIB * 1048576)) ]; then
		echo "$cfg: FAILED (received ${bytes:-nothing} bytes)" >&2
		return 1
	fi
	read -r frames gso < <("$ROOT/build/kvbbench" count2 "$gid")
	echo "$cfg $mbit $frames $gso"
}

# one() runs in a pipeline's subshell: its LINK_LIST additions are lost
# there, so the exit's cleanup learns the tap and the bridge here
LINK_LIST+=("$T-t" "$T-br")
res=$(mktemp)
for r in $(seq "$RUNS"); do
	for cfg in bridge xdp-off xdp-on; do
		one $cfg | tee -a "$res"
	done
done
"$PY" - "$res" <<'EOF'
import statistics, sys
runs = {}
frames = {}
for line in open(sys.argv[1]):
    c, v, n, g = line.split()
    runs.setdefault(c, []).append(float(v))
    f = frames.setdefault(c, [0, 0])
    f[0] += int(n)
    f[1] += int(g)
med = {c: statistics.median(v) for c, v in runs.items()}
for c, v in runs.items():
    r = med[c] / med["bridge"] if med.get("bridge") else 0
    print("%-8s median %7.1f Mbit/s  (min %.1f max %.1f)  %.2fx bridge;"
          " %d frames at the receiver's veth, %.1f%% GSO super-frames"
          % (c, med[c], min(v), max(v), r, frames[c][0],
             100.0 * frames[c][1] / max(frames[c][0], 1)))
EOF
rm -f "$res"

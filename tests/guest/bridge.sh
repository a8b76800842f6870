#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two QEMU guests (virtio-net, offloads on as the guest kernel negotiates
# them) on taps in a bridge network whose uplink leads to a LAN namespace.
# Ping, then 50 MiB TCP transfers with sha256 checked: guest to guest both
# ways, guest to LAN and LAN to guest. Guest a's tap runs XDP (xdp on),
# guest b's has the default (off): each transfer crosses one of each, and
# a's frames to b that XDP can prove complete take its fast path: pings,
# and TCP segments with a partial checksum (QEMU writes them
# non-blocking, so tun runs native XDP, which completes the checksum).
# On a failure (or with KVB_DUMP=1) it prints the fabric's counters and MAC
# table, the devices' and the LAN's view and each guest's own snapshot.
source "$(dirname "$0")/../netns/lib.sh"
source "$(dirname "$0")/lib.sh"

MIB=50
behind "$T-up" "$T-lan" 10.92.0.2/24
kvmbpf net add lan type bridge uplink "$T-up" || fail "net add"
tap_add "$T-a" && kvmbpf attach "$T-a" net lan mac 52:54:00:92:00:21 xdp on || fail "attach a"
tap_add "$T-b" && kvmbpf attach "$T-b" net lan mac 52:54:00:92:00:22 || fail "attach b"

# In the guests: listen first (before making the data, which takes a TCG
# guest a while), wait for a peer with ping, then send or receive. A
# listener hands the connection to `cat` (nc -e): busybox nc would otherwise
# half-close on its own stdin's EOF, and the sender stops at that FIN.
# "KVB" lines carry the guest's uptime after their value, for the record.
COMMON="$GUEST_DIAG"'
t() { cut -d" " -f1 /proc/uptime; }
ip addr add $ME/24 dev eth0; ip link set eth0 up
waitfor() { i=0; while [ $i -lt 90 ]; do ping -c1 -W1 $1 >/dev/null 2>&1 && return 0; i=$((i+1)); done; return 1; }
recv() { printf '"'"'#!/bin/sh\ncat >%s\n'"'"' $2 >/tmp/recv$1.sh; chmod +x /tmp/recv$1.sh; nc -l -p $1 -e /tmp/recv$1.sh; }
send() { i=0; while [ $i -lt 60 ]; do nc $1 $2 </tmp/f && return 0; sleep 1; i=$((i+1)); done; return 1; }
'
DATA='
dd if=/dev/urandom of=/tmp/f bs=1048576 count='$MIB' 2>/dev/null
echo "KVB sent $(sha256sum </tmp/f | cut -c1-64) $(t)"
echo "KVB size $(wc -c </tmp/f)"
'
A="ME=10.92.0.21; $COMMON"'
recv 5004 /tmp/r &
rp=$!
'"$DATA"'
waitfor 10.92.0.22 && echo "KVB ping_guest ok $(t)"
waitfor 10.92.0.2 && echo "KVB ping_lan ok $(t)"
send 10.92.0.22 5003 && echo "KVB to_guest sent $(t)"
send 10.92.0.2 5001 && echo "KVB to_lan sent $(t)"
wait $rp
echo "KVB from_guest $(sha256sum </tmp/r | cut -c1-64) $(t)"
'
B="ME=10.92.0.22; $COMMON"'
recv 5002 /tmp/l &
lp=$!
recv 5003 /tmp/g &
gp=$!
'"$DATA"'
wait $gp
echo "KVB from_guest $(sha256sum </tmp/g | cut -c1-64) $(t)"
waitfor 10.92.0.21 && send 10.92.0.21 5004 && echo "KVB to_guest sent $(t)"
wait $lp
echo "KVB from_lan $(sha256sum </tmp/l | cut -c1-64) $(t)"'

src=$(mktemp) recv=$(mktemp)
head -c ${MIB}M /dev/urandom >"$src"
# ip netns exec (not the in_ns function, which would fork a shell first) so
# that the PIDs are timeout's own: a kill then ends nc too, and no leftover
# keeps the test lock's descriptor open.
ip netns exec "$T-lan" timeout 1200 nc -d -l 10.92.0.2 5001 >"$recv" &
lanpid=$!
guest_boot a "$T-a" 52:54:00:92:00:21 "$A"
guest_boot b "$T-b" 52:54:00:92:00:22 "$B"
# LAN to guest b, once b listens, in the background: a transfer that
# stalls must not hang the test but fail it with the state it is in.
(
	trap 'kill $c 2>/dev/null; exit 1' TERM
	while :; do
		ip netns exec "$T-lan" timeout 1200 nc -N 10.92.0.22 5002 <"$src" 2>/dev/null &
		c=$!
		wait $c && exit 0
		sleep 1
	done
) &
senderpid=$!
trap 'kill $senderpid $lanpid 2>/dev/null; guest_cleanup' EXIT

# On a failure: the fabric's counters and MAC table, the kernel's view of
# the devices and of the LAN's sockets, and each guest's last snapshot,
# taken while a stalled transfer is still stalled.
dumped=0
diag() {
	[ $dumped = 0 ] || return 0
	dumped=1
	echo "# $1: state follows"
	dump_fabric "$T-lan" "$T-up" "$T-a" "$T-b"
	guest_console a
	guest_console b
}
if ! guest_wait_all 120 a b; then
	fail "guests did not finish"
	diag "a guest stalled"
	kill $senderpid $lanpid 2>/dev/null
fi
wait $senderpid || fail "guest: LAN could not send to guest b"
wait $lanpid

[ "$(guest_result a ping_guest)" = ok ] && pass "guest: ping guest to guest" || fail "guest: ping guest to guest"
[ "$(guest_result a ping_lan)" = ok ] && pass "guest: ping guest to LAN" || fail "guest: ping guest to LAN"
sa=$(guest_result a sent) sb=$(guest_result b sent)
for g in a b; do
	sz=$(guest_result $g size)
	[ "$sz" = $((MIB * 1048576)) ] && pass "guest: $g made its ${MIB} MiB to send" ||
		fail "guest: $g's data to send is '$sz' bytes"
done
[ -n "$sa" ] && [ "$(guest_result b from_guest)" = "$sa" ] &&
	pass "guest: TCP ${MIB} MiB guest a to guest b, sha256" ||
	fail "guest: a to b sha256 '$(guest_result b from_guest)' want '$sa'"
[ -n "$sb" ] && [ "$(guest_result a from_guest)" = "$sb" ] &&
	pass "guest: TCP ${MIB} MiB guest b to guest a, sha256" ||
	fail "guest: b to a sha256 '$(guest_result a from_guest)' want '$sb'"
[ -n "$sa" ] && [ "$(sha256sum <"$recv" | cut -c1-64)" = "$sa" ] &&
	pass "guest: TCP ${MIB} MiB guest to LAN, sha256" ||
	fail "guest: guest to LAN sha256 mismatch"
[ "$(guest_result b from_lan)" = "$(sha256sum <"$src" | cut -c1-64)" ] &&
	pass "guest: TCP ${MIB} MiB LAN to guest, sha256" ||
	fail "guest: LAN to guest sha256 '$(guest_result b from_lan)'"
# Offloads really on: the guest's TSO hands the tap super-frames, so the
# average frame the fabric received from guest a exceeds any MTU-sized one.
rxp=$(stat "$T-a" rx_packets) rxb=$(stat "$T-a" rx_bytes)
[ "$rxp" -gt 0 ] && [ $((rxb / rxp)) -gt 1514 ] &&
	pass "guest: TSO super-frames crossed the fabric (avg $((rxb / rxp)) bytes)" ||
	fail "guest: no GSO frames from the guest ($rxb bytes in $rxp packets)"
# XDP's fast path with a real guest: a's ICMP echo requests to b are
# complete (a guest sums ICMP itself) and b is a tap, so XDP forwards
# them itself; so are a's TCP segments to b with a partial checksum
# (NEEDS_CSUM, no GSO: tun's native XDP, which completes the checksum),
# hundreds to thousands of the 50 MiB's (how many depends on how the
# guest's TSO batches: 962 on a 2-vCPU AMD EPYC under TCG, 7,723-24,992
# on the Intel machines); TSO super-frames (generic XDP) and frames to
# the LAN are tc's. More than 300 proves TCP took it (waitfor sends at
# most 90 pings to b; 3 frames took the path before).
read -r fwd rxa < <(kvmbpf -j stats "$T-a" | "$PY" -c "
import json, sys; d = json.load(sys.stdin); print(d['xdp_fwd'], d['rx_packets'])")
echo "INFO guest a: ${fwd:-?} of ${rxa:-?} frames took the XDP fast path"
[ "$(guest_result a ping_guest)" = ok ] && [ "${fwd:-0}" -gt 300 ] &&
	pass "guest: guest a's frames to guest b (pings, TCP with partial checksums) took the XDP fast path ($fwd of $rxa)" ||
	fail "guest: guest a's TCP to guest b did not take the XDP fast path (xdp-fwd ${fwd:-?}, want more than 300)"
[ "$FAILS" -eq 0 ] || diag "a check failed"
[ -z "${KVB_DUMP:-}" ] || diag "KVB_DUMP set"
rm -f "$src" "$recv"
finish

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A WAN host that forges the source address of a bridge network's guest
# (one on the LAN behind the bridge's uplink, which the host routes out of
# that uplink) is refused as spoof-ip: routed into a routed network with
# `wan DEV`, where an ACL rule trusts that guest, and opening a nat
# network's forward. Before, only nat and routed subnets and subnets the
# host routes via a guest were taken for the fabric's own: such a packet
# passed the ACL rule written for the bridge guest. The same source from
# the LAN side (the bridge guest itself) still reaches the routed guest.
# The WAN host's own datagram with a priority tag (VID 0) is routed in as
# untagged (t83); sent to another station's MAC, it is not (t80).
source "$(dirname "$0")/lib.sh"

command -v "$PY" >/dev/null && "$PY" -c 'import scapy' 2>/dev/null ||
	{ fail "wanforge: python3-scapy missing (scripts/deps.sh installs it)"; exit 1; }
fabric_netns "$T-h"
for n in w l b r n; do netns_add "$T-$n"; done
# the WAN (10.78.0.0/24) and the LAN behind the bridge's uplink (10.61.0.0/24)
ip -n "$H" link add wan0 type veth peer name eth0 netns "$T-w"
ip -n "$H" addr add 10.78.0.1/24 dev wan0
ip -n "$H" link set wan0 up
ip -n "$T-w" addr add 10.78.0.2/24 dev eth0
ip -n "$T-w" link set eth0 up
ip -n "$H" route add default via 10.78.0.2
ip -n "$H" link add up0 type veth peer name eth0 netns "$T-l"
ip -n "$H" addr add 10.61.0.1/24 dev up0
ip -n "$H" link set up0 up
ip -n "$T-l" addr add 10.61.0.2/24 dev eth0
ip -n "$T-l" link set eth0 up
check "net add br (bridge, uplink up0)" kvmbpf net add br type bridge uplink up0
check "net add r (routed, wan wan0)" kvmbpf net add r type routed subnet 10.72.4.0/24 wan wan0
check "net add n (nat, wan wan0)" kvmbpf net add n type nat subnet 192.168.51.0/24 wan wan0 dhcp off
port() {	# NS DEV: the guest's veth, DEV in the host
	ip -n "$H" link add "$2" type veth peer name eth0 netns "$1"
	ip netns exec "$H" sysctl -qw net.ipv6.conf."$2".disable_ipv6=1
	ip -n "$H" link set "$2" up
	ip -n "$1" link set eth0 up
}
port "$T-b" bp; port "$T-r" rp; port "$T-n" np
check "attach the bridge guest 10.61.0.11" kvmbpf attach bp net br ip 10.61.0.11
check "attach the routed guest 10.72.4.11" kvmbpf attach rp net r ip 10.72.4.11
check "attach the nat guest 192.168.51.11" kvmbpf attach np net n ip 192.168.51.11
ip -n "$T-b" addr add 10.61.0.11/24 dev eth0
ip -n "$T-b" route add 10.72.4.0/24 via 10.61.0.1
ip -n "$T-r" addr add 10.72.4.11/24 dev eth0
ip -n "$T-r" route add default via 10.72.4.1
ip -n "$T-n" addr add 192.168.51.11/24 dev eth0
ip -n "$T-n" route add default via 192.168.51.1
ip -n "$T-w" route add 10.72.4.0/24 via 10.78.0.1
ip netns exec "$H" sysctl -qw net.ipv4.conf.up0.forwarding=1
check "acl: the routed guest trusts the bridge guest and the WAN host (UDP 4445)" sh -c \
	"$(printf '%q ' nsenter --net="$HNS" "${K[@]}") acl add trust &&
	 $(printf '%q ' nsenter --net="$HNS" "${K[@]}") acl rule add trust ingress allow proto udp src 10.61.0.11/32 dport 4445 &&
	 $(printf '%q ' nsenter --net="$HNS" "${K[@]}") acl rule add trust ingress allow proto udp src 10.78.0.2/32 dport 4445"
check "port set rp acl trust" kvmbpf port set rp acl trust
check "forward n udp 4445 to the nat guest" kvmbpf forward add n proto udp port 4445 to 192.168.51.11

# listen NS FILE: in the background, every datagram to UDP 4445 in NS, a
# line "SOURCE PAYLOAD" in FILE, until 3 s pass without one
listen() {
	bg_ns "$1" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 4445)); s.settimeout(3)
try:
    while True:
        d, a = s.recvfrom(100)
        print(a[0], d.decode(errors='replace'), flush=True)
except socket.timeout:
    pass" >"$2"
}
listen "$T-r" "$TMPDIR/r.heard"
R_PID=$BG_PID
listen "$T-n" "$TMPDIR/n.heard"
N_PID=$BG_PID
sleep 1
s0=$(stat wan0 spoof-ip)
v0=$(stat wan0 vlan-tagged)
WM=$(ip -n "$H" -j link show wan0 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
in_ns "$T-w" "$PY" - "$WM" <<'EOF'
import sys, time
from scapy.all import Ether, Dot1Q, IP, UDP, sendp, get_if_hwaddr, conf
conf.verb = 0
e = Ether(src=get_if_hwaddr('eth0'), dst=sys.argv[1])
for s in ['10.61.0.11', '10.61.0.2']:       # the bridge guest; a LAN host
    for d in ['10.72.4.11', '10.78.0.1']:    # the routed guest; the forward
        sendp(e / IP(src=s, dst=d) / UDP(sport=4444, dport=4445) / b'forged', iface='eth0')
        time.sleep(0.05)
# the WAN host itself, to the routed guest: with an 802.1p priority tag
# (VID 0), an untagged frame as the kernel takes it (t83); and sent to
# another station's MAC (a switch's flood), not the host's (t80)
ip = IP(src='10.78.0.2', dst='10.72.4.11') / UDP(sport=4444, dport=4445)
sendp(e / Dot1Q(vlan=0, prio=5) / ip / b'prio', iface='eth0')
time.sleep(0.05)
sendp(Ether(src=e.src, dst='02:00:00:00:ee:99') / ip / b'other', iface='eth0')
EOF
# the real bridge guest, from the LAN side: still heard
in_ns "$T-b" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'real', ('10.72.4.11', 4445))"
sleep 1
[ "$(stat wan0 spoof-ip)" -ge $((s0 + 4)) ] && pass "the four forged datagrams counted spoof-ip on the WAN" ||
	fail "spoof-ip on wan0: +$(($(stat wan0 spoof-ip) - s0)), want +4"
wait "$R_PID" "$N_PID"	# 3 s after the last datagram
grep -q forged "$TMPDIR/r.heard" && fail "the routed guest heard a forged bridge guest: $(cat "$TMPDIR/r.heard")" ||
	pass "no forged bridge-LAN source passed the routed guest's ACL rule"
grep -q forged "$TMPDIR/n.heard" && fail "the forward opened for a forged bridge-LAN source: $(cat "$TMPDIR/n.heard")" ||
	pass "no forward flow opened for a forged bridge-LAN source"
grep -q "^10.78.0.2 prio" "$TMPDIR/r.heard" && [ "$(stat wan0 vlan-tagged)" = "$v0" ] &&
	pass "a priority-tagged (VID 0) datagram from the WAN reaches the routed guest, nothing counted vlan-tagged" ||
	fail "priority-tagged datagram: heard '$(cat "$TMPDIR/r.heard")', vlan-tagged +$(($(stat wan0 vlan-tagged) - v0))"
grep -q "other" "$TMPDIR/r.heard" && fail "a datagram sent to another station's MAC was routed in" ||
	pass "a datagram sent to another station's MAC is not routed in (the host's to drop)"
grep -q "^10.61.0.11 real" "$TMPDIR/r.heard" && pass "the bridge guest itself still reaches the routed guest" ||
	fail "the bridge guest's own datagram was not heard: '$(cat "$TMPDIR/r.heard")'"
finish

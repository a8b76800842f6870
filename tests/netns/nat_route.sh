#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# NAT through any route (issue 15): a nat network without `wan` translates
# through whichever device the host's FIB picks, to that device's address;
# `wan DEV` restricts it to DEV (anything else refused, counted); the WAN
# can change (default route moved, address changed, a device that comes
# later); nothing the host forwards from outside reaches a guest, even
# with forwarding on; nothing is left behind after net del.
#
# The fabric lives in its own namespace ("the host", entered with nsenter:
# `ip netns exec` would hide the pins), so that "every device of the
# host" is this test's devices only:
#
#   $T-h: wan1 10.81.1.1/24 -- $T-w1 10.81.1.2 (default route)
#         wan2 10.81.2.1/24 -- $T-w2 10.81.2.2 (connected only)
#         wan3 10.81.3.1/24 -- $T-w3 10.81.3.2 (comes later)
#         $T-w1 and $T-w2 both hold 10.81.99.9 (a far host)
#   nat n (any route): 192.168.81.0/24, guest g1 .11 in $T-g1
#   nat m (wan wan1):  192.168.82.0/24, guest g2 .11 in $T-g2
source "$(dirname "$0")/lib.sh"

fabric_netns "$T-h" || { fail "setup: netns"; finish; }
# hostdev NS DEV ADDR/LEN PEERADDR/LEN: veth DEV in the host namespace,
# eth0 in NS
hostdev() {
	netns_add "$1"
	ip -n "$H" link add "$2" type veth peer name eth0 netns "$1" &&
		ip -n "$H" addr add "$3" dev "$2" &&
		ip -n "$1" addr add "$4" dev eth0 &&
		ip -n "$H" link set "$2" up && ip -n "$1" link set eth0 up
}
hostdev "$T-w1" wan1 10.81.1.1/24 10.81.1.2/24 || fail "setup: wan1"
hostdev "$T-w2" wan2 10.81.2.1/24 10.81.2.2/24 || fail "setup: wan2"
ip -n "$H" route add default via 10.81.1.2 dev wan1
for w in w1 w2; do ip -n "$T-$w" addr add 10.81.99.9/32 dev lo; done
guest() { # NS HOSTDEV ADDR GW
	netns_add "$1"
	ip -n "$H" link add "$2" type veth peer name eth0 netns "$1" &&
		in_h sysctl -qw net.ipv6.conf."$2".disable_ipv6=1 &&
		ip -n "$H" link set "$2" up && ip -n "$1" link set eth0 up &&
		ip -n "$1" addr add "$3/24" dev eth0 &&
		ip -n "$1" route add default via "$4"
}
guest "$T-g1" g1 192.168.81.11 192.168.81.1 || fail "setup: g1"
guest "$T-g2" g2 192.168.82.11 192.168.82.1 || fail "setup: g2"

show() { # NET KEY: a field of `net show -j NET`
	kvmbpf -j net show "$1" | "$PY" -c '
import json, sys
v = json.load(sys.stdin)[sys.argv[1]]
print(" ".join(sorted(v)) if isinstance(v, list) else v)' "$2"
}
drops() { # REASON: summed over every port of the fabric
	kvmbpf -j stats | "$PY" -c '
import json, sys
print(sum(s["drop_reasons"].get(sys.argv[1], 0) for s in json.load(sys.stdin)))' "$1"
}
# hooked DEV: our tc ingress filter is on DEV (in the host namespace)
hooked() { tc -n "$H" filter show dev "$1" ingress | grep -q "direct-action"; }

# --- any route ------------------------------------------------------------
check "nat without wan: net add" kvmbpf net add n type nat subnet 192.168.81.0/24 dhcp off
check "attach g1" kvmbpf attach g1 net n ip 192.168.81.11
[ "$(show n nat_mode)" = any-route ] && pass "net show -j: nat_mode any-route" ||
	fail "net show -j: nat_mode '$(show n nat_mode)'"
[ "$(show n wan_devices)" = "wan1 wan2" ] && pass "net show -j: every device with an address is hooked" ||
	fail "net show -j: wan_devices '$(show n wan_devices)'"
[ "$(show n nat_address)" = 10.81.1.1 ] && pass "net show -j: nat_address is the default route's device's" ||
	fail "net show -j: nat_address '$(show n nat_address)'"
check "net show (text) says any route" sh -c \
	"nsenter --net=$HNS ${K[*]} net show n | grep -q 'nat-mode any-route'"
check "the host's own traffic passes the hooked devices" in_h ping -n -c 1 -W 2 10.81.2.2

seen=$(seen_from "$T-w2" 10.81.2.2 8101 "$T-g1")
[ "$seen" = 10.81.2.1 ] && pass "any route: a host behind the second route is reached, from wan2's address" ||
	fail "any route: $T-w2 saw '$seen', not 10.81.2.1"
seen=$(seen_from "$T-w1" 10.81.1.2 8102 "$T-g1")
[ "$seen" = 10.81.1.1 ] && pass "any route: the default route's host, from wan1's address" ||
	fail "any route: $T-w1 saw '$seen', not 10.81.1.1"
check "any route: ICMP echo through the second route" ping4 "$T-g1" 10.81.2.2

# --- wan DEV restricts ----------------------------------------------------
check "nat with wan wan1: net add" kvmbpf net add m type nat subnet 192.168.82.0/24 wan wan1 dhcp off
check "attach g2" kvmbpf attach g2 net m ip 192.168.82.11
[ "$(show m nat_mode)" = wan ] && [ "$(show m wan)" = wan1 ] &&
	pass "net show -j: nat_mode wan, wan wan1" ||
	fail "net show -j m: nat_mode '$(show m nat_mode)' wan '$(show m wan)'"
check "net show (text) says nat-mode wan" sh -c \
	"nsenter --net=$HNS ${K[*]} net show m | grep -q 'nat-mode wan'"
seen=$(seen_from "$T-w1" 10.81.1.2 8103 "$T-g2")
[ "$seen" = 10.81.1.1 ] && pass "wan wan1: the WAN's host is reached" ||
	fail "wan wan1: $T-w1 saw '$seen'"
d0=$(stat g2 nat-no-route)
check_not "wan wan1: the second route is refused" ping4 "$T-g2" 10.81.2.2
d1=$(stat g2 nat-no-route)
[ "$d1" -gt "$d0" ] && pass "wan wan1: refused and counted (nat-no-route $d0 -> $d1)" ||
	fail "wan wan1: nat-no-route did not move ($d0 -> $d1)"

# --- the WAN changes ------------------------------------------------------
check "forward add (on the default route's address)" \
	kvmbpf forward add n proto tcp port 8180 to 192.168.81.11:80
seen=$(seen_from "$T-w1" 10.81.99.9 8104 "$T-g1")
[ "$seen" = 10.81.1.1 ] && pass "far host by the default route (wan1)" ||
	fail "far host: $T-w1 saw '$seen'"
ip -n "$H" route replace default via 10.81.2.2 dev wan2
seen=$(seen_from "$T-w2" 10.81.99.9 8105 "$T-g1")
kvmbpf gc >/dev/null	# a changing command follows the host (so does the watcher)
[ "$seen" = 10.81.2.1 ] && pass "default route moved: a new flow leaves by wan2, from its address" ||
	fail "default route moved: $T-w2 saw '$seen', not 10.81.2.1"
[ "$(show n nat_address)" = 10.81.2.1 ] && pass "default route moved: nat_address follows" ||
	fail "default route moved: nat_address '$(show n nat_address)'"
ip -n "$H" route replace default via 10.81.1.2 dev wan1
# udp_seen: the source $T-w1 sees for a datagram from g1's UDP port 5555
udp_seen() {
	in_ns "$T-w1" timeout 6 "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.bind(('10.81.99.9', 7000))
try:
    print(s.recvfrom(64)[1][0])
except OSError:
    pass" & sleep 0.5
	in_ns "$T-g1" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 5555)); s.sendto(b'x', ('10.81.99.9', 7000))"
	wait
}
seen=$(udp_seen)
[ "$seen" = 10.81.1.1 ] && pass "a UDP flow from g1:5555, from wan1's address" ||
	fail "UDP flow: $T-w1 saw '$seen'"
# wan1's address changes (a DHCP renewal with a new lease, say)
ip -n "$H" addr del 10.81.1.1/24 dev wan1
ip -n "$H" addr add 10.81.1.5/24 dev wan1
ip -n "$H" route replace default via 10.81.1.2 dev wan1
seen=$(seen_from "$T-w1" 10.81.99.9 8106 "$T-g1")
[ "$seen" = 10.81.1.5 ] && pass "WAN address changed: a new flow is translated to the new address" ||
	fail "WAN address changed: $T-w1 saw '$seen', not 10.81.1.5"
seen=$(udp_seen)
[ "$seen" = 10.81.1.5 ] && pass "WAN address changed: a flow from before is made anew, from the new address" ||
	fail "WAN address changed: the old UDP flow is seen from '$seen'"
kvmbpf gc >/dev/null	# a changing command follows the address (so does the watcher)
# fwd_to NS ADDR PORT: the address g's listener (NS, port 80) sees for a
# connection from $T-w1 to ADDR:PORT, empty when none came
fwd_to() {
	in_ns "$1" timeout 6 "$PY" -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.settimeout(4); s.bind(('0.0.0.0', 80)); s.listen(1)
try:
    c, a = s.accept(); c.close(); print(a[0])
except OSError:
    pass" & sleep 0.5
	in_ns "$T-w1" timeout 5 "$PY" -c "
import socket; socket.create_connection(('$2', $3), timeout=3).close()" >/dev/null 2>&1
	wait
}
fwd_seen=$(fwd_to "$T-g1" 10.81.1.5 8180)
[ "$fwd_seen" = 10.81.1.2 ] && pass "WAN address changed: the forward moved to the new address" ||
	fail "WAN address changed: the forward on 10.81.1.5:8180 did not reach g1 ('$fwd_seen')"

# A full forward table moves as a whole; a forward whose new address and
# port another network forwards already stays on the old address, still
# deletable. m (wan1, 10.81.1.5) forwards tcp 8181; n forwards the same
# port while on wan2, and every free slot of the table is n's; then n
# moves back to wan1.
check "forward add on m (wan1): tcp 8181" kvmbpf forward add m proto tcp port 8181 to 192.168.82.11:80
ip -n "$H" route replace default via 10.81.2.2 dev wan2
kvmbpf gc >/dev/null
check "forward add on n (now on wan2): the same port, tcp 8181" \
	kvmbpf forward add n proto tcp port 8181 to 192.168.81.11:80
# fill the table: ranges of n's UDP ports until one is refused, halving
p=20000
for r in 1024 256 64 16 4 1; do
	while kvmbpf forward add n proto udp port $p-$((p + r - 1)) to 192.168.81.11 >/dev/null 2>&1; do
		p=$((p + r))
	done
done
check_not "the forward table is full" kvmbpf forward add n proto udp port 19999 to 192.168.81.11
ip -n "$H" route replace default via 10.81.1.2 dev wan1
kvmbpf gc >/dev/null 2>&1
[ "$(show n nat_address)" = 10.81.1.5 ] && pass "full forward table: n is on wan1's address again" ||
	fail "full forward table: nat_address '$(show n nat_address)'"
seen=$(fwd_to "$T-g1" 10.81.1.5 8180)
[ "$seen" = 10.81.1.2 ] && pass "full forward table: the forward moved with the address" ||
	fail "full forward table: 10.81.1.5:8180 did not reach g1 ('$seen')"
seen=$(fwd_to "$T-g2" 10.81.1.5 8181)
[ "$seen" = 10.81.1.2 ] && pass "m's forward of the port n also forwards is still m's" ||
	fail "m's forward 10.81.1.5:8181 did not reach g2 ('$seen')"
check "n's forward that could not move is deleted by forward del" \
	kvmbpf forward del n proto tcp port 8181
check_not "... and is gone (a second del finds none)" kvmbpf forward del n proto tcp port 8181
check "m's forward is left" sh -c "nsenter --net=$HNS ${K[*]} forward show m | grep -q 8181"
check "forward del of the filler" kvmbpf forward del n proto udp port 20000-21023

# a device that comes after net add: the network's watcher hooks it, no
# kvmbpf command in between
hostdev "$T-w3" wan3 10.81.3.1/24 10.81.3.2/24 || fail "setup: wan3"
ok=no
for i in $(seq 100); do hooked wan3 && { ok=yes; break; }; sleep 0.1; done
[ $ok = yes ] && pass "a device that comes later is hooked by the watcher" ||
	fail "wan3 was not hooked"
seen=$(seen_from "$T-w3" 10.81.3.2 8108 "$T-g1")
[ "$seen" = 10.81.3.1 ] && pass "the later device carries flows, from its address" ||
	fail "later device: $T-w3 saw '$seen'"

# --- nothing unsolicited, with forwarding on ------------------------------
in_h sysctl -qw net.ipv4.conf.wan1.forwarding=1
ip -n "$T-w1" route add 192.168.81.0/24 via 10.81.1.5
cap=$(mktemp)
# not through in_ns: $! must be tcpdump itself (ip netns exec execs it)
ip netns exec "$T-g1" tcpdump --immediate-mode -i eth0 -n -U -w "$cap" \
	'src host 10.81.1.2 and (icmp[icmptype] = icmp-echo or (tcp[tcpflags] & tcp-syn != 0))' \
	2>"$cap.err" &
tpid=$!
for i in $(seq 50); do grep -q listening "$cap.err" 2>/dev/null && break; sleep 0.1; done
u0=$(drops nat-unsolicited)
check_not "forwarding on: the WAN's echo request gets no answer" ping4 "$T-w1" 192.168.81.11
check_not "forwarding on: the WAN's TCP SYN gets no answer" in_ns "$T-w1" "$PY" -c "
import socket
s = socket.socket(); s.settimeout(2)
try:
    s.connect(('192.168.81.11', 22))
except ConnectionRefusedError:
    raise SystemExit(0)	# an RST: the SYN got there
raise SystemExit(1)"
u1=$(drops nat-unsolicited)
check "the host's own packets still reach the guest" in_h ping -n -c 1 -W 2 192.168.81.11
check "the guest still reaches the WAN" ping4 "$T-g1" 10.81.1.2
kill -INT "$tpid" 2>/dev/null
wait "$tpid" 2>/dev/null
n=$(tcpdump -r "$cap" -n 2>/dev/null | wc -l)
[ "$n" = 0 ] && pass "no echo request or SYN from the WAN reached the guest (capture)" ||
	fail "the guest saw $n echo requests/SYNs from the WAN: $(tcpdump -r "$cap" -n 2>/dev/null | head -3)"
[ "$u1" -ge "$((u0 + 2))" ] && pass "refused and counted (nat-unsolicited $u0 -> $u1)" ||
	fail "nat-unsolicited did not move enough ($u0 -> $u1)"
rm -f "$cap" "$cap.err"
# a WAN host that writes a source of the network itself (another guest's
# address): refused by where it came in, not let through by its source
w1mac=$(ip -n "$H" -j link show wan1 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
udp_heard "$T-g1" 0.0.0.0 9099 3 >"$TMPDIR/forged"
sleep 0.5
u2=$(drops nat-unsolicited)
in_ns "$T-w1" "$PY" -c "
from scapy.all import Ether, IP, UDP, sendp, conf
conf.verb = 0
sendp(Ether(dst='$w1mac') / IP(src='192.168.81.99', dst='192.168.81.11') /
      UDP(sport=9099, dport=9099) / b'forged', iface='eth0', count=3)" >/dev/null 2>&1
for _ in $(seq 80); do [ -s "$TMPDIR/forged" ] && break; sleep 0.1; done
[ "$(cat "$TMPDIR/forged")" = none ] && [ "$(drops nat-unsolicited)" -gt "$u2" ] &&
	pass "forwarding on: a WAN datagram with a source of the network's own is refused (nat-unsolicited)" ||
	fail "forged source from the WAN: guest '$(cat "$TMPDIR/forged")', nat-unsolicited $u2 -> $(drops nat-unsolicited)"

# --- the host's stack never sees the fabric's mark -------------------------
# A guest's packets to the host carry none (the host's routing rules and
# firewall would see it), and a packet the host forwards into a nat
# network from another, unpeered network's guest (a DNAT of the host's,
# as libvirt users write) is as unsolicited as the WAN's: before, the
# fabric's own mark crossed the host and let it through.
in_h nft -f - <<'EOF'
table inet kvbtestmark {
	counter fabric_mark {}
	chain pre {
		type filter hook prerouting priority -400; policy accept;
		meta mark 0x6b766200-0x6b7662ff counter name fabric_mark
	}
}
table ip kvbtestdnat {
	chain pre {
		type nat hook prerouting priority -100; policy accept;
		udp dport 5514 dnat to 192.168.81.11:9098
	}
}
EOF
udp_heard "$T-g1" 0.0.0.0 9098 3 >"$TMPDIR/dnat"
sleep 0.5
u3=$(drops nat-unsolicited)
in_ns "$T-g2" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(b'through the host', ('192.168.82.1', 5514))" >/dev/null 2>&1
ping4 "$T-g2" 192.168.82.1 >/dev/null
ping4 "$T-g1" 192.168.81.1 >/dev/null
for _ in $(seq 80); do [ -s "$TMPDIR/dnat" ] && break; sleep 0.1; done
[ "$(cat "$TMPDIR/dnat")" = none ] && [ "$(drops nat-unsolicited)" -gt "$u3" ] &&
	pass "a DNAT of the host's from another network's guest into a nat network is refused (nat-unsolicited)" ||
	fail "DNAT from m's guest into n: g1 heard '$(cat "$TMPDIR/dnat")', nat-unsolicited $u3 -> $(drops nat-unsolicited)"
marked=$(in_h nft list counter inet kvbtestmark fabric_mark | awk '/packets/ {print $2}')
[ "$marked" = 0 ] && pass "no guest packet reached the host's stack with the fabric's mark" ||
	fail "the host's prerouting saw ${marked:-?} packets with the fabric's mark"
in_h nft delete table inet kvbtestmark
in_h nft delete table ip kvbtestdnat

# --- the operator's own tc filters on a WAN device --------------------------
# An ingress filter after the fabric's (an IFB for ingress shaping, a
# policer) still sees the host's traffic: the fabric hands on what is
# not its own (TC_ACT_UNSPEC) instead of ending classification with it.
ip -n "$H" link add kvbtifb type ifb && ip -n "$H" link set kvbtifb up
tc -n "$H" filter add dev wan1 ingress pref 10 protocol ip u32 match u32 0 0 \
	action mirred egress mirror dev kvbtifb
ifb_rx() { ip -n "$H" -j -s link show kvbtifb | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }
i0=$(ifb_rx)
in_ns "$T-w1" ping -n -c 5 -i 0.2 -W 1 10.81.1.1 >/dev/null
i1=$(ifb_rx)
[ "$((i1 - i0))" -ge 5 ] && pass "the operator's filter on wan1 sees the host's traffic ($((i1 - i0)) packets)" ||
	fail "the operator's filter on wan1 saw $((i1 - i0)) of the host's 5 echo requests"
check "... and the guest still reaches the WAN through wan1" ping4 "$T-g2" 10.81.1.2
tc -n "$H" filter del dev wan1 ingress pref 10
ip -n "$H" link del kvbtifb

# --- nothing left behind ----------------------------------------------------
gwif=$(show n interface)
wpid=$(cut -d" " -f1 "/run/kvmbpf/$gwif.wanwait" 2>/dev/null)
[ -n "$wpid" ] && [ -e "/proc/$wpid" ] && pass "net show: the watcher runs ($wpid)" ||
	fail "no watcher for n ('$wpid')"
# The watcher dies (killed) and its pid goes to another kvmbpf (a
# monitor, a libvirt hook's command): it is no watcher. The next changing
# command starts a watcher again, and net del leaves the other kvmbpf be.
nsenter --net="$HNS" "${K[@]}" monitor >/dev/null 2>&1 &
mon=$!
BG_PIDS+=("$mon")
for i in $(seq 100); do [ "$(cat /proc/$mon/comm 2>/dev/null)" = kvmbpf ] && break; sleep 0.05; done
kill -KILL "$wpid"
for i in $(seq 100); do [ -e "/proc/$wpid" ] || break; sleep 0.05; done
echo "$mon $(cut -d' ' -f2 "/run/kvmbpf/$gwif.wanwait")" >"/run/kvmbpf/$gwif.wanwait"
kvmbpf gc >/dev/null
wpid2=$(cut -d" " -f1 "/run/kvmbpf/$gwif.wanwait" 2>/dev/null)
[ -n "$wpid2" ] && [ "$wpid2" != "$mon" ] && [ -e "/proc/$wpid2" ] &&
	pass "a watcher whose pid another kvmbpf has now is started again ($wpid2)" ||
	fail "the watcher was not started again (run file '$wpid2', the other kvmbpf $mon)"
check "net del m" kvmbpf net del m
check "wan1 stays hooked while n needs it" hooked wan1
check "net del n" kvmbpf net del n
[ -e "/proc/$mon" ] && [ "$(cat /proc/$mon/comm 2>/dev/null)" = kvmbpf ] &&
	pass "net del left the other kvmbpf that had the old watcher's pid alone" ||
	fail "net del killed the other kvmbpf (pid $mon)"
kill "$mon" 2>/dev/null
for d in wan1 wan2 wan3; do
	check_not "net del: no filter left on $d" hooked "$d"
	check_not "net del: no clsact left on $d" sh -c "tc -n $H qdisc show dev $d | grep -q clsact"
done
for i in $(seq 50); do [ -e "/proc/$wpid" ] || break; sleep 0.1; done
check_not "net del: the watcher is gone" test -e "/proc/$wpid"
check "the host's own traffic after net del" in_h ping -n -c 1 -W 2 10.81.2.2
finish

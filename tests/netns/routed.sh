#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Routed networks end to end, IPv4 and IPv6: SLAAC from the BPF router
# advertisement, routing between peered networks and refusal between
# unpeered ones, the host both ways, a WAN namespace by routing (no NAT)
# with its return route, PMTU discovery into a narrower network, TTL and
# hop-limit expiry answered, and a routed segment behind a nat network.
#
#   r1 10.71.1.0/24 fd71:1::/64  g1 (.11, SLAAC) g2 (.12)     wan $T-w
#   r2 10.71.2.0/24 fd71:2::/64  mtu 1400  g3 (.11, SLAAC)    peered with r1
#   r3 10.71.3.0/24 fd71:3::/64  g4 (.11)                     not peered
#   n  nat 192.168.79.0/24 (wan $T-w), g6 (.11), peered with r4 10.71.4.0/24,
#      g5 (.11)
#   $T-wan ns: 10.99.3.2/24 fd99:3::2/64, routes to 10.71.0.0/16, fd71::/16;
#              10.99.9.9 fd99:9::9 on lo, which the host routes via .2/::2
source "$(dirname "$0")/lib.sh"

behind "$T-w" "$T-wan" 10.99.3.2/24 10.99.3.1/24
behind6 "$T-w" "$T-wan" fd99:3::1 fd99:3::2
in_ns "$T-wan" ip route add 10.71.0.0/16 via 10.99.3.1
in_ns "$T-wan" ip route add fd71::/16 via fd99:3::1

check "net add routed, two subnets" kvmbpf net add r1 type routed \
	subnet 10.71.1.0/24 subnet fd71:1::/64 wan "$T-w"
check "net add routed, mtu 1400" kvmbpf net add r2 type routed \
	subnet 10.71.2.0/24 subnet fd71:2::/64 gateway fd71:2::fe mtu 1400
check "net add routed (unpeered)" kvmbpf net add r3 type routed \
	subnet 10.71.3.0/24 subnet fd71:3::/64
check_not "an overlapping subnet is refused" kvmbpf net add rx type routed \
	subnet 10.71.0.0/16
check_not "a gateway outside every subnet is refused" kvmbpf net add rx \
	type routed subnet 10.72.0.0/24 gateway 10.73.0.1
check_not "peering an internal network is refused" sh -c \
	"$ROOT/build/kvmbpf --bpffs $BPFFS net add iso type internal &&
	 $ROOT/build/kvmbpf --bpffs $BPFFS net peer r1 iso"
check "net show -j: subnets, gateways, interface" "$PY" -c "
import json, subprocess
n = json.loads(subprocess.check_output(['$ROOT/build/kvmbpf', '--bpffs', '$BPFFS', '-j', 'net', 'show', 'r2']))
assert n['subnets'] == ['10.71.2.0/24', 'fd71:2::/64'], n
assert n['gateways'] == ['10.71.2.1', 'fd71:2::fe'], n
assert n['mtu'] == 1400 and n['dnsmasq_running'], n"
r1if=$(kvmbpf -j net show r1 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
check "the route table dumps with BTF (bpftool)" sh -c \
	"bpftool map dump pinned $BPFFS/kvb_route | grep -q '\"net_id\"'"
check "the gateway addresses live on the host interface" sh -c \
	"ip addr show $r1if | grep -q 10.71.1.1/24 && ip addr show $r1if | grep -q fd71:1::1/64"

# guest NS DEV NET ADDR4: a namespace guest with a static IPv4 address and
# IPv6 left to SLAAC
guest() {
	netns_add "$1"
	guest_link "$1" "$2"
	in_ns "$1" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
	ip -n "$1" addr add "$4/24" dev eth0
	ip -n "$1" route add default via "${4%.*}.1"
	kvmbpf attach "$2" net "$3" || fail "attach $2"
	# a fresh RS now that the port is attached
	ip -n "$1" link set eth0 down && ip -n "$1" link set eth0 up
	ip -n "$1" route replace default via "${4%.*}.1"
}
guest "$T-g1" "$T-g1" r1 10.71.1.11
guest "$T-g2" "$T-g2" r1 10.71.1.12
guest "$T-g3" "$T-g3" r2 10.71.2.11
guest "$T-g4" "$T-g4" r3 10.71.3.11

# addr6 NS: the SLAAC (global) address of eth0, waiting up to 5 s
addr6() {
	local i a
	for i in $(seq 50); do
		a=$(in_ns "$1" ip -6 -o addr show dev eth0 scope global | awk '{print $4}' | cut -d/ -f1 | head -1)
		[ -n "$a" ] && { echo "$a"; return 0; }
		sleep 0.1
	done
	return 1
}
a1=$(addr6 "$T-g1"); a2=$(addr6 "$T-g2"); a3=$(addr6 "$T-g3"); a4=$(addr6 "$T-g4")
mac1=$(ip -n "$T-g1" link show eth0 | awk '/ether/ {print $2}')
want1=$("$PY" -c "
import ipaddress, sys
m = [int(x, 16) for x in '$mac1'.split(':')]
iid = bytes([m[0] ^ 2, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]])
print(ipaddress.IPv6Address(ipaddress.IPv6Address('fd71:1::').packed[:8] + iid))")
[ "$a1" = "$want1" ] && pass "SLAAC: g1 configured $a1 from the RA" ||
	fail "SLAAC: g1 has '$a1', expected $want1"
check "SLAAC: a default route via the gateway's link-local" sh -c \
	"ip -n $T-g1 -6 route show default | grep -q 'via fe80::'"
check "the RA carries the network's MTU (r2: 1400)" sh -c \
	"[ \"\$(ip netns exec $T-g3 cat /proc/sys/net/ipv6/conf/eth0/mtu)\" = 1400 ]"

check "g1 pings its gateway (IPv4, BPF)" ping4 "$T-g1" 10.71.1.1
check "g1 pings its gateway (IPv6)" ping6 "$T-g1" fd71:1::1
check "g1 pings its gateway with 3000 bytes (fragments: the host answers)" \
	in_ns "$T-g1" ping -n -c 2 -i 0.3 -s 3000 -W 2 10.71.1.1
check "g1 pings its gateway with 3000 bytes over IPv6 (fragments)" \
	in_ns "$T-g1" ping -6 -n -c 2 -i 0.3 -s 3000 -W 2 fd71:1::1
check "g1 reaches g2 (IPv4)" ping4 "$T-g1" 10.71.1.12
check "g1 reaches g2 (IPv6)" ping6 "$T-g1" "$a2"
check "TCP g2 -> g1 in one network (IPv6, 4 MiB, sha256)" tcp_sha "$T-g2" "$T-g1" "$a1" 4
# isolation holds through the gateway too: an isolated g2 that routes its
# neighbour's address via the gateway's MAC still does not reach it
ip -n "$T-g2" route add 10.71.1.11/32 via 10.71.1.1
check "port set g2 isolated on" kvmbpf port set "$T-g2" isolated on
check_not "isolated g2 cannot reach g1 through the gateway" ping4 "$T-g2" 10.71.1.11
check "isolated g2 still reaches its gateway" ping4 "$T-g2" 10.71.1.1
[ "$(stat "$T-g2" isolated)" -ge 1 ] && pass "counted as isolated" || fail "isolated not counted"
ip -n "$T-g2" route del 10.71.1.11/32
# ... and a normal g1 that routes isolated g2's address via the gateway does
# not reach g2 either: neither while the host still has to resolve g2 (the
# packet goes through the host's interface, marked as a guest's) nor once
# the host knows g2's MAC (straight to the port)
ip -n "$T-g1" route add 10.71.1.12/32 via 10.71.1.1
ip neigh flush dev "$r1if" to 10.71.1.12
e0=$(icmp_in_echos "$T-g2")
check_not "g1 cannot reach isolated g2 through the gateway (host resolving)" \
	ping4 "$T-g1" 10.71.1.12
ip neigh replace 10.71.1.12 lladdr "$(ip -n "$T-g2" -br link show eth0 | awk '{print $3}')" dev "$r1if"
check_not "g1 cannot reach isolated g2 through the gateway (host knows g2)" \
	ping4 "$T-g1" 10.71.1.12
[ "$(icmp_in_echos "$T-g2")" = "$e0" ] && pass "isolated g2 received none of them" ||
	fail "isolated g2 received echo requests through the gateway"
[ "$(stat "$T-g1" isolated)" -ge 1 ] && pass "refused at g1's port: counted" ||
	fail "isolated not counted on g1"
ip -n "$T-g1" route del 10.71.1.12/32
ip neigh del 10.71.1.12 dev "$r1if"
kvmbpf port set "$T-g2" isolated off
check_not "r1 and r2 unpeered: g1 cannot reach g3" ping4 "$T-g1" 10.71.2.11
check "net peer r1 r2" kvmbpf net peer r1 r2
check "peered: g1 reaches g3 (IPv4)" ping4 "$T-g1" 10.71.2.11
check "peered: g1 reaches g3 (IPv6)" ping6 "$T-g1" "$a3"
check "peered: g1 reaches the host's address in r2" ping4 "$T-g1" 10.71.2.1
check "peered: g3 reaches g2 (IPv6)" ping6 "$T-g3" "$a2"
check "peered: TCP g1 -> g3 (IPv4, 4 MiB, sha256, PMTU 1400)" tcp_sha "$T-g1" "$T-g3" 10.71.2.11 4
check "peered: TCP g3 -> g1 (IPv6, 4 MiB, sha256)" tcp_sha "$T-g3" "$T-g1" "$a1" 4
check "peered: TCP g1 -> g3 (IPv6, 4 MiB, sha256, PMTU 1400)" tcp_sha "$T-g1" "$T-g3" "$a3" 4
np0=$(stat "$T-g1" not-peered)
check_not "unpeered r3: g1 cannot reach g4 (IPv4)" ping4 "$T-g1" 10.71.3.11
check_not "unpeered r3: g1 cannot reach g4 (IPv6)" ping6 "$T-g1" "$a4"
check_not "unpeered r3: g4 cannot reach g1" ping4 "$T-g4" 10.71.1.11
[ "$(stat "$T-g1" not-peered)" -ge $((np0 + 2)) ] && pass "refusals counted as not-peered" ||
	fail "not-peered: $np0 -> $(stat "$T-g1" not-peered)"
check "net unpeer r1 r2: isolated again" sh -c \
	"$ROOT/build/kvmbpf --bpffs $BPFFS net unpeer r1 r2 &&
	 ! ip netns exec $T-g1 ping -n -c 1 -W 1 10.71.2.11 &&
	 $ROOT/build/kvmbpf --bpffs $BPFFS net peer r1 r2"

check "host reaches g1 (IPv4)" ping -n -c 1 -W 2 10.71.1.11
check "host reaches g1 (IPv6)" ping -6 -n -c 1 -W 2 "$a1"
check "g1 reaches the host's other address" ping4 "$T-g1" 10.99.3.1

# An operator's route through another network's guest (a VM routing a
# subnet of its own, its containers', say) or straight onto another
# network's interface: the host would forward there, the fabric does not
# between networks that are not peered. Peered r2 (g3) gets the same
# routes as the control; each guest answers on lo, its port a router's
# (spoofcheck off), as the README says.
kvmbpf port set "$T-g3" spoofcheck off
kvmbpf port set "$T-g4" spoofcheck off
r3if=$(kvmbpf -j net show r3 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
in_ns "$T-g3" ip addr add 172.31.98.1/32 dev lo
in_ns "$T-g3" ip addr add fd72:98::1/128 dev lo
in_ns "$T-g4" ip addr add 172.31.99.1/32 dev lo
in_ns "$T-g4" ip addr add 172.31.97.1/32 dev lo
in_ns "$T-g4" ip addr add fd72:99::1/128 dev lo
ip route add 172.31.98.0/24 via 10.71.2.11
ip -6 route add fd72:98::/64 via "$a3"
ip route add 172.31.99.0/24 via 10.71.3.11
ip route add 172.31.97.0/24 dev "$r3if"
ip -6 route add fd72:99::/64 via "$a4"
check "peered: g1 reaches a subnet routed via g3 (IPv4)" ping4 "$T-g1" 172.31.98.1
check "peered: g1 reaches a subnet routed via g3 (IPv6)" ping6 "$T-g1" fd72:98::1
np0=$(stat "$T-g1" not-peered)
e0=$(icmp_in_echos "$T-g4")
in_ns "$T-g1" ping -n -c 2 -i 0.2 -W 1 172.31.99.1 >/dev/null
in_ns "$T-g1" ping -n -c 2 -i 0.2 -W 1 172.31.97.1 >/dev/null
[ "$(icmp_in_echos "$T-g4")" = "$e0" ] &&
	pass "unpeered r3: nothing from g1 reaches g4 by a host route via g4 or onto r3's interface" ||
	fail "g4 received $(($(icmp_in_echos "$T-g4") - e0)) echo requests from g1 by a host route"
# (IPv6 echo requests: the namespace's Icmp6InEchos)
e6=$(in_ns "$T-g4" awk '$1 == "Icmp6InEchos" {print $2}' /proc/net/snmp6)
in_ns "$T-g1" ping -6 -n -c 2 -i 0.2 -W 1 fd72:99::1 >/dev/null
[ "$(in_ns "$T-g4" awk '$1 == "Icmp6InEchos" {print $2}' /proc/net/snmp6)" = "$e6" ] &&
	pass "unpeered r3: nor IPv6 by a host route via g4" ||
	fail "g4 received IPv6 echo requests from g1 by a host route"
[ "$(stat "$T-g1" not-peered)" -ge $((np0 + 6)) ] && pass "host-routed refusals counted as not-peered" ||
	fail "not-peered: $np0 -> $(stat "$T-g1" not-peered)"
check "the host itself still reaches g4 by its route" ping -n -c 1 -W 2 172.31.99.1
ip route del 172.31.98.0/24; ip route del 172.31.99.0/24; ip route del 172.31.97.0/24
ip -6 route del fd72:98::/64; ip -6 route del fd72:99::/64
kvmbpf port set "$T-g3" spoofcheck on
kvmbpf port set "$T-g4" spoofcheck on

# One guest on two networks (a port each): g4's namespace gets a second
# NIC on r1, and reaches both sides without r1 and r3 being peered.
ip link add "$T-g4b" type veth peer name eth1 netns "$T-g4" && LINK_LIST+=("$T-g4b")
sysctl -qw net.ipv6.conf."$T-g4b".disable_ipv6=1
ip link set "$T-g4b" up && ip -n "$T-g4" link set eth1 up
ip -n "$T-g4" addr add 10.71.1.44/24 dev eth1
check "a guest on two networks: attach its second NIC" kvmbpf attach "$T-g4b" net r1
check "a guest on two networks reaches r1's guests" ping4 "$T-g4" 10.71.1.11
check "... and r3's gateway" ping4 "$T-g4" 10.71.3.1
check_not "... without joining r1 and r3 (g1 still cannot reach g4)" ping4 "$T-g1" 10.71.3.11

# PMTU: r2 is narrower; the gateway answers too-big in BPF
out=$(in_ns "$T-g1" ping -n -c 1 -W 2 -M do -s 1472 10.71.2.11 2>&1)
echo "$out" | grep -q "mtu = 1400\|mtu=1400" && pass "frag needed from the gateway (mtu 1400)" ||
	fail "no frag-needed: $out"
out=$(in_ns "$T-g1" ping -6 -n -c 1 -W 2 -M do -s 1452 "$a3" 2>&1)
echo "$out" | grep -qi "mtu = 1400\|mtu=1400\|too big" && pass "packet too big from the gateway (IPv6)" ||
	fail "no packet-too-big: $out"
check "after PMTU discovery, full-size pings fit" in_ns "$T-g1" ping -n -c 1 -W 2 -s 1372 -M do 10.71.2.11

# a guest whose IPv6 link is longer than its network (g3 at 1500 over
# r2's 1400, reading no MTU from router advertisements: NetworkManager's
# manual IPv6, accept_ra_mtu=0): what it sends too long is answered
# packet too big, 1400, from its gateway, counted too-big, and its TCP
# finds the path MTU (before: dropped mtu-exceeded, never told: its TCP
# upload stalled for good)
in_ns "$T-g3" sysctl -qw net.ipv6.conf.eth0.accept_ra_mtu=0 net.ipv6.conf.eth0.mtu=1500
# its default route made again at 1500 (the router advertisement's took
# the network's 1400), without the path MTU learnt above
gw3=$(ip -n "$T-g3" -6 route show default | awk '{print $3; exit}')
ip -n "$T-g3" -6 route replace default via "$gw3" dev eth0 mtu 1500
tb0=$(stat "$T-g3" too-big)
out=$(in_ns "$T-g3" ping -6 -n -c 1 -W 2 -M do -s 1452 "$a1" 2>&1)
echo "$out" | grep -q "From fd71:2::fe.*[Tt]oo big.*mtu=1400\|From fd71:2::fe.*mtu = 1400" &&
	pass "g3 (IPv6 link 1500, network 1400): packet too big from the gateway, 1400" ||
	fail "g3 at 1500: no packet too big from fd71:2::fe: $out"
tb1=$(stat "$T-g3" too-big)
[ "$tb1" -gt "$tb0" ] && pass "... counted too-big on g3's port" ||
	fail "... too-big on g3's port: $tb0 -> $tb1"
# g1's path MTU to g3 (learnt above) would make it ask g3 for 1340-byte
# segments: forgotten, so that g3 sends 1500
in_ns "$T-g1" ip -6 route flush cache 2>/dev/null
in_ns "$T-g3" ip -6 route flush cache 2>/dev/null
m0=$(stat "$T-g3" mtu-exceeded)
check "... its TCP finds the path MTU: g3 -> g1 (IPv6, 4 MiB, sha256)" tcp_sha "$T-g3" "$T-g1" "$a1" 4
[ "$(stat "$T-g3" too-big)" -gt "$tb1" ] && pass "... its TCP was told too (too-big counted)" ||
	fail "... its TCP: too-big $tb1 -> $(stat "$T-g3" too-big), mtu-exceeded $m0 -> $(stat "$T-g3" mtu-exceeded)"
in_ns "$T-g3" sysctl -qw net.ipv6.conf.eth0.mtu=1400 net.ipv6.conf.eth0.accept_ra_mtu=1
ip -n "$T-g3" -6 route replace default via "$gw3" dev eth0 proto ra

# TTL / hop limit
out=$(in_ns "$T-g1" ping -n -c 1 -W 2 -t 1 10.71.2.11 2>&1)
echo "$out" | grep -q "From 10.71.1.1.*Time to live exceeded" && pass "TTL expiry answered by the gateway" ||
	fail "no time exceeded: $out"
out=$(in_ns "$T-g1" ping -6 -n -c 1 -W 2 -t 1 "$a3" 2>&1)
echo "$out" | grep -qi "From fd71:1::1.*Time exceeded" && pass "hop-limit expiry answered (IPv6)" ||
	fail "no ICMPv6 time exceeded: $out"
[ "$(stat "$T-g1" ttl-exceeded)" -ge 2 ] && pass "expiries counted as ttl-exceeded" ||
	fail "ttl-exceeded not counted"

# The outside, by routing (no NAT), and back through the WAN device
check "g1 reaches the WAN (IPv4)" ping4 "$T-g1" 10.99.3.2
check "g1 reaches the WAN (IPv6)" ping6 "$T-g1" fd99:3::2
# forwarding off on the network's interface (what a host-wide write of
# the forwarding sysctls does to it): the host's choice stands, counted
# forwarding-off as a nat network's, not no-route; on again, it leaves
r1gw=$(kvmbpf -j net show r1 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
fw4=$(sysctl -n "net.ipv4.conf.$r1gw.forwarding")
fw6=$(sysctl -n "net.ipv6.conf.$r1gw.forwarding")
sysctl -qw "net.ipv4.conf.$r1gw.forwarding=0" "net.ipv6.conf.$r1gw.forwarding=0"
f0=$(stat "$T-g1" forwarding-off)
check_not "forwarding off on $r1gw: g1's IPv4 does not leave" ping4 "$T-g1" 10.99.3.2
check_not "forwarding off on $r1gw: g1's IPv6 does not leave" ping6 "$T-g1" fd99:3::2
f1=$(stat "$T-g1" forwarding-off)
[ "$f1" -ge "$((f0 + 2))" ] && pass "... counted forwarding-off ($f0 -> $f1)" ||
	fail "... forwarding-off $f0 -> $f1, no-route $(stat "$T-g1" no-route)"
sysctl -qw "net.ipv4.conf.$r1gw.forwarding=$fw4" "net.ipv6.conf.$r1gw.forwarding=$fw6"
check "forwarding on again: g1 reaches the WAN (IPv4)" ping4 "$T-g1" 10.99.3.2
check "forwarding on again: g1 reaches the WAN (IPv6)" ping6 "$T-g1" fd99:3::2
check "the WAN reaches g1 by its route (IPv4)" ping4 "$T-wan" 10.71.1.11
check "the WAN reaches g1 by its route (IPv6)" ping6 "$T-wan" "$a1"
peer=$(seen_from "$T-wan" 10.99.3.2 8089 "$T-g1")
[ "$peer" = 10.71.1.11 ] && pass "the WAN sees the guest's own address" ||
	fail "the WAN saw '$peer'"
check "TCP g1 -> WAN (IPv6, 4 MiB, sha256)" tcp_sha "$T-g1" "$T-wan" fd99:3::2 4
check "TCP WAN -> g1 (IPv4, 4 MiB, sha256)" tcp_sha "$T-wan" "$T-g1" 10.71.1.11 4

# Forged sources from the WAN: the kernel's forwarding would drop these
# (martian sources, the host's own addresses, no route back) and no WAN
# host can have a guest's or a gateway's address; routed in by BPF,
# they were delivered, and the guest answered the gateway or the host.
# Echo requests with one identifier, each a source; a capture on g1
# sees only the WAN host's own, and the rest are spoof-ip on the WAN.
scratch
wmac=$(cat /sys/class/net/"$T-w"/address)
sp0=$(stat "$T-w" spoof-ip)
in_ns "$T-g1" timeout 8 tcpdump -U -n -Q in -i eth0 -w "$TMP/forged.pcap" \
	'(icmp and icmp[icmptype] == 8) or (icmp6 and ip6[40] == 128)' \
	>/dev/null 2>&1 & tpid=$!
sleep 1.5
in_ns "$T-wan" "$PY" -c "
from scapy.all import Ether, IP, IPv6, ICMP, ICMPv6EchoRequest, sendp, conf
conf.verb = 0
e = Ether(dst='$wmac')
forged4 = ['10.71.1.1', '10.71.1.12', '10.71.2.11', '10.99.3.1', '127.0.0.1',
           '0.0.0.0', '224.0.0.5', '255.255.255.255']
forged6 = ['fd71:1::1', 'fd71:2::11', 'fd99:3::1', '::', '::1',
           '::ffff:10.99.3.2', 'fe80::1', 'ff02::1']
for i, src in enumerate(['10.99.3.2'] + forged4):
    sendp(e / IP(src=src, dst='10.71.1.11') / ICMP(id=0x7a7a, seq=i), iface='eth0')
for i, src in enumerate(['fd99:3::2'] + forged6):
    sendp(e / IPv6(src=src, dst='$a1') / ICMPv6EchoRequest(id=0x7a7a, seq=i),
          iface='eth0')"
sleep 1
kill "$tpid" 2>/dev/null
wait "$tpid" 2>/dev/null
seen=$(tcpdump -n -r "$TMP/forged.pcap" 2>/dev/null |
	awk '/IP6? /{print $3}' | sort -u | tr '\n' ' ')
[ "$seen" = "10.99.3.2 fd99:3::2 " ] &&
	pass "forged WAN sources never reach a routed guest (only the WAN host's own: $seen)" ||
	fail "forged WAN sources: g1 saw echo requests from '$seen' (want '10.99.3.2 fd99:3::2 ')"
sp1=$(stat "$T-w" spoof-ip)
[ $((sp1 - sp0)) -ge 16 ] &&
	pass "... counted as spoof-ip on the WAN (+$((sp1 - sp0)))" ||
	fail "... spoof-ip on the WAN +$((sp1 - sp0)), want 16"

# A WAN address beyond a gateway (the host routes it through the WAN
# namespace, which answers ARP and ND on eth0 only for eth0's addresses):
# the packet goes to the next hop the FIB names, not to its destination
# as if on the link, and a changed route counts from the next packet
in_ns "$T-wan" sysctl -qw net.ipv4.conf.all.arp_ignore=1
in_ns "$T-wan" ip addr add 10.99.9.9/32 dev lo
in_ns "$T-wan" ip addr add fd99:9::9/128 dev lo
ip route add 10.99.9.9/32 via 10.99.3.2 dev "$T-w"
ip -6 route add fd99:9::9/128 via fd99:3::2 dev "$T-w"
check "g1 reaches a WAN address through its gateway (IPv4)" ping4 "$T-g1" 10.99.9.9
check "g1 reaches a WAN address through its gateway (IPv6)" ping6 "$T-g1" fd99:9::9
ip route replace 10.99.9.9/32 via 10.99.3.7 dev "$T-w"
ip -6 route replace fd99:9::9/128 via fd99:3::7 dev "$T-w"
check_not "routed to a gateway nobody answers for: lost at once (IPv4)" \
	ping4 "$T-g1" 10.99.9.9
check_not "routed to a gateway nobody answers for: lost at once (IPv6)" \
	ping6 "$T-g1" fd99:9::9
ip route replace 10.99.9.9/32 via 10.99.3.2 dev "$T-w"
ip -6 route replace fd99:9::9/128 via fd99:3::2 dev "$T-w"
check "the route back: reached again (IPv4)" ping4 "$T-g1" 10.99.9.9
check "the route back: reached again (IPv6)" ping6 "$T-g1" fd99:9::9

# A private routed segment behind a nat network: out translated, not in
check "net add nat n, routed r4, peer them" sh -c "
	$ROOT/build/kvmbpf --bpffs $BPFFS net add n type nat subnet 192.168.79.0/24 wan $T-w dhcp off &&
	$ROOT/build/kvmbpf --bpffs $BPFFS net add r4 type routed subnet 10.71.4.0/24 &&
	$ROOT/build/kvmbpf --bpffs $BPFFS net peer r4 n"
guest "$T-g5" "$T-g5" r4 10.71.4.11
check "behind nat: g5 reaches the WAN" ping4 "$T-g5" 10.99.3.2
peer=$(seen_from "$T-wan" 10.99.3.2 8090 "$T-g5")
[ "$peer" = 10.99.3.1 ] && pass "behind nat: the WAN sees the translated address" ||
	fail "behind nat: the WAN saw '$peer'"
check_not "behind nat: the WAN cannot reach g5" ping4 "$T-wan" 10.71.4.11
# unpeered, g5's flows through n are no port's of it: they go, counted
# down in n (its echo and TCP flows above are within their timeouts)
nflows() { kvmbpf -j net show n | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["ct_count"])'; }
nct() { kvmbpf -j ct show net n | "$PY" -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
f0=$(nflows) c0=$(nct)
check "net unpeer r4 n" kvmbpf net unpeer r4 n
f1=$(nflows) c1=$(nct)
[ "$f0" -ge 1 ] && [ "$c0" -ge 1 ] && [ "$f1" = 0 ] && [ "$c1" = 0 ] &&
	pass "unpeered: g5's flows through n gone (count $f0 -> $f1, ct show $c0 -> $c1)" ||
	fail "unpeered: n's flows count $f0 -> $f1, ct show $c0 -> $c1 (want >= 1 -> 0)"
check "net peer r4 n again" kvmbpf net peer r4 n
check "behind nat again: g5 reaches the WAN" ping4 "$T-g5" 10.99.3.2
# hairpin from behind the nat network: g5 reaches a forward of n through
# n's WAN address, as n's own guests do (from n's gateway, so that g6
# answers through the fabric); before, the host's own port 8091 answered
guest "$T-g6" "$T-g6" n 192.168.79.11
check "port set g6 ip 192.168.79.11" kvmbpf port set "$T-g6" ip 192.168.79.11
check "forward add n tcp 8091 to g6:80" kvmbpf forward add n proto tcp port 8091 to 192.168.79.11:80
peer=$(seen_from "$T-g6" 192.168.79.11 80 "$T-g5" 10.99.3.1 8091)
[ "$peer" = 192.168.79.1 ] &&
	pass "behind nat: g5 reaches n's forward through the WAN address (hairpin), g6 sees n's gateway" ||
	fail "behind nat: hairpin to 10.99.3.1:8091: g6 saw '$peer'"
# g5's port unreachable about g6's answer (g5's socket closed since) goes
# back through the hairpin to g6's socket (before: dropped nat-protocol)
check "forward add n udp 8092 to g6:9000" kvmbpf forward add n proto udp port 8092 to 192.168.79.11:9000
in_ns "$T-g6" timeout 8 "$PY" -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 9000)); s.settimeout(5)
d, peer = s.recvfrom(100)
time.sleep(0.5)
s.connect(peer); s.send(b'answer')
try:
    s.recv(100)
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('timeout')" >"$TMP/hp_err" 2>&1 &
sleep 0.5
in_ns "$T-g5" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'ask', ('10.99.3.1', 8092)); s.close()"
wait
[ "$(cat "$TMP/hp_err")" = refused ] &&
	pass "behind nat: g5's port unreachable about g6's hairpin answer reaches g6's socket" ||
	fail "behind nat: g6's socket after g5 closed: '$(cat "$TMP/hp_err")'"
# traceroute's first hop through the nat network: time exceeded from
# g5's own gateway (before, the frame went up g5's port uncounted)
ttl0=$(stat "$T-g5" ttl-exceeded)
out=$(in_ns "$T-g5" ping -n -c 1 -W 2 -t 1 10.99.3.2 2>&1)
grep -q "From 10.71.4.1 .*Time to live exceeded" <<<"$out" &&
	pass "behind nat: TTL 1 out is answered time exceeded by g5's gateway" ||
	fail "behind nat: TTL 1: '$out'"
[ "$(stat "$T-g5" ttl-exceeded)" -gt "$ttl0" ] && pass "... counted ttl-exceeded on g5's port" ||
	fail "... ttl-exceeded not counted ($ttl0)"

# Identity: a routed guest sends only from its network's addresses
check_not "spoofed IPv4 source outside the subnets is dropped" sh -c "
	ip -n $T-g2 addr add 10.71.9.9/32 dev eth0 &&
	ip netns exec $T-g2 ping -n -c 1 -W 1 -I 10.71.9.9 10.71.1.1"
[ "$(stat "$T-g2" spoof-ip)" -ge 1 ] && pass "counted as spoof-ip" || fail "spoof-ip not counted"

check "net show -j: nat and routed networks use the same keys" "$PY" -c "
import json, subprocess
ns = {n['name']: n for n in json.loads(subprocess.check_output(['$ROOT/build/kvmbpf', '--bpffs', '$BPFFS', '-j', 'net', 'show']))}
nat, routed = ns['n'], ns['r4']
for k in ('subnets', 'gateways', 'interface', 'wan', 'force', 'peers', 'mtu', 'uplink', 'ports'):
    assert k in nat and k in routed, k
    assert type(nat[k]) == type(routed[k]) or None in (nat[k], routed[k]), k
assert nat['subnets'] == ['192.168.79.0/24'] and nat['gateways'] == ['192.168.79.1'], nat
assert nat['uplink'] is None and routed['uplink'] is None, (nat, routed)"
# save / load keeps subnets, gateways, the WAN device and the peerings
saved=$(mktemp) again=$(mktemp)
kvmbpf save >"$saved"
check "save: a routed network's line" grep -q \
	"^net add r2 type routed subnet 10.71.2.0/24 subnet fd71:2::/64 gateway 10.71.2.1 gateway fd71:2::fe mtu 1400$" "$saved"
check "save: the peerings" sh -c "grep -q '^net peer r1 r2$' $saved && grep -q '^net peer n r4$' $saved"
gw_mac() { # NET: its gateway interface's MAC
	cat "/sys/class/net/$(kvmbpf -j net show "$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')/address"
}
m1=$(gw_mac r1)
check "reset, load: the same configuration" bash -c "
	$ROOT/build/kvmbpf --bpffs $BPFFS reset && $ROOT/build/kvmbpf --bpffs $BPFFS load $saved >/dev/null &&
	$ROOT/build/kvmbpf --bpffs $BPFFS save | grep -v '^#' | diff - <(grep -v '^#' $saved)"
# the gateway's MAC is its network name's: a running guest's neighbour
# entry for it still holds (before, a new random one cost guests 15 s
# and more, until their entries went stale)
[ "$(gw_mac r1)" = "$m1" ] && pass "reset, load: the gateway keeps its MAC ($m1)" ||
	fail "reset, load: the gateway's MAC $m1 became $(gw_mac r1)"
check "reset, load: g1 reaches g3 at once, its neighbour entries kept" \
	in_ns "$T-g1" ping -n -c 1 -W 1 10.71.2.11
rm -f "$saved" "$again"

check "net del removes the peering and the routes (the subnet is free)" sh -c "
	$ROOT/build/kvmbpf --bpffs $BPFFS net del r2 &&
	! $ROOT/build/kvmbpf --bpffs $BPFFS -j net show r1 | grep -q '\"r2\"' &&
	$ROOT/build/kvmbpf --bpffs $BPFFS net add r2b type routed subnet 10.71.2.0/24"
finish

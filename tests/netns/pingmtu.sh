#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ping -M do (DF set, IPv6 never fragments) with sizes around the MTU
# through every network type, IPv4 and IPv6: what fits passes, one byte
# more is refused where it should be:
#   - bridge and internal (L2, no router): by the guest's own stack (the
#     guest's MTU is the network's), never by a silent drop;
#   - nat and routed: the WAN link beyond the host is narrower (1400):
#     fragmentation needed / packet too big from the network's gateway
#     with that MTU, which the guest then keeps (its next try is refused
#     locally); a routed network to a peered one with mtu 1280 alike.
#
#   root ns: $T-w 10.88.9.1/24 fd99:88::1/64, mtu 1400
#   $T-wan ns: 10.88.9.2/24 fd99:88::2/64 mtu 1400, routes back to the guests
#   bridge b: g1 g2 10.88.5.11/.12 fd88:5::11/12; internal i: g3 g4 (10.88.6.x)
#   nat n: 192.168.89.0/24 fd88:1::/64 (dhcp off): g5 .11 ::11
#   routed r: 10.88.2.0/24 fd88:2::/64: g6; routed s (mtu 1280, peered): g7
#   routed u: 10.88.4.0/24 fd88:4::/64 mtu 1300, wan $T-w: g8
# and from the WAN into u, narrower than the WAN link: too big, and a TTL
# that runs out at the host, answered from u's gateway (the host does not
# forward there: the fabric's own answer, not the host's stack's).
source "$(dirname "$0")/lib.sh"

behind "$T-w" "$T-wan" 10.88.9.2/24 10.88.9.1/24
sysctl -qw net.ipv6.conf."$T-w".disable_ipv6=0
ip link set "$T-w" mtu 1400
ip -n "$T-wan" link set eth0 mtu 1400
ip addr add fd99:88::1/64 dev "$T-w" nodad
ip -n "$T-wan" addr add fd99:88::2/64 dev eth0 nodad
in_ns "$T-wan" ip route add 10.88.0.0/16 via 10.88.9.1
in_ns "$T-wan" ip route add fd88::/16 via fd99:88::1

check "net add bridge" kvmbpf net add b type bridge
check "net add internal" kvmbpf net add i type internal
check "net add nat" kvmbpf net add n type nat subnet 192.168.89.0/24 \
	subnet fd88:1::/64 wan "$T-w" dhcp off
check "net add routed" kvmbpf net add r type routed subnet 10.88.2.0/24 \
	subnet fd88:2::/64 wan "$T-w"
check "net add routed, mtu 1280" kvmbpf net add s type routed \
	subnet 10.88.3.0/24 subnet fd88:3::/64 mtu 1280
check "net peer r s" kvmbpf net peer r s
check "net add routed, mtu 1300, wan" kvmbpf net add u type routed \
	subnet 10.88.4.0/24 subnet fd88:4::/64 mtu 1300 wan "$T-w"
static_guest "$T-g1" b 10.88.5.11 fd88:5::11
static_guest "$T-g2" b 10.88.5.12 fd88:5::12
static_guest "$T-g3" i 10.88.6.11 fd88:6::11
static_guest "$T-g4" i 10.88.6.12 fd88:6::12
static_guest "$T-g5" n 192.168.89.11 fd88:1::11
static_guest "$T-g6" r 10.88.2.11 fd88:2::11
static_guest "$T-g7" s 10.88.3.11 fd88:3::11 1280
static_guest "$T-g8" u 10.88.4.11 fd88:4::11 1300

# pm NS DST SIZE: ping -M do with SIZE bytes of payload, its output
pm() {
	local fam=-4
	[[ $2 == *:* ]] && fam=-6
	in_ns "$1" ping $fam -n -c 1 -W 2 -M do -s "$3" "$2" 2>&1
}
fits() {	# NAME NS DST SIZE: one reply
	local out
	out=$(pm "$2" "$3" "$4")
	grep -q ' 1 received' <<<"$out" && pass "$1: $4 bytes pass" || fail "$1: $4 bytes: $(tr '\n' '|' <<<"$out")"
}
local_err() {	# NAME NS DST SIZE MTU: refused by the guest's stack
	local out
	out=$(pm "$2" "$3" "$4")
	grep -qi "message too long" <<<"$out" && ! grep -q '^From ' <<<"$out" &&
		pass "$1: $4 bytes refused by the guest's stack" ||
		fail "$1: $4 bytes: $(tr '\n' '|' <<<"$out")"
}
too_big() {	# NAME NS DST SIZE MTU FROM: the error from FROM with MTU
	local out
	out=$(pm "$2" "$3" "$4")
	if grep -Eq "^From $6 icmp_seq=1 (Frag needed and DF set \(mtu = $5\)|Packet too big: mtu=$5)" <<<"$out"; then
		pass "$1: $4 bytes: too big from $6, mtu $5"
	else
		fail "$1: $4 bytes, want too big from $6 mtu $5: $(tr '\n' '|' <<<"$out")"
		return
	fi
	out=$(pm "$2" "$3" "$4")
	grep -qi "message too long" <<<"$out" && grep -Eqi "mtu[=: ]+$5" <<<"$out" &&
		pass "$1: the guest keeps path MTU $5" || fail "$1: again: $(tr '\n' '|' <<<"$out")"
}

check "bridge: g1 reaches g2" ping4 "$T-g1" 10.88.5.12
fits "bridge IPv4" "$T-g1" 10.88.5.12 1472
local_err "bridge IPv4" "$T-g1" 10.88.5.12 1473
fits "bridge IPv6" "$T-g1" fd88:5::12 1452
local_err "bridge IPv6" "$T-g1" fd88:5::12 1453
fits "internal IPv4" "$T-g3" 10.88.6.12 1472
local_err "internal IPv4" "$T-g3" 10.88.6.12 1473
fits "internal IPv6" "$T-g3" fd88:6::12 1452
local_err "internal IPv6" "$T-g3" fd88:6::12 1453

fits "nat IPv4 to the gateway" "$T-g5" 192.168.89.1 1472
fits "nat IPv4 to the WAN" "$T-g5" 10.88.9.2 1372
too_big "nat IPv4 to the WAN" "$T-g5" 10.88.9.2 1373 1400 192.168.89.1
fits "nat IPv6 to the WAN" "$T-g5" fd99:88::2 1352
too_big "nat IPv6 to the WAN" "$T-g5" fd99:88::2 1353 1400 fd88:1::1
fits "routed IPv4 to the WAN" "$T-g6" 10.88.9.2 1372
too_big "routed IPv4 to the WAN" "$T-g6" 10.88.9.2 1373 1400 10.88.2.1
fits "routed IPv6 to the WAN" "$T-g6" fd99:88::2 1352
too_big "routed IPv6 to the WAN" "$T-g6" fd99:88::2 1353 1400 fd88:2::1
fits "routed IPv4 to the peered mtu-1280 network" "$T-g6" 10.88.3.11 1252
too_big "routed IPv4 to the peered mtu-1280 network" "$T-g6" 10.88.3.11 1253 1280 10.88.2.1
fits "routed IPv6 to the peered mtu-1280 network" "$T-g6" fd88:3::11 1232
too_big "routed IPv6 to the peered mtu-1280 network" "$T-g6" fd88:3::11 1233 1280 fd88:2::1
fits "routed mtu 1280: IPv4 back at its MTU" "$T-g7" 10.88.2.11 1252
fits "routed mtu 1280: IPv6 back at its MTU" "$T-g7" fd88:2::11 1232

# From the WAN (the host forwards nothing there: the answers are the fabric's)
in_ns "$T-wan" ip route flush cache
in_ns "$T-wan" ip -6 route flush cache
tb0=$(stat "$T-w" too-big) tt0=$(stat "$T-w" ttl-exceeded)
fits "WAN -> routed mtu 1300, IPv4" "$T-wan" 10.88.4.11 1272
too_big "WAN -> routed mtu 1300, IPv4" "$T-wan" 10.88.4.11 1273 1300 10.88.4.1
fits "WAN -> routed mtu 1300, IPv6" "$T-wan" fd88:4::11 1252
too_big "WAN -> routed mtu 1300, IPv6" "$T-wan" fd88:4::11 1253 1300 fd88:4::1
out=$(in_ns "$T-wan" ping -4 -n -c 1 -W 2 -t 1 10.88.4.11 2>&1)
grep -q "^From 10.88.4.1 icmp_seq=1 Time to live exceeded" <<<"$out" &&
	pass "WAN -> routed, TTL 1: time exceeded from 10.88.4.1" ||
	fail "WAN -> routed, TTL 1: $(tr '\n' '|' <<<"$out")"
out=$(in_ns "$T-wan" ping -6 -n -c 1 -W 2 -t 1 fd88:4::11 2>&1)
grep -q "^From fd88:4::1 icmp_seq=1 Time exceeded: Hop limit" <<<"$out" &&
	pass "WAN -> routed, hop limit 1: time exceeded from fd88:4::1" ||
	fail "WAN -> routed, hop limit 1: $(tr '\n' '|' <<<"$out")"
tb1=$(stat "$T-w" too-big) tt1=$(stat "$T-w" ttl-exceeded)
[ "$tb1" -ge $((tb0 + 2)) ] && [ "$tt1" -ge $((tt0 + 2)) ] &&
	pass "the WAN port counts them: too-big $tb0 -> $tb1, ttl-exceeded $tt0 -> $tt1" ||
	fail "the WAN port's counts: too-big $tb0 -> $tb1, ttl-exceeded $tt0 -> $tt1"
finish

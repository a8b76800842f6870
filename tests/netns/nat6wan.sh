#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# IPv6 of a nat network with `wan wan1` goes out and comes in by wan1 only,
# also on a host that forwards IPv6 (net.ipv6.conf.all.forwarding=1, set in
# the test's own "host" namespace): the IPv6 subnets are routed, not
# translated, but a packet the host forwards in from another of its
# devices is refused on the gateway interface (nat-unsolicited) as an
# unsolicited IPv4 one is, and the guest's IPv6 to a destination the FIB
# puts behind another device is refused (nat-no-route), as its IPv4 is.
# Every verdict from the counters and from what the guest's kernel got.
#
#   $T-h (the fabric's namespace, IPv6 forwarding on):
#     wan1 fd97:1::1/64 -- $T-w1 fd97:1::2 (routes fd87:1::/64 via wan1)
#     lan2 fd97:2::1/64 -- $T-x  fd97:2::2 (routes fd87:1::/64 via lan2)
#   nat m: 192.168.87.0/24 + fd87:1::/64, wan wan1, guest g1 fd87:1::11
source "$(dirname "$0")/lib.sh"

fabric_netns "$T-h" || { fail "setup: netns"; finish; }
in_h sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.conf.default.accept_dad=0
hostdev() { # NS DEV ADDR6 PEER6 ADDR4 PEER4
	netns_add "$1"
	in_ns "$1" sysctl -qw net.ipv6.conf.default.accept_dad=0
	ip -n "$H" link add "$2" type veth peer name eth0 netns "$1" &&
		ip -n "$H" addr add "$3/64" dev "$2" nodad &&
		ip -n "$1" addr add "$4/64" dev eth0 nodad &&
		ip -n "$H" addr add "$5/24" dev "$2" &&
		ip -n "$1" addr add "$6/24" dev eth0 &&
		ip -n "$H" link set "$2" up && ip -n "$1" link set eth0 up &&
		ip -n "$1" -6 route add fd87:1::/64 via "$3"
}
hostdev "$T-w1" wan1 fd97:1::1 fd97:1::2 10.87.1.1 10.87.1.2 || fail "setup: wan1"
hostdev "$T-x" lan2 fd97:2::1 fd97:2::2 10.87.2.1 10.87.2.2 || fail "setup: lan2"
netns_add "$T-g1"
in_ns "$T-g1" sysctl -qw net.ipv6.conf.default.accept_dad=0
ip -n "$H" link add g1 type veth peer name eth0 netns "$T-g1"
in_h sysctl -qw net.ipv6.conf.g1.disable_ipv6=1
ip -n "$H" link set g1 up
ip -n "$T-g1" link set eth0 up
in_ns "$T-g1" sysctl -qw net.ipv6.conf.eth0.accept_ra=0
ip -n "$T-g1" addr add fd87:1::11/64 dev eth0 nodad
ip -n "$T-g1" -6 route add default via fd87:1::1

check "net add nat with IPv6, wan wan1" kvmbpf net add m type nat \
	subnet 192.168.87.0/24 subnet fd87:1::/64 wan wan1 dhcp off
check "attach g1" kvmbpf attach g1 net m ip 192.168.87.11 ip fd87:1::11

drops() { # REASON: summed over every port of the fabric
	kvmbpf -j stats | "$PY" -c '
import json, sys
print(sum(s["drop_reasons"].get(sys.argv[1], 0) for s in json.load(sys.stdin)))' "$1"
}
echos6() { # the guest kernel's ICMPv6 echo requests received
	in_ns "$T-g1" awk '$1 == "Icmp6InEchos" { print $2 }' /proc/net/snmp6
}

check "the WAN (wan1) reaches the guest over IPv6" ping6 "$T-w1" fd87:1::11
check "the guest reaches the WAN over IPv6" ping6 "$T-g1" fd97:1::2
check "the host itself reaches the guest" in_h ping -6 -n -c 1 -W 2 fd87:1::11

e0=$(echos6)
u0=$(drops nat-unsolicited)
check_not "another device of the host (lan2, forwarding on) does not reach the guest" \
	in_ns "$T-x" ping -6 -n -c 2 -W 1 fd87:1::11
[ "$(echos6)" = "$e0" ] && pass "the guest got no echo request from lan2's side" ||
	fail "the guest got $(($(echos6) - e0)) echo requests from lan2's side"
[ "$(drops nat-unsolicited)" -ge "$((u0 + 2))" ] &&
	pass "refused on the gateway interface and counted (nat-unsolicited)" ||
	fail "nat-unsolicited $u0 -> $(drops nat-unsolicited)"

n0=$(stat g1 nat-no-route)
check_not "the guest's IPv6 to a destination behind lan2 is refused" \
	ping6 "$T-g1" fd97:2::2
[ "$(stat g1 nat-no-route)" -gt "$n0" ] && pass "counted as nat-no-route" ||
	fail "nat-no-route $n0 -> $(stat g1 nat-no-route)"
check "the guest still reaches the WAN" ping6 "$T-g1" fd97:1::2
[ "$(in_h sysctl -n net.ipv6.conf.all.forwarding)" = 1 ] ||
	fail "the test's host namespace lost its forwarding setting"
finish

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ndisc6 and rdisc6 (the ndisc6 package) from guests to the gateway of a
# routed network and of a nat network with IPv6: the neighbour
# advertisement names the gateway's MAC (the host interface's) for its
# global address and its link-local; the router advertisement, to the
# all-routers group and unicast to the router's link-local, carries that
# MAC, the network's MTU and every IPv6 prefix, on-link and autonomous
# (dhcp off) or not (dhcp on), from the link-local the NA answered for.
#
#   routed r: 10.86.2.0/24 fd86:2::/64 fd86:3::/64, mtu 1400, g1
#   nat n: 192.168.86.0/24 fd86:1::/64 (dhcp off), g2
#   nat m: 192.168.87.0/24 fd86:7::/64 (dhcp on), g3
source "$(dirname "$0")/lib.sh"

for t in ndisc6 rdisc6; do
	command -v $t >/dev/null || { fail "ndisc: $t missing (scripts/deps.sh installs ndisc6)"; exit 1; }
done
behind "$T-w" "$T-wan" 10.86.9.2/24 10.86.9.1/24

check "net add routed, two IPv6 subnets, mtu 1400" kvmbpf net add r type routed \
	subnet 10.86.2.0/24 subnet fd86:2::/64 subnet fd86:3::/64 mtu 1400
check "net add nat with IPv6 (dhcp off)" kvmbpf net add n type nat \
	subnet 192.168.86.0/24 subnet fd86:1::/64 wan "$T-w" dhcp off
check "net add nat with IPv6 (dhcp on)" kvmbpf net add m type nat \
	subnet 192.168.87.0/24 subnet fd86:7::/64 wan "$T-w"
guest() {	# NS NET
	netns_add "$1"
	in_ns "$1" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.accept_ra=0
	guest_link "$1" "$1"
	kvmbpf attach "$1" net "$2" || fail "attach $1"
}
guest "$T-g1" r
guest "$T-g2" n
guest "$T-g3" m
gwmac() {	# NET: the MAC of the network's host interface
	local dev
	dev=$(kvmbpf -j net show "$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
	ip -j link show dev "$dev" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])'
}

# nd NAME NS TARGET MAC: ndisc6 says TARGET is at MAC
nd() {
	local out
	out=$(in_ns "$2" ndisc6 -1 -r 3 -w 1000 "$3" eth0 2>&1)
	grep -qi "Target link-layer address: $4" <<<"$out" &&
		pass "$1: $3 is at $4" || fail "$1: want $4: $(tr '\n' '|' <<<"$out")"
}
# ra NAME NS MTU MAC A [TO]: rdisc6 (to ff02::2, or TO) gets one RA with
# MAC, MTU and the prefixes PFX..., autonomous A (Yes/No); sets RA_FROM
ra() {
	local name=$1 ns=$2 mtu=$3 mac=$4 auto=$5 to=${6:-} out p ok=1
	shift 6
	out=$(in_ns "$ns" rdisc6 -1 -r 3 -w 1000 $to eth0 2>&1)
	grep -qi "Source link-layer address: $mac" <<<"$out" || ok=0
	grep -Eq "MTU +: +$mtu bytes" <<<"$out" || ok=0
	grep -Eq "Router lifetime +: +[1-9]" <<<"$out" || ok=0
	for p in "$@"; do grep -Eq "Prefix +: $p" <<<"$out" || ok=0; done
	[ "$(grep -Ec '^ Prefix +:' <<<"$out")" = $# ] || ok=0
	[ "$(grep -Ec "Autonomous address conf.: +$auto" <<<"$out")" = $# ] || ok=0
	grep -Eq "On-link +: +Yes" <<<"$out" || ok=0
	RA_FROM=$(awk '/^ from / {print $2; exit}' <<<"$out")
	[[ "$RA_FROM" == fe80:* ]] || ok=0
	[ $ok = 1 ] && pass "$name: MAC $mac, MTU $mtu, prefixes $*, autonomous $auto, from $RA_FROM" ||
		fail "$name: $(tr '\n' '|' <<<"$out")"
}

m1=$(gwmac r) m2=$(gwmac n) m3=$(gwmac m)
nd "routed: ndisc6 for the gateway" "$T-g1" fd86:2::1 "$m1"
nd "routed: ndisc6 for the second subnet's gateway" "$T-g1" fd86:3::1 "$m1"
ra "routed: rdisc6" "$T-g1" 1400 "$m1" Yes "" fd86:2::/64 fd86:3::/64
ll1=$RA_FROM
nd "routed: ndisc6 for the RA's source (the router's link-local)" "$T-g1" "$ll1" "$m1"
ra "routed: rdisc6 unicast to the router" "$T-g1" 1400 "$m1" Yes "$ll1" fd86:2::/64 fd86:3::/64
check "routed: the router's link-local answers ping" ping6 "$T-g1" "$ll1%eth0"

nd "nat: ndisc6 for the gateway" "$T-g2" fd86:1::1 "$m2"
ra "nat (dhcp off): rdisc6" "$T-g2" 1500 "$m2" Yes "" fd86:1::/64
ll2=$RA_FROM
nd "nat: ndisc6 for the router's link-local" "$T-g2" "$ll2" "$m2"
ra "nat: rdisc6 unicast to the router" "$T-g2" 1500 "$m2" Yes "$ll2" fd86:1::/64
check "nat: the router's link-local answers ping" ping6 "$T-g2" "$ll2%eth0"

nd "nat (dhcp on): ndisc6 for the gateway" "$T-g3" fd86:7::1 "$m3"
ra "nat (dhcp on): rdisc6, prefix not autonomous" "$T-g3" 1500 "$m3" No "" fd86:7::/64
out=$(in_ns "$T-g3" rdisc6 -1 -r 3 -w 1000 eth0 2>&1)
grep -Eq "Stateful address conf. +: +Yes" <<<"$out" && pass "nat (dhcp on): M flag" ||
	fail "nat (dhcp on): no M flag: $(tr '\n' '|' <<<"$out")"

# a guest that takes its gateway's address (or the gateway's link-local)
# with duplicate address detection on (as distributions run it): the
# gateway answers the DAD probe, so the kernel marks the address
# dadfailed instead of keeping it silently cut off from its gateway
# (before, the guard dropped the probe as spoof-nd)
dadfailed() {	# NAME NS ADDR: ADDR added with DAD on eth0 ends dadfailed
	local i out=
	in_ns "$2" sysctl -qw net.ipv6.conf.eth0.accept_dad=1
	in_ns "$2" ip addr add "$3/64" dev eth0
	for i in $(seq 30); do
		out=$(in_ns "$2" ip -6 addr show dev eth0 | grep -F "inet6 $3/64")
		grep -q dadfailed <<<"$out" && break
		grep -q tentative <<<"$out" || [ -z "$out" ] || break
		sleep 0.2
	done
	in_ns "$2" ip addr del "$3/64" dev eth0
	in_ns "$2" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
	grep -q dadfailed <<<"$out" && pass "$1: dadfailed" || fail "$1: '$out'"
}
dadfailed "routed: a guest taking the gateway's address" "$T-g1" fd86:2::1
dadfailed "routed: a guest taking the gateway's link-local" "$T-g1" "$ll1"
dadfailed "nat: a guest taking the gateway's address" "$T-g2" fd86:1::1
check "routed: ... and the router's link-local answers ping again once it let go" ping6 "$T-g1" "$ll1%eth0"

# an address of no gateway gets no answer from the fabric
out=$(in_ns "$T-g1" ndisc6 -1 -r 2 -w 500 fd86:2::99 eth0 2>&1)
grep -q "Target link-layer" <<<"$out" && fail "routed: ndisc6 for a free address answered: $out" ||
	pass "routed: ndisc6 for an address nobody holds: no answer"
finish

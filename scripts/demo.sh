#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A demonstration fabric in network namespaces, then a reachability matrix.
#   bash scripts/demo.sh        (re)build the demo and print who reaches whom
#   bash scripts/demo.sh down   remove it
#
#   bridge "lan"    uplink kvbdemo-up <-> namespace kvbdemo-lan (10.77.0.2),
#                   host on the uplink (10.77.0.1), guests g1..g3 (.11-.13)
#   bridge "other"  guests o1, o2 in the same subnet (.21, .22), no uplink
#   internal "iso"  guests i1, i2 (10.66.0.1, .2): each other and nothing else
#   nat "natnet"    guests n1, n2 (192.168.55.11, .12) behind source NAT to a
#                   "wan" namespace (10.55.0.2) through host veth P-w
#                   (10.55.0.1); the WAN never reaches them
#   routed "rt"     dual stack 10.88.1.0/24 + fd88:1::/64, guest r1 (.11 and
#                   its SLAAC address), peered with routed "rt2" (10.88.2.0/24
#                   + fd88:2::/64, guest r2); both routed, without NAT, to
#                   and from the WAN namespace, which has a route back
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# Overridable so that the test suite can run the demo under its own names.
P=${KVB_DEMO_PREFIX:-kvbdemo}
BPFFS=/sys/fs/bpf/kvmbpf_${P//-/_}
K=("$ROOT/build/kvmbpf" --bpffs "$BPFFS")
NODES=(g1 g2 g3 o1 o2 i1 i2 n1 n2 r1 r2 lan wan)

down() {
	local n
	for n in "${NODES[@]}"; do ip netns del "$P-$n" 2>/dev/null; done
	[ -d "$BPFFS" ] && "${K[@]}" reset >/dev/null 2>&1
	for n in "${NODES[@]}" up w; do ip link del "$P-$n" 2>/dev/null; done
	rm -rf "$BPFFS"
}

addr_of() {
	case $1 in
	g*) echo 10.77.0.1${1#g} ;;
	o*) echo 10.77.0.2${1#o} ;;
	i*) echo 10.66.0.${1#i} ;;
	n*) echo 192.168.55.1${1#n} ;;
	r*) echo 10.88.${1#r}.11 ;;
	lan) echo 10.77.0.2 ;;
	wan) echo 10.55.0.2 ;;
	host) echo 10.77.0.1 ;;
	esac
}

guest() { # NODE NET
	local n=$1 net=$2 a
	ip netns add "$P-$n"
	ip -n "$P-$n" link set lo up
	ip link add "$P-$n" type veth peer name eth0 netns "$P-$n"
	ip link set "$P-$n" up
	ip -n "$P-$n" link set eth0 up
	a=$(addr_of "$n")
	ip -n "$P-$n" addr add "$a/24" dev eth0
	if [ "$net" = natnet ]; then
		# a known MAC and address: port forwards need both
		local mac=52:54:00:55:00:1${n#n}
		ip -n "$P-$n" link set eth0 address $mac
		ip -n "$P-$n" route add default via 192.168.55.1
		"${K[@]}" attach "$P-$n" net "$net" mac $mac ip "$a"
	elif [ "$net" = rt ] || [ "$net" = rt2 ]; then
		ip -n "$P-$n" route add default via "${a%.*}.1"
		"${K[@]}" attach "$P-$n" net "$net"
		# IPv6 comes from the fabric's router advertisement (SLAAC)
		ip -n "$P-$n" link set eth0 down
		ip -n "$P-$n" link set eth0 up
		ip -n "$P-$n" route replace default via "${a%.*}.1"
	else
		"${K[@]}" attach "$P-$n" net "$net"
	fi
}

up() {
	local n
	down
	ip netns add "$P-lan"
	ip -n "$P-lan" link set lo up
	ip link add "$P-up" type veth peer name eth0 netns "$P-lan"
	ip link set "$P-up" up
	ip -n "$P-lan" link set eth0 up
	ip -n "$P-lan" addr add 10.77.0.2/24 dev eth0
	ip addr add 10.77.0.1/24 dev "$P-up"

	"${K[@]}" net add lan type bridge uplink "$P-up" || exit 1
	"${K[@]}" net add other type bridge || exit 1
	"${K[@]}" net add iso type internal || exit 1
	ip netns add "$P-wan"
	ip -n "$P-wan" link set lo up
	ip link add "$P-w" type veth peer name eth0 netns "$P-wan"
	ip addr add 10.55.0.1/24 dev "$P-w"
	ip link set "$P-w" up
	ip -n "$P-wan" addr add 10.55.0.2/24 dev eth0
	ip -n "$P-wan" link set eth0 up
	"${K[@]}" net add natnet type nat subnet 192.168.55.0/24 wan "$P-w" || exit 1
	"${K[@]}" net add rt type routed subnet 10.88.1.0/24 subnet fd88:1::/64 \
		wan "$P-w" || exit 1
	"${K[@]}" net add rt2 type routed subnet 10.88.2.0/24 subnet fd88:2::/64 \
		wan "$P-w" || exit 1
	"${K[@]}" net peer rt rt2 || exit 1
	ip -n "$P-wan" route add 10.88.0.0/16 via 10.55.0.1
	for n in g1 g2 g3; do guest "$n" lan; done
	for n in o1 o2; do guest "$n" other; done
	for n in i1 i2; do guest "$n" iso; done
	for n in n1 n2; do guest "$n" natnet; done
	guest r1 rt
	guest r2 rt2
	"${K[@]}" forward add natnet proto tcp port 8080 to 192.168.55.11:80
}

reach() { # FROM TO -> exit status
	local to
	to=$(addr_of "$2")
	if [ "$1" = host ]; then
		ping -n -c 1 -W 1 "$to" >/dev/null 2>&1
	else
		ip netns exec "$P-$1" ping -n -c 1 -W 1 "$to" >/dev/null 2>&1
	fi
}

matrix() {
	local all=(host "${NODES[@]}") f t dir
	dir=$(mktemp -d)
	# one ping per pair, all at once: failures cost a timeout each
	for f in "${all[@]}"; do
		for t in "${all[@]}"; do
			[ "$f" = "$t" ] && continue
			( reach "$f" "$t" && touch "$dir/$f-$t" ) &
		done
	done
	wait
	echo
	echo "Who reaches whom (ICMP echo; row = from, column = to):"
	printf '%-6s' ""
	for t in "${all[@]}"; do printf '%-6s' "$t"; done
	echo
	for f in "${all[@]}"; do
		printf '%-6s' "$f"
		for t in "${all[@]}"; do
			if [ "$f" = "$t" ]; then printf '%-6s' "."
			elif [ -e "$dir/$f-$t" ]; then printf '%-6s' "yes"
			else printf '%-6s' "-"; fi
		done
		echo
	done
	rm -rf "$dir"
	# the port forward: the WAN connects to the host's 10.55.0.1:8080
	ip netns exec "$P-n1" timeout 5 nc -l -N 192.168.55.11 80 <<<"hello from n1" >/dev/null 2>&1 &
	sleep 0.3
	local got
	got=$(ip netns exec "$P-wan" timeout 3 nc -N 10.55.0.1 8080 </dev/null 2>/dev/null)
	wait
	echo
	echo "Port forward wan -> 10.55.0.1:8080 -> n1:80: ${got:-nothing came back}"
	local a1 a2 i ok=
	# SLAAC addresses are usable once DAD is over (not tentative), at both ends
	for i in $(seq 100); do
		a1=$(ip -n "$P-r1" -6 -o addr show dev eth0 scope global -tentative | awk '{print $4}')
		a2=$(ip -n "$P-r2" -6 -o addr show dev eth0 scope global -tentative | awk '{print $4}' | cut -d/ -f1)
		[ -n "$a1" ] && [ -n "$a2" ] && break
		sleep 0.1
	done
	for i in 1 2 3 4 5; do
		[ -n "$a2" ] && ip netns exec "$P-r1" ping -6 -n -c 1 -W 1 "$a2" >/dev/null 2>&1 && ok=1 && break
	done
	if [ -n "$ok" ]; then
		echo "IPv6 r1 -> r2 ($a2, SLAAC): yes"
	else
		echo "IPv6 r1 -> r2 (${a2:-no SLAAC address}): -"
	fi
	cat <<EOT

lan (bridge, uplink to the "lan" namespace): g1-g3, the LAN and the host
  reach each other. other (bridge, same subnet, no uplink): o1 and o2 reach
  only each other. iso (internal): i1 and i2 reach only each other.
natnet (nat): n1 and n2 reach each other, the host and the WAN namespace
  (which sees only the host's 10.55.0.1); from the WAN, only the port
  forward 10.55.0.1:8080 -> n1:80 gets in.
rt, rt2 (routed, peered, dual stack): r1 and r2 reach each other, the host
  and the WAN by routing (their own addresses, no NAT), and the WAN, which
  has a route to 10.88.0.0/16, reaches them; nobody else does.

Look around:
  ${K[*]} net show
  ${K[*]} stats
  ${K[*]} fdb show
  ${K[*]} ct show
  ${K[*]} forward show
  bpftool map dump pinned $BPFFS/kvb_fdb
Remove the demo: bash scripts/demo.sh down
EOT
}

case ${1:-up} in
down) down ;;
up) up && "${K[@]}" net show && matrix ;;
*) echo "usage: scripts/demo.sh [up|down]" >&2; exit 2 ;;
esac

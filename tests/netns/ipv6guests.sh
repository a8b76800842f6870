#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# IPv6 guests configured as distributions ship them, spoofcheck on (the
# default), on every network type (issue 16):
#   tmp  Ubuntu: use_tempaddr=2, temporary (RFC 8981) addresses preferred
#   sp   NetworkManager: addr_gen_mode=2 with a stable_secret (RFC 7217),
#        the link-local stable-privacy too
#   rnd  addr_gen_mode=3 (random interface identifiers, Windows-like) and a
#        static address given with `ip` as well, SLAAC left on (the
#        issue's reproduction: the static address plus a SLAAC one)
# On each network each guest reaches the gateway (bridge: the LAN's
# router), the other guests and, where the type allows, the host, over
# ping and TCP, from the address its kernel prefers, within seconds of its
# addresses appearing. Internal networks have no router: link-local only.
# DHCPv6 guests are tests/netns/dhcp6.sh's.
#
#   bridge b: uplink $T-u to $T-lan (router fd31:b::1, dnsmasq RAs)
#   internal i
#   nat n: 192.168.131.0/24 + fd31:a::/64 (dhcp off: SLAAC), wan $T-w
#   routed r: 10.131.2.0/24 + fd31:2::/64
source "$(dirname "$0")/lib.sh"

command -v dnsmasq >/dev/null || { fail "ipv6guests: dnsmasq missing (scripts/deps.sh)"; exit 1; }
LANPID=
g_cleanup() {
	[ -n "$LANPID" ] && kill "$LANPID" 2>/dev/null
	cleanup
}
trap g_cleanup EXIT

# the LAN behind the bridge's uplink: a router with dnsmasq's RAs
behind "$T-u" "$T-lan" fd31:b::1/64
in_ns "$T-lan" sysctl -qw net.ipv6.conf.all.forwarding=1
in_ns "$T-lan" dnsmasq --conf-file=/dev/null --port=0 --interface=eth0 \
	--bind-interfaces --enable-ra --dhcp-range=::,constructor:eth0,ra-only,3600 \
	--ra-param=eth0,10,1800 --pid-file=/tmp/$T.lan.pid --log-facility=/dev/null ||
	fail "dnsmasq in the LAN"
LANPID=$(cat /tmp/$T.lan.pid 2>/dev/null); rm -f /tmp/$T.lan.pid

check "net add bridge" kvmbpf net add b type bridge uplink "$T-u"
check "net add internal" kvmbpf net add i type internal
behind "$T-w" "$T-wan" 10.131.9.2/24 10.131.9.1/24
check "net add nat" kvmbpf net add n type nat subnet 192.168.131.0/24 \
	subnet fd31:a::/64 wan "$T-w" dhcp off
check "net add routed" kvmbpf net add r type routed subnet 10.131.2.0/24 \
	subnet fd31:2::/64

# guest NS NET KIND [ATTACH ARGS]: a namespace configured as KIND before
# its link comes up (so its first addresses are already the kind's)
guest() {
	local ns=$1 net=$2 kind=$3
	shift 3
	netns_add "$ns"
	in_ns "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=1
	case $kind in
	tmp) in_ns "$ns" sysctl -qw net.ipv6.conf.default.use_tempaddr=2 ;;
	sp) in_ns "$ns" sysctl -qw net.ipv6.conf.default.stable_secret=2001:db8:1234:5678:9abc:def0:$(printf %x $RANDOM):1
	    in_ns "$ns" sysctl -qw net.ipv6.conf.default.addr_gen_mode=2 ;;
	rnd) in_ns "$ns" sysctl -qw net.ipv6.conf.default.addr_gen_mode=3 ;;
	esac
	ip link add "$ns" type veth peer name eth0 netns "$ns" || return 1
	LINK_LIST+=("$ns")
	sysctl -qw net.ipv6.conf."$ns".disable_ipv6=1
	kvmbpf attach "$ns" net "$net" "$@" || fail "attach $ns"
	ip link set "$ns" up
	ip -n "$ns" link set eth0 up
}
# pref NS DST: the source address NS's kernel picks for DST
pref() {
	in_ns "$1" ip -6 route get "$2" 2>/dev/null | sed -n 's/.* src \([^ ]*\).*/\1/p'
}
# global NS: wait (at most 10 s) until eth0 has a global address that is
# not tentative, print the one the kernel prefers for the outside
# (KIND tmp: until a temporary address is there, which the kernel then
# prefers: it is made after the SLAAC address it derives from)
global() {
	local i a p
	for i in $(seq 100); do
		a=$(in_ns "$1" ip -6 -o addr show dev eth0 scope global -tentative \
			${3:+$([ "$3" = tmp ] && echo temporary)} |
			grep -v deprecated | awk '{print $4}' | cut -d/ -f1 | head -1)
		if [ -n "$a" ]; then
			p=$(pref "$1" "${2:-2001:db8::1}")
			echo "${p:-$a}"
			return 0
		fi
		sleep 0.1
	done
	return 1
}
# ll NS: eth0's link-local once it is no longer tentative
ll() {
	local i a
	for i in $(seq 100); do
		a=$(in_ns "$1" ip -6 -o addr show dev eth0 scope link -tentative |
			awk '{print $4}' | cut -d/ -f1 | head -1)
		[ -n "$a" ] && { echo "$a"; return 0; }
		sleep 0.1
	done
	return 1
}
# reach FROM TO-ADDR [IFACE-SCOPE]: ping within 5 s (the first seconds of
# an address, ND and DAD, are the guest's), then 1 MiB TCP with sha256
reach() {
	local i
	for i in $(seq 5); do
		in_ns "$1" ping -6 -n -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
	done
	return 1
}
reach_host() {
	local i
	for i in $(seq 5); do
		ping -6 -n -c 1 -W 1 "$1" >/dev/null 2>&1 && return 0
	done
	return 1
}
tcp6() {	# FROM TONS ADDR
	tcp_sha "$1" "$2" "$3" 1
}

kinds="tmp sp rnd"
for net in b i n r; do
	case $net in
	b) gw=fd31:b::1; sub=fd31:b: ;;
	i) gw=; sub= ;;
	n) gw=fd31:a::1; sub=fd31:a: ;;
	r) gw=fd31:2::1; sub=fd31:2: ;;
	esac
	k=0
	for kind in $kinds; do
		k=$((k + 1))
		ns="$T-$net$k"
		extra=()
		if [ "$kind" = rnd ] && [ -n "$sub" ]; then
			extra=(ip "${sub}:77")
		fi
		guest "$ns" "$net" "$kind" "${extra[@]}"
		if [ "$kind" = rnd ] && [ -n "$sub" ]; then
			ip -n "$ns" addr add "${sub}:77/64" dev eth0
		fi
	done
	declare -A A=()
	k=0
	for kind in $kinds; do
		k=$((k + 1))
		ns="$T-$net$k"
		if [ -n "$sub" ]; then
			A[$k]=$(global "$ns" "$gw" "$kind") || fail "$net/$kind: no global address"
			case "${A[$k]}" in
			"$sub"*) pass "$net/$kind: prefers ${A[$k]}" ;;
			*) fail "$net/$kind: prefers '${A[$k]}'" ;;
			esac
			if [ "$kind" = tmp ]; then
				in_ns "$ns" ip -6 -o addr show dev eth0 temporary |
					grep -qF " ${A[$k]}/" &&
					pass "$net/$kind: the preferred address is temporary" ||
					fail "$net/$kind: ${A[$k]} is not a temporary address"
			fi
		else
			A[$k]=$(ll "$ns")%eth0 || fail "$net/$kind: no link-local"
		fi
	done
	k=0
	for kind in $kinds; do
		k=$((k + 1))
		ns="$T-$net$k"
		if [ -n "$gw" ]; then
			check "$net/$kind reaches the gateway (ping)" reach "$ns" "$gw"
		fi
		o=$((k % 3 + 1))
		check "$net/$kind reaches guest $o (ping)" reach "$ns" "${A[$o]}"
		check "$net/$kind -> guest $o (TCP, sha256)" tcp6 "$ns" "$T-$net$o" "${A[$o]}"
		case $net in
		n|r) check "the host reaches $net/$kind (ping)" reach_host "${A[$k]}"
		     check "$net/$kind reaches the host (ping)" reach "$ns" "$gw" ;;
		b) check "the LAN reaches $net/$kind (ping)" reach "$T-lan" "${A[$k]}"
		   check "$net/$kind -> LAN (TCP, sha256)" tcp6 "$ns" "$T-lan" fd31:b::1 ;;
		esac
	done
	for k in 1 2 3; do
		ns="$T-$net$k"
		[ "$(stat "$ns" spoof-ip)" = 0 ] && [ "$(stat "$ns" spoof-nd)" = 0 ] ||
			fail "$net guest $k: refused: spoof-ip $(stat "$ns" spoof-ip) spoof-nd $(stat "$ns" spoof-nd)"
	done
	unset A
done
# the LAN's router holds its link-local (bound to the uplink from its
# advertisements: no guest can answer for it), through the upkeep of
# every changing command (which renews the host's own holds)
rll=$(in_ns "$T-lan" ip -6 -o addr show dev eth0 scope link | awk '{print $4}' | cut -d/ -f1 | head -1)
routerheld() { kvmbpf -j port show "$T-u" | grep -qF "\"ip\":\"$rll\""; }
check "the LAN router's $rll is bound to the uplink" routerheld
kvmbpf net add z type internal >/dev/null && kvmbpf net del z >/dev/null
check "... and stays so through a command's upkeep" routerheld
finish

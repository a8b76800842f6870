#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# IPv6 on nat networks: a nat network's IPv4 is translated, its IPv6
# subnets are routed (libvirt's model): SLAAC from the BPF router
# advertisement, the gateway, guest to guest, the WAN by routing (the WAN
# sees the guest's own address) and back in through the WAN device, a
# source outside the network refused, a routed network behind the nat
# network routed out and in the same way while its IPv4 is translated,
# save/load. The host's own IPv6 forwarding stays off throughout: routing
# is the fabric's, in BPF.
#
#   root ns: $T-w 10.99.6.1/24 fd99:6::1/64 (WAN device)
#   $T-wan ns: eth0 10.99.6.2/24 fd99:6::2/64, route to fd76::/16 via the host
#   nat n: 192.168.76.0/24 + fd76:1::/64, g1 (.11, SLAAC), g2 (.12, ip fd76:1::12)
#   routed r: 10.76.2.0/24 + fd76:2::/64, peered with n, g3 (.11, SLAAC)
source "$(dirname "$0")/lib.sh"

behind "$T-w" "$T-wan" 10.99.6.2/24 10.99.6.1/24
behind6 "$T-w" "$T-wan" fd99:6::1 fd99:6::2
in_ns "$T-wan" ip route add fd76::/16 via fd99:6::1
fwd_before=$(sysctl -n net.ipv6.conf.all.forwarding)

check "net add nat with an IPv6 subnet" kvmbpf net add n type nat \
	subnet fd76:1::/64 subnet 192.168.76.0/24 wan "$T-w" dhcp off
check_not "a nat network with two IPv4 subnets is refused" kvmbpf net add \
	nx type nat subnet 192.168.75.0/24 subnet 192.168.74.0/24 wan "$T-w"
check_not "a nat network with IPv6 alone is refused" kvmbpf net add nx \
	type nat subnet fd75::/64 wan "$T-w"
check "net show -j: IPv4 subnet first, the IPv6 one routed beside it" "$PY" -c "
import json, subprocess
n = json.loads(subprocess.check_output(['$ROOT/build/kvmbpf', '--bpffs', '$BPFFS', '-j', 'net', 'show', 'n']))
assert n['subnets'] == ['192.168.76.0/24', 'fd76:1::/64'], n
assert n['gateways'] == ['192.168.76.1', 'fd76:1::1'], n
assert n['nat_address'] == '10.99.6.1', n"
nif=$(kvmbpf -j net show n | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
check "the IPv6 gateway lives on the host interface" sh -c \
	"ip -6 addr show $nif | grep -q fd76:1::1/64"

# guest NS NET ADDR4 [ATTACH ARGS]: static IPv4, IPv6 by SLAAC (unless
# RA=0: none)
guest() {
	local ns=$1 net=$2 a4=$3
	shift 3
	netns_add "$ns"
	guest_link "$ns" "$ns"
	in_ns "$ns" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
	in_ns "$ns" sysctl -qw net.ipv6.conf.eth0.accept_ra="${RA:-1}"
	ip -n "$ns" addr add "$a4/24" dev eth0
	kvmbpf attach "$ns" net "$net" "$@" || fail "attach $ns"
	# a fresh RS now that the port is attached
	ip -n "$ns" link set eth0 down && ip -n "$ns" link set eth0 up
	ip -n "$ns" route replace default via "${a4%.*}.1"
}
# addr6 NS: eth0's global address that is not ADDR ($2), waiting up to 5 s
addr6() {
	local i a
	for i in $(seq 50); do
		a=$(in_ns "$1" ip -6 -o addr show dev eth0 scope global |
			awk '{print $4}' | cut -d/ -f1 | grep -vx "${2:-none}" | head -1)
		[ -n "$a" ] && { echo "$a"; return 0; }
		sleep 0.1
	done
	return 1
}
guest "$T-g1" n 192.168.76.11
RA=0 guest "$T-g2" n 192.168.76.12 ip 192.168.76.12 ip fd76:1::12
ip -n "$T-g2" addr add fd76:1::12/64 dev eth0 nodad
ip -n "$T-g2" -6 route add default via fd76:1::1
a1=$(addr6 "$T-g1")
case "$a1" in
fd76:1:*) pass "SLAAC on the nat network: g1 configured $a1" ;;
*) fail "SLAAC on the nat network: g1 has '$a1'" ;;
esac
check "the default route via the gateway's link-local" sh -c \
	"ip -n $T-g1 -6 route show default | grep -q 'via fe80::'"

check "g1 pings its IPv6 gateway" ping6 "$T-g1" fd76:1::1
check "g1 reaches g2 (IPv6)" ping6 "$T-g1" fd76:1::12
check "the host reaches g1 (IPv6)" ping -6 -n -c 1 -W 2 "$a1"
check "g1 pings the WAN (IPv6, routed)" ping6 "$T-g1" fd99:6::2
check "g2 pings the WAN (IPv6, static address)" ping6 "$T-g2" fd99:6::2
check "TCP g1 -> WAN (IPv6, 4 MiB, sha256)" tcp_sha "$T-g1" "$T-wan" fd99:6::2 4
peer=$(seen_from "$T-wan" fd99:6::2 8091 "$T-g1")
[ "$peer" = "$a1" ] && pass "the WAN sees the guest's own IPv6 address (routed, no NAT66)" ||
	fail "the WAN saw '$peer', expected $a1"
peer=$(seen_from "$T-wan" 10.99.6.2 8092 "$T-g1")
[ "$peer" = 10.99.6.1 ] && pass "IPv4 is still translated to the WAN address" ||
	fail "the WAN saw '$peer' over IPv4"
check "the WAN reaches g1 by its route (IPv6)" ping6 "$T-wan" "$a1"
check "TCP WAN -> g2 (IPv6, 4 MiB, sha256)" tcp_sha "$T-wan" "$T-g2" fd76:1::12 4
check_not "the WAN still cannot reach a guest over IPv4" ping4 "$T-wan" 192.168.76.11
w0=$(stat "$T-w" rx_packets)
[ "$w0" -ge 1 ] && pass "what the fabric routed in from the WAN is counted on it" ||
	fail "nothing counted on the WAN port"

# a source outside the network's prefixes never leaves
s0=$(stat "$T-g1" spoof-ip)
ip -n "$T-g1" addr add fd77::5/128 dev eth0 nodad
check_not "g1 cannot send from an address outside the network" \
	in_ns "$T-g1" ping -6 -n -c 1 -W 2 -I fd77::5 fd99:6::2
[ "$(stat "$T-g1" spoof-ip)" -gt "$s0" ] && pass "counted as spoof-ip" ||
	fail "the foreign source was not counted"
ip -n "$T-g1" addr del fd77::5/128 dev eth0

# a routed network behind the nat network: IPv4 translated, IPv6 routed
check "net add routed r, peered with n" sh -c "
	$ROOT/build/kvmbpf --bpffs $BPFFS net add r type routed subnet 10.76.2.0/24 subnet fd76:2::/64 &&
	$ROOT/build/kvmbpf --bpffs $BPFFS net peer n r"
guest "$T-g3" r 10.76.2.11
a3=$(addr6 "$T-g3")
check "behind nat: g3 pings the WAN (IPv6, routed)" ping6 "$T-g3" fd99:6::2

peer=$(seen_from "$T-wan" fd99:6::2 8093 "$T-g3")
[ "$peer" = "$a3" ] && pass "behind nat: the WAN sees g3's own IPv6 address" ||
	fail "behind nat: the WAN saw '$peer', expected $a3"
peer=$(seen_from "$T-wan" 10.99.6.2 8094 "$T-g3")
[ "$peer" = 10.99.6.1 ] && pass "behind nat: IPv4 translated" ||
	fail "behind nat: the WAN saw '$peer' over IPv4"
check "behind nat: the WAN reaches g3 (IPv6, through the nat network's WAN)" \
	ping6 "$T-wan" "$a3"
check "g3 reaches g1 across the peering (IPv6)" ping6 "$T-g3" "$a1"
[ "$(sysctl -n net.ipv6.conf.all.forwarding)" = "$fwd_before" ] &&
	pass "the host's IPv6 forwarding untouched ($fwd_before)" ||
	fail "the host's IPv6 forwarding changed"

# save/load keeps the IPv6 subnet
conf=$(kvmbpf save)
echo "$conf" | grep -q "net add n type nat subnet 192.168.76.0/24 subnet fd76:1::/64 gateway 192.168.76.1 gateway fd76:1::1 wan $T-w dhcp off" &&
	pass "save writes both subnets and gateways" || fail "save: $(echo "$conf" | grep 'net add n ')"
check "reset, load" sh -c "
	$ROOT/build/kvmbpf --bpffs $BPFFS reset &&
	echo '$conf' > /tmp/$T.conf &&
	$ROOT/build/kvmbpf --bpffs $BPFFS load /tmp/$T.conf; r=\$?; rm -f /tmp/$T.conf; exit \$r"
ip -n "$T-g1" link set eth0 down && ip -n "$T-g1" link set eth0 up
ip -n "$T-g1" route replace default via 192.168.76.1
a1=$(addr6 "$T-g1")
check "after load: g1 pings the WAN (IPv6)" ping6 "$T-g1" fd99:6::2
check "net del" kvmbpf net del r
check "net del" kvmbpf net del n
check_not "no gateway interface left" ip link show "$nif"
finish

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# traceroute (UDP, ICMP -I, TCP -T) and tracepath from a guest of a nat
# network and of a routed network to a host two hops away, IPv4 and IPv6:
#   - every hop answers: the fabric's gateway (TTL / hop-limit expiry
#     answered in BPF), the router beyond the host (its time exceeded
#     comes back through NAT translated to the guest), the far host;
#   - tracepath finds the path MTU of the narrower link beyond the router
#     (1280: frag-needed / too-big from the router, through NAT too).
#
#   root ns: $T-w 10.85.9.1/24 fd99:85::1/64; routes to the far link via .2
#   $T-rt ns (router): eth0 10.85.9.2/24 fd99:85::2/64, far 10.85.10.1/24
#       fd99:86::1/64 mtu 1280; routes back to 10.85.2.0/24, fd85::/16
#   $T-far ns: eth0 10.85.10.2/24 fd99:86::2/64 mtu 1280
#   nat n: 192.168.85.0/24 + fd85:1::/64 (dhcp off), g1 .11 fd85:1::11
#   routed r: 10.85.2.0/24 + fd85:2::/64, g2 .11 fd85:2::11
source "$(dirname "$0")/lib.sh"

for t in traceroute tracepath; do
	command -v $t >/dev/null || { fail "traceroute: $t missing (scripts/deps.sh installs it)"; exit 1; }
done
scratch

behind "$T-w" "$T-rt" 10.85.9.2/24 10.85.9.1/24
behind6 "$T-w" "$T-rt" fd99:85::1 fd99:85::2
netns_add "$T-far"
ip -n "$T-rt" link add far type veth peer name eth0 netns "$T-far"
ip -n "$T-rt" link set far mtu 1280 up
ip -n "$T-far" link set eth0 mtu 1280 up
ip -n "$T-rt" addr add 10.85.10.1/24 dev far
ip -n "$T-rt" addr add fd99:86::1/64 dev far nodad
ip -n "$T-far" addr add 10.85.10.2/24 dev eth0
ip -n "$T-far" addr add fd99:86::2/64 dev eth0 nodad
ip -n "$T-far" route add default via 10.85.10.1
ip -n "$T-far" route add default via fd99:86::1
in_ns "$T-rt" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
in_ns "$T-rt" ip route add 10.85.2.0/24 via 10.85.9.1
in_ns "$T-rt" ip route add fd85::/16 via fd99:85::1
ip route add 10.85.10.0/24 via 10.85.9.2
ip route add fd99:86::/64 via fd99:85::2
# a TCP listener on the far host for -T
bg_ns "$T-far" "$PY" -c "
import socket, time
ls = []
for fam, a in ((socket.AF_INET, '10.85.10.2'), (socket.AF_INET6, 'fd99:86::2')):
    s = socket.socket(fam); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a, 80)); s.listen(8); ls.append(s)
time.sleep(120)"

check "net add nat" kvmbpf net add n type nat subnet 192.168.85.0/24 \
	subnet fd85:1::/64 wan "$T-w" dhcp off
check "net add routed" kvmbpf net add r type routed subnet 10.85.2.0/24 \
	subnet fd85:2::/64 wan "$T-w"
static_guest "$T-g1" n 192.168.85.11 fd85:1::11
static_guest "$T-g2" r 10.85.2.11 fd85:2::11
check "g1 reaches the far host (IPv4)" ping4 "$T-g1" 10.85.10.2
check "g2 reaches the far host (IPv6)" ping6 "$T-g2" fd99:86::2

# hops NS ARGS...: traceroute's hops, one address a line ("*" unanswered)
hops() {
	local ns=$1
	shift
	in_ns "$ns" timeout 30 traceroute -n -q 1 -w 1 -m 4 "$@" 2>&1 |
		awk 'NR > 1 { print $2 }'
}
# trace NAME NS WANT ARGS...: the hops are WANT (space-separated)
trace() {
	local name=$1 ns=$2 want=$3 got
	shift 3
	got=$(hops "$ns" "$@" | tr '\n' ' ' | sed 's/ $//')
	[ "$got" = "$want" ] && pass "$name: $got" || fail "$name: hops '$got', want '$want'"
}
for mode in "UDP:" "ICMP:-I" "TCP:-T -p 80"; do
	m=${mode%%:*} a=${mode#*:}
	# shellcheck disable=SC2086
	trace "nat IPv4 traceroute $m" "$T-g1" "192.168.85.1 10.85.9.2 10.85.10.2" $a 10.85.10.2
	# shellcheck disable=SC2086
	trace "nat IPv6 traceroute $m" "$T-g1" "fd85:1::1 fd99:85::2 fd99:86::2" -6 $a fd99:86::2
	# shellcheck disable=SC2086
	trace "routed IPv4 traceroute $m" "$T-g2" "10.85.2.1 10.85.9.2 10.85.10.2" $a 10.85.10.2
	# shellcheck disable=SC2086
	trace "routed IPv6 traceroute $m" "$T-g2" "fd85:2::1 fd99:85::2 fd99:86::2" -6 $a fd99:86::2
done

# tracepath: the hops and the path MTU of the far link
tp() {	# NAME NS ADDR HOP1 HOP2 [-4|-6]
	local out
	out=$(in_ns "$2" timeout 30 tracepath -n -m 5 ${6:-} "$3" 2>&1)
	# the router's frag-needed / too-big comes to the next probe
	if grep -q "Resume: pmtu 1280 hops 3 back" <<<"$out" &&
		grep -Eq "^ 1: +$4 " <<<"$out" && grep -Eq "^ 2: +$5 " <<<"$out" &&
		grep -Eq "^ +[0-9]+: +$5 .*pmtu 1280" <<<"$out" &&
		grep -Eq "^ +3: +$3 .*reached" <<<"$out"; then
		pass "$1: pmtu 1280 from $5, hops $4 $5 $3"
	else
		fail "$1: $(tr '\n' '|' <<<"$out")"
	fi
}
tp "nat IPv4 tracepath" "$T-g1" 10.85.10.2 192.168.85.1 10.85.9.2 -4
tp "nat IPv6 tracepath" "$T-g1" fd99:86::2 fd85:1::1 fd99:85::2 -6
tp "routed IPv4 tracepath" "$T-g2" 10.85.10.2 10.85.2.1 10.85.9.2 -4
tp "routed IPv6 tracepath" "$T-g2" fd99:86::2 fd85:2::1 fd99:85::2 -6
finish

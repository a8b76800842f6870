#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A guest's packet to an address nobody answers ARP or ND for is answered
# host unreachable (IPv6: address unreachable) from its gateway, as the
# kernel's forwarding answers (libvirt's NAT): connect() fails with
# EHOSTUNREACH instead of waiting out TCP's SYN retries, and the drop is
# counted (host-unreachable). Before, bpf_redirect_neigh dropped what it
# had queued for the failed neighbour without a word.
#   - nat IPv4 (translated) and IPv6, routed IPv4 and IPv6, out of the
#     WAN device to an absent host on its link, and through a router
#     on it that does not answer (the routes of 10.89.77.0/24 and
#     fd99:77::/64);
#   - routed into a peered network, to an address no guest holds;
#   - a host that appears later is reached again (one packet in a few
#     seconds still asks ARP), and a present host or router is never
#     answered so, even when its neighbour entry is flushed under a flow.
#
#   root ns: $T-w 10.89.9.1/24 fd99:89::1/64, the WAN's link
#   $T-rt ns: eth0 10.89.9.2/24 fd99:89::2/64 (10.89.9.99, fd99:89::99:
#       nobody, until the last part), the router of 10.89.78.0/24 and
#       fd99:78::/64 (lo: .1, ::1); 10.89.9.97, fd99:89::97: a dead router
#   nat n: 192.168.189.0/24 + fd89:1::/64, g1 .11 fd89:1::11
#   routed r: 10.89.2.0/24 + fd89:2::/64, g2 .11 fd89:2::11
#   routed p (peered with r): 10.89.3.0/24 + fd89:3::/64, g3 .11
source "$(dirname "$0")/lib.sh"
scratch

behind "$T-w" "$T-rt" 10.89.9.2/24 10.89.9.1/24
behind6 "$T-w" "$T-rt" fd99:89::1 fd99:89::2
in_ns "$T-rt" ip route add 10.89.0.0/16 via 10.89.9.1
in_ns "$T-rt" ip route add fd89::/16 via fd99:89::1
in_ns "$T-rt" ip addr add 10.89.78.1/32 dev lo
in_ns "$T-rt" ip addr add fd99:78::1/128 dev lo
# the host's routes (gone with $T-w): through the dead router, and
# through the live one
ip route add 10.89.77.0/24 via 10.89.9.97 dev "$T-w"
ip route add fd99:77::/64 via fd99:89::97 dev "$T-w"
ip route add 10.89.78.0/24 via 10.89.9.2 dev "$T-w"
ip route add fd99:78::/64 via fd99:89::2 dev "$T-w"

check "net add nat" kvmbpf net add n type nat subnet 192.168.189.0/24 \
	subnet fd89:1::/64 wan "$T-w" dhcp off
check "net add routed" kvmbpf net add r type routed subnet 10.89.2.0/24 \
	subnet fd89:2::/64 wan "$T-w"
check "net add routed peer" kvmbpf net add p type routed subnet 10.89.3.0/24 \
	subnet fd89:3::/64
check "net peer" kvmbpf net peer r p
static_guest "$T-g1" n 192.168.189.11 fd89:1::11
static_guest "$T-g2" r 10.89.2.11 fd89:2::11
static_guest "$T-g3" p 10.89.3.11 fd89:3::11
check "g1 reaches the WAN's host (IPv4)" ping4 "$T-g1" 10.89.9.2
check "g1 reaches the WAN's host (IPv6)" ping6 "$T-g1" fd99:89::2
check "g2 reaches the WAN's host (IPv4)" ping4 "$T-g2" 10.89.9.2
check "g2 reaches the WAN's host (IPv6)" ping6 "$T-g2" fd99:89::2
check "g2 reaches g3 (peered)" ping4 "$T-g3" 10.89.2.11
check "g2 reaches through the live router (IPv4)" ping4 "$T-g2" 10.89.78.1
check "g2 reaches through the live router (IPv6)" ping6 "$T-g2" fd99:78::1
check "g1 reaches through the live router (IPv4)" ping4 "$T-g1" 10.89.78.1
check "g1 reaches through the live router (IPv6)" ping6 "$T-g1" fd99:78::1

# connect(2) from NS to ADDR port 80, at most 40 s (TCP's SYN retries
# outlast it): prints the errno's name, or "connected" / "timeout"
cat >"$TMP/conn.py" <<'EOF'
import errno, socket, sys
a = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ':' in a else socket.AF_INET)
s.settimeout(40)
try:
    s.connect((a, 80))
    print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
EOF
conn() { in_ns "$1" "$PY" "$TMP/conn.py" "$2" >"$TMP/conn.$3" 2>&1; }
# all at once: each waits for ARP's or ND's few seconds
conn "$T-g1" 10.89.9.99 nat4 &
conn "$T-g1" fd99:89::99 nat6 &
conn "$T-g2" 10.89.9.98 routed4 &
conn "$T-g2" fd99:89::98 routed6 &
conn "$T-g2" 10.89.3.50 peer4 &
conn "$T-g2" fd89:3::50 peer6 &
conn "$T-g1" 10.89.77.5 nat4r &
conn "$T-g1" fd99:77::5 nat6r &
conn "$T-g2" 10.89.77.6 routed4r &
conn "$T-g2" fd99:77::6 routed6r &
wait
for c in nat4 nat6 routed4 routed6 peer4 peer6 nat4r nat6r routed4r routed6r; do
	got=$(cat "$TMP/conn.$c")
	[ "$got" = EHOSTUNREACH ] && pass "$c: connect to an absent host: $got" ||
		fail "$c: connect to an absent host: '$got', want EHOSTUNREACH"
done
# ping says who answered: the guest's gateway
out=$(in_ns "$T-g1" ping -n -c 6 -i 1 -W 1 10.89.9.99 2>&1)
grep -q "From 192.168.189.1 .*Destination Host Unreachable" <<<"$out" &&
	pass "nat ping: host unreachable from the gateway 192.168.189.1" ||
	fail "nat ping: $(tr '\n' '|' <<<"$out")"
out=$(in_ns "$T-g2" ping -6 -n -c 6 -i 1 -W 1 fd99:89::98 2>&1)
grep -q "From fd89:2::1 .*Address unreachable" <<<"$out" &&
	pass "routed ping -6: address unreachable from the gateway fd89:2::1" ||
	fail "routed ping -6: $(tr '\n' '|' <<<"$out")"
out=$(in_ns "$T-g2" ping -n -c 6 -i 1 -W 1 10.89.77.6 2>&1)
grep -q "From 10.89.2.1 .*Destination Host Unreachable" <<<"$out" &&
	pass "routed ping through a dead router: host unreachable from the gateway 10.89.2.1" ||
	fail "routed ping through a dead router: $(tr '\n' '|' <<<"$out")"
# answered in BPF (counted): NAT, and a router that does not answer;
# a destination on the link is left to the kernel, which answers the
# packets it queued for the failed neighbour itself
n=$(stat "$T-g1" host-unreachable)
[ "${n:-0}" -gt 0 ] && pass "nat: host-unreachable counted ($n)" ||
	fail "nat: host-unreachable not counted: ${n:-none}"
n=$(stat "$T-g2" host-unreachable)
[ "${n:-0}" -gt 0 ] && pass "routed: host-unreachable counted ($n)" ||
	fail "routed: host-unreachable not counted: ${n:-none}"

# a live host's neighbour entry removed under a flow (a flush, a link
# down and up) is resolved again, never answered unreachable: each time
# the FIB finds it resolved, the misses before are forgotten
# (a router's too: the routes through the live one)
before=$(stat "$T-g1" host-unreachable)
before2=$(stat "$T-g2" host-unreachable)
in_ns "$T-g1" ping -n -i 0.1 -c 80 -W 1 10.89.9.2 >"$TMP/flush.ping" 2>&1 &
pp=$!
in_ns "$T-g2" ping -n -i 0.1 -c 80 -W 1 10.89.78.1 >"$TMP/flush.r4" 2>&1 &
pp2=$!
in_ns "$T-g2" ping -6 -n -i 0.1 -c 80 -W 1 fd99:78::1 >"$TMP/flush.r6" 2>&1 &
pp3=$!
for _ in 1 2 3; do sleep 2; ip neigh flush dev "$T-w"; done
wait $pp $pp2 $pp3
after=$(stat "$T-g1" host-unreachable)
after2=$(stat "$T-g2" host-unreachable)
! grep -q Unreachable "$TMP/flush.ping" && [ "$before" = "$after" ] &&
	pass "nat: a live host whose neighbour entry is flushed thrice is not answered unreachable" ||
	fail "nat: flushes: host-unreachable $before -> $after, $(grep -c Unreachable "$TMP/flush.ping") unreachable lines"
! grep -qi unreachable "$TMP/flush.r4" "$TMP/flush.r6" &&
	[ "$before2" = "$after2" ] &&
	pass "routed: a live router whose neighbour entry is flushed thrice is not answered unreachable" ||
	fail "routed: flushes: host-unreachable $before2 -> $after2, $(cat "$TMP/flush.r4" "$TMP/flush.r6" | grep -ci unreachable) unreachable lines"

# the host appears: within a few seconds a packet asks ARP again, and
# from then on it is reached (a present host is never answered so)
ip -n "$T-rt" addr add 10.89.9.99/24 dev eth0
ok=
for _ in $(seq 1 20); do
	ping4 "$T-g1" 10.89.9.99 >/dev/null 2>&1 && { ok=1; break; }
	sleep 1
done
[ -n "$ok" ] && pass "nat: the host that appeared is reached" ||
	fail "nat: 10.89.9.99 still unreachable after it appeared"
before=$(stat "$T-g1" host-unreachable)
out=$(in_ns "$T-g1" ping -n -c 3 -i 0.5 -W 2 10.89.9.99 2>&1)
after=$(stat "$T-g1" host-unreachable)
grep -q " 0% packet loss" <<<"$out" && [ "$before" = "$after" ] &&
	pass "nat: a present host is not answered unreachable" ||
	fail "nat: present host: $before -> $after, $(tr '\n' '|' <<<"$out")"
finish

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Stateful DHCPv6 from the fabric's dnsmasq (`dhcp on` on a network with an
# IPv6 subnet), with ISC dhclient -6 as the guests' client:
#   - the BPF router advertisement and dnsmasq's periodic one both carry
#     the M flag, and the prefix is on-link but not autonomous (no SLAAC);
#   - on a nat network (dhcp on by default) and a routed one (dhcp on),
#     dhclient -6 gets an address from the range; the lease becomes the
#     port's address (port show: source dhcp), so the guest reaches its
#     gateway, the other guest and the WAN from it with spoofcheck on, and
#     the WAN sees that address;
#   - a released lease is no longer the port's.
#
#   $T-wan ns: 10.83.9.2/24 fd99:83::2/64, route to fd83::/16 via the host
#   nat n: 192.168.83.0/24 + fd83:1::/64 (dhcp on), g1 (dhclient), g3 (ip fd83:1::33, static)
#   routed r: fd83:2::/64 dhcp on, wan $T-w, g2 (dhclient)
source "$(dirname "$0")/lib.sh"

for t in dhclient rdisc6 tcpdump; do
	command -v $t >/dev/null || { fail "dhcp6: $t missing (scripts/deps.sh installs it)"; exit 1; }
done
scratch

behind "$T-w" "$T-wan" 10.83.9.2/24 10.83.9.1/24
behind6 "$T-w" "$T-wan" fd99:83::1 fd99:83::2
in_ns "$T-wan" ip route add fd83::/16 via fd99:83::1

check "net add nat with IPv6 (dhcp on by default)" kvmbpf net add n type nat \
	subnet 192.168.83.0/24 subnet fd83:1::/64 wan "$T-w"
check "net add routed with dhcp on" kvmbpf net add r type routed \
	subnet fd83:2::/64 wan "$T-w" dhcp on
check "net show -j: dhcp on, dnsmasq runs" "$PY" -c "
import json, subprocess
ns = json.loads(subprocess.check_output(['$ROOT/build/kvmbpf', '--bpffs', '$BPFFS', '-j', 'net', 'show']))
for n in ns:
    assert n['dhcp'] is True, n
    assert n['dnsmasq_running'], n"
check "save says dhcp on for the routed network" sh -c \
	"'$ROOT/build/kvmbpf' --bpffs $BPFFS save | grep -q '^net add r type routed subnet fd83:2::/64 gateway fd83:2::1 wan $T-w dhcp on mtu 1500'"

# guest NS NET [ATTACH ARGS]: RAs accepted (default route), no SLAAC
guest() {
	local ns=$1 net=$2
	shift 2
	netns_add "$ns"
	# no DAD: the link-local is usable at once (rdisc6, dhclient bind it)
	in_ns "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
	guest_link "$ns" "$ns"
	kvmbpf attach "$ns" net "$net" "$@" || fail "attach $ns"
}
M3=52:54:00:83:00:33
guest "$T-g1" n
guest "$T-g2" r
netns_add "$T-g3"
in_ns "$T-g3" sysctl -qw net.ipv6.conf.default.accept_dad=0
guest_link "$T-g3" "$T-g3"
ip -n "$T-g3" link set eth0 address $M3
kvmbpf attach "$T-g3" net n mac $M3 ip fd83:1::33 || fail "attach g3"
ip -n "$T-g3" addr add fd83:1::33/64 dev eth0 nodad

# --- the RAs: M flag, no autonomous prefix -----------------------------------
in_ns "$T-g1" rdisc6 -1 -r 3 -w 2000 eth0 >"$TMP/sol" 2>&1
grep -q 'Stateful address conf.*Yes' "$TMP/sol" && pass "BPF's RA: M flag (stateful address configuration)" ||
	fail "BPF's RA has no M flag: $(cat "$TMP/sol")"
grep -q 'Autonomous address conf.*No' "$TMP/sol" && grep -q 'Prefix.*fd83:1::/64' "$TMP/sol" &&
	pass "BPF's RA: the prefix on-link, not autonomous" ||
	fail "BPF's RA prefix: $(cat "$TMP/sol")"
# dnsmasq's own: restart it so that its first RAs come within seconds
gw_if=$(kvmbpf -j net show n | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
in_ns "$T-g1" timeout 60 tcpdump -l -vv -n -i eth0 -c 1 \
	'icmp6 and ip6[40] == 134 and not ether src host 00:00:00:00:00:00' >"$TMP/unsol" 2>"$TMP/unsol.err" &
tpid=$!
for i in $(seq 100); do grep -q listening "$TMP/unsol.err" && break; sleep 0.1; done
pid=$(cat "/run/kvmbpf/$gw_if.pid")
kill "$pid"
for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kvmbpf gc >/dev/null	# the upkeep step starts it again
wait "$tpid"
grep -q 'Flags \[managed' "$TMP/unsol" && pass "dnsmasq's RA: M flag" ||
	fail "dnsmasq's RA has no M flag: $(cat "$TMP/unsol")"
grep -q 'prefix info option.*fd83:1::/64, Flags \[onlink\]' "$TMP/unsol" &&
	pass "dnsmasq's RA: the prefix on-link, not autonomous (as BPF's)" ||
	fail "dnsmasq's RA prefix: $(cat "$TMP/unsol")"

# --- dhclient -6 ---------------------------------------------------------------
dhclient6_script
lease6() {	# NS: run dhclient -6 there, print the address it got
	in_ns "$1" timeout 30 dhclient -6 -1 -sf "$TMP/dhclient.sh" \
		-lf "$TMP/$1.leases" -pf "$TMP/$1.pid" eth0 >/dev/null 2>&1
	cat "$TMP/$1.addr" 2>/dev/null
}

a1=$(lease6 "$T-g1")
case "$a1" in
fd83:1::1[0-9a-f][0-9a-f][0-9a-f]) pass "nat: dhclient -6 leased $a1 from the range" ;;
*) fail "nat: dhclient -6 got '$a1'" ;;
esac
check "nat: the lease is the port's address (port show: dhcp)" wait_source "$T-g1" "$a1" dhcp
m1=$(ip -n "$T-g1" link show eth0 | awk '/ether/ {print $2}')
check "net leases -j: the DHCPv6 lease, with its port and the port's MAC" "$PY" -c "
import json, subprocess, time
ls = json.loads(subprocess.check_output(['$ROOT/build/kvmbpf', '--bpffs', '$BPFFS', '-j', 'net', 'leases', 'n']))
l = [l for l in ls if l['address'] == '$a1']
assert len(l) == 1 and l[0]['family'] == 6, ls
l = l[0]
assert l['port'] == '$T-g1' and l['mac'] == '$m1' and l['iaid'] and l['client_id'], l
assert time.time() < l['expiry'], l"
check "net leases: a line for it" sh -c \
	"'$ROOT/build/kvmbpf' --bpffs $BPFFS net leases n | grep -q '^$m1  $a1 .* $T-g1\$'"
a2=$(lease6 "$T-g2")
case "$a2" in
fd83:2::1[0-9a-f][0-9a-f][0-9a-f]) pass "routed: dhclient -6 leased $a2 from the range" ;;
*) fail "routed: dhclient -6 got '$a2'" ;;
esac
check "routed: the lease is the port's address" wait_source "$T-g2" "$a2" dhcp

for g in 1 2; do
	eval a=\$a$g
	# grep -c, not -q: an early exit would SIGPIPE ip (pipefail)
	addrs=$(ip -n "$T-g$g" -6 addr show dev eth0)
	[ "$(grep -c "inet6 fd83:.*scope global" <<<"$addrs")" -gt 0 ] &&
		[ "$(grep -c "inet6 fd83:.*mngtmpaddr" <<<"$addrs")" = 0 ] &&
		pass "g$g: its only global address is the lease (no SLAAC)" ||
		fail "g$g addresses: $(tr "\n" " " <<<"$addrs")"
done
check "nat: g1 pings its gateway from the lease" in_ns "$T-g1" ping -6 -n -c 1 -W 2 -I "$a1" fd83:1::1
check "nat: g1 reaches g3 from the lease" in_ns "$T-g1" ping -6 -n -c 1 -W 2 -I "$a1" fd83:1::33
check "nat: g1 pings the WAN from the lease" in_ns "$T-g1" ping -6 -n -c 1 -W 2 -I "$a1" fd99:83::2
check "routed: g2 pings its gateway from the lease" in_ns "$T-g2" ping -6 -n -c 1 -W 2 -I "$a2" fd83:2::1 || kvmbpf stats "$T-g2"
check "routed: g2 pings the WAN from the lease" in_ns "$T-g2" ping -6 -n -c 1 -W 2 -I "$a2" fd99:83::2
check "TCP g2 -> WAN from the lease (IPv6, 4 MiB, sha256)" tcp_sha "$T-g2" "$T-wan" fd99:83::2 4
check "TCP WAN -> g1's lease (IPv6, 4 MiB, sha256)" tcp_sha "$T-wan" "$T-g1" "$a1" 4
[ "$(stat "$T-g1" spoof-ip)" = 0 ] && [ "$(stat "$T-g2" spoof-ip)" = 0 ] &&
	pass "nothing from the leased addresses refused" ||
	fail "spoof-ip: g1 $(stat "$T-g1" spoof-ip), g2 $(stat "$T-g2" spoof-ip)"
# g1's lease is g1's: g3, on the same network, cannot send from it
s0=$(stat "$T-g3" savi-conflict)
ip -n "$T-g3" addr add "$a1/128" dev eth0 nodad
check_not "g3 cannot send from g1's leased address" in_ns "$T-g3" ping -6 -n -c 1 -W 2 -I "$a1" fd83:1::1
[ "$(stat "$T-g3" savi-conflict)" -gt "$s0" ] && pass "counted as savi-conflict" ||
	fail "not counted: $(kvmbpf stats "$T-g3" 2>&1 | tr "\n" " ")"
ip -n "$T-g3" addr del "$a1/128" dev eth0
check "g1 still reaches its gateway from the lease" in_ns "$T-g1" ping -6 -n -c 1 -W 2 -I "$a1" fd83:1::1

# --- release ------------------------------------------------------------------
in_ns "$T-g2" timeout 20 dhclient -6 -r -sf "$TMP/dhclient.sh" -lf "$TMP/$T-g2.leases" \
	-pf "$TMP/$T-g2.pid" eth0 >/dev/null 2>&1
check "a released lease is no longer the port's" wait_source "$T-g2" "$a2" ""
# --- release and ask again, boot after boot (ifdown/ifup): the server's
# "del" gives the lease back into the port's budget (before, the 17th
# boot got no lease: dhcp6-lease-cap)
c0=$(stat "$T-g2" dhcp6-lease-cap)
got=0
for i in $(seq 18); do
	rm -f "$TMP/$T-g2.addr"
	a=$(lease6 "$T-g2")
	[ -n "$a" ] && got=$((got + 1))
	in_ns "$T-g2" timeout 20 dhclient -6 -r -sf "$TMP/dhclient.sh" -lf "$TMP/$T-g2.leases" \
		-pf "$TMP/$T-g2.pid" eth0 >/dev/null 2>&1
done
[ "$got" = 18 ] && [ "$(stat "$T-g2" dhcp6-lease-cap)" = "$c0" ] &&
	pass "18 boots of release and request: a lease each time, nothing refused" ||
	fail "18 boots of release and request: $got leases, dhcp6-lease-cap +$(($(stat "$T-g2" dhcp6-lease-cap) - c0))"

# --- a reserved address (dhcp-host add, no client) is leased to nobody:
# the address the server gives g2 boot after boot, once reserved, is not
# given again; the port's static IPv6 `ip` is in dnsmasq's hosts file
again() {
	rm -f "$TMP/$T-g2.addr"
	lease6 "$T-g2"
	in_ns "$T-g2" timeout 20 dhclient -6 -r -sf "$TMP/dhclient.sh" -lf "$TMP/$T-g2.leases" \
		-pf "$TMP/$T-g2.pid" eth0 >/dev/null 2>&1
}
# the client keeps its DUID and forgets its lease (a SOLICIT that hints
# at its old address is given it: dnsmasq checks the hosts file when it
# picks an address, not a client's hint; README)
forget() {
	grep '^default-duid' "$TMP/$T-g2.leases" >"$TMP/duid" && mv "$TMP/duid" "$TMP/$T-g2.leases"
}
b1=$(again); forget; b2=$(again)
[ -n "$b1" ] && [ "$b1" = "$b2" ] && pass "g2 is given $b1 boot after boot, its lease forgotten" ||
	fail "g2's leases boot after boot: '$b1' '$b2'"
check "dhcp-host add r ip $b1 (no client)" kvmbpf dhcp-host add r ip "$b1"
forget
b3=$(again)
case "$b3" in
"$b1"|"") fail "after the reservation g2 got '$b3' (reserved: $b1)" ;;
fd83:2::1[0-9a-f][0-9a-f][0-9a-f]) pass "g2 got another address ($b3) once $b1 was reserved" ;;
*) fail "after the reservation g2 got '$b3'" ;;
esac
rgw=$(kvmbpf -j net show r | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
ngw=$(kvmbpf -j net show n | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
grep -Eq "^id:kvmbpf-[0-9a-f]{16}-host-[0-9]+,\[$b1\]\$" "/run/kvmbpf/$rgw.hosts" &&
	pass "the reservation is in dnsmasq's hosts file, under the fabric's tag" ||
	fail "hosts file of r: $(tr '\n' ' ' <"/run/kvmbpf/$rgw.hosts")"
# its identifier is no guest's to send: one that sends the one an older
# build wrote (the same on every host) as its DUID is not given it
printf 'default-duid "kvmbpf-host-1";\n' >"$TMP/$T-g2.leases"
b4=$(again)
[ -n "$b4" ] && [ "$b4" != "$b1" ] &&
	pass "a client whose DUID is kvmbpf-host-1 gets $b4, not the reserved $b1" ||
	fail "a client whose DUID is kvmbpf-host-1 got '$b4' (reserved: $b1)"
grep -Eq "^id:kvmbpf-[0-9a-f]{16}-reserved-[0-9]+,\[fd83:1::33\]\$" "/run/kvmbpf/$ngw.hosts" &&
	pass "g3's static IPv6 address is kept from DHCPv6 clients" ||
	fail "hosts file of n: $(tr '\n' ' ' <"/run/kvmbpf/$ngw.hosts")"
finish

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dhcpcd (Debian's dhcpcd-base, its stock /etc/dhcpcd.conf: duid,
# slaac private, hooks) as the guests' client, each in its own mount and
# UTS namespace with its own /run/dhcpcd, /var/lib/dhcpcd (DUID, secret)
# and /etc/resolv.conf, as a VM has:
#   - nat n (dhcp on): an IPv4 lease and a DHCPv6 one; routed r (dhcp on):
#     the same; routed s (dhcp off): SLAAC, stable-privacy (RFC 7217)
#     addresses, global and link-local;
#   - every address dhcpcd configured is the port's binding (port show -j:
#     the leases dhcp, the SLAAC and link-local ones savi), nothing from
#     them refused, and the guest reaches its gateway, the host and the
#     WAN (nat: IPv4 translated) over IPv4 and IPv6;
#   - dhcpcd -n (renew) keeps the bindings and the addresses; dhcpcd -k
#     (release) takes the leases off the port.
#
#   $T-wan ns: 10.84.9.2/24 fd99:84::2/64, routes to 10.84.0.0/16, fd84::/16
#   nat n: 192.168.84.0/24 + fd84:1::/64 (dhcp on) g1
#   routed r: 10.84.2.0/24 + fd84:2::/64 (dhcp on) g2
#   routed s: 10.84.3.0/24 + fd84:3::/64 (dhcp off) g3
source "$(dirname "$0")/lib.sh"

command -v dhcpcd >/dev/null || { fail "dhcpcd: missing (scripts/deps.sh installs dhcpcd-base)"; exit 1; }
[ -f /etc/dhcpcd.conf ] || { fail "dhcpcd: /etc/dhcpcd.conf missing"; exit 1; }
grep -q '^slaac private' /etc/dhcpcd.conf || { fail "dhcpcd: /etc/dhcpcd.conf is not Debian's (no slaac private)"; exit 1; }
scratch

behind "$T-w" "$T-wan" 10.84.9.2/24 10.84.9.1/24
behind6 "$T-w" "$T-wan" fd99:84::1 fd99:84::2
in_ns "$T-wan" ip route add 10.84.0.0/16 via 10.84.9.1
in_ns "$T-wan" ip route add fd84::/16 via fd99:84::1

check "net add nat (dhcp on)" kvmbpf net add n type nat \
	subnet 192.168.84.0/24 subnet fd84:1::/64 wan "$T-w"
check "net add routed (dhcp on)" kvmbpf net add r type routed \
	subnet 10.84.2.0/24 subnet fd84:2::/64 wan "$T-w" dhcp on
check "net add routed (dhcp off)" kvmbpf net add s type routed \
	subnet 10.84.3.0/24 subnet fd84:3::/64 wan "$T-w"

# dhcpcd_start NS: Debian's dhcpcd on the guest's eth0 in the foreground,
# its pid in DPID_NS (nsenter -t finds its files for -n/-k)
mkdir -p /run/dhcpcd /var/lib/dhcpcd
dhcpcd_start() {
	local ns=$1
	: >"$TMP/$ns.resolv"
	bg_ns "$ns" unshare --mount --uts sh -c "
		mount -t tmpfs kvbt /run/dhcpcd && mount -t tmpfs kvbt /var/lib/dhcpcd &&
		mount --bind '$TMP/$ns.resolv' /etc/resolv.conf &&
		exec dhcpcd -B eth0" >"$TMP/$ns.log" 2>&1
	eval "DPID_${ns//-/_}=$BG_PID"
}
dhcpcd_ctl() {	# NS ARGS...: dhcpcd ARGS in the running one's namespaces
	local ns=$1 pid
	shift
	eval "pid=\$DPID_${ns//-/_}"
	nsenter -t "$pid" -m -n -u dhcpcd "$@"
}
guest() {	# NS NET
	netns_add "$1"
	guest_link "$1" "$1"
	kvmbpf attach "$1" net "$2" || fail "attach $1"
	# as at boot: dhcpcd brings the NIC up (and sets its address mode)
	ip -n "$1" link set eth0 down
	dhcpcd_start "$1"
}
guest "$T-g1" n
guest "$T-g2" r
guest "$T-g3" s

# addrs NS: eth0's addresses as "ADDR/LEN flags" lines (no tentative ones)
addrs() { ip -n "$1" -o addr show dev eth0 | grep -v tentative | awk '{print $4}'; }
# wait_addr NS REGEX: until eth0 has a matching address, at most 30 s
wait_addr() {
	local i
	for i in $(seq 300); do
		addrs "$1" | grep -Eq "$2" && return 0
		sleep 0.1
	done
	return 1
}
# bound NS ADDR...: every ADDR is a binding of port NS with the source
# given after it as ADDR=SOURCE
bound() {
	local name=$1 ns=$2 a
	shift 2
	for a in "$@"; do
		wait_source "$ns" "${a%=*}" "${a#*=}" && continue
		fail "$name: ${a%=*} is '$(addr_source "$ns" "${a%=*}")', not ${a#*=}; port show: $(kvmbpf -j port show "$ns")"
		return 1
	done
	pass "$name"
}

for g in 1 2 3; do
	case $g in
	1) re4='^192\.168\.84\.[0-9]+/24$' re6='^fd84:1::1[0-9a-f]{3}/128$' ;;
	2) re4='^10\.84\.2\.[0-9]+/24$' re6='^fd84:2::1[0-9a-f]{3}/128$' ;;
	3) re4='' re6='^fd84:3::[0-9a-f:]+/64$' ;;
	esac
	if [ -n "$re4" ]; then
		wait_addr "$T-g$g" "$re4" && pass "g$g: dhcpcd leased IPv4 $(addrs "$T-g$g" | grep -E "$re4")" ||
			fail "g$g: no IPv4 lease: $(addrs "$T-g$g" | tr '\n' ' '); $(tail -5 "$TMP/$T-g$g.log")"
	fi
	wait_addr "$T-g$g" "$re6" && pass "g$g: dhcpcd configured IPv6 $(addrs "$T-g$g" | grep -E "$re6")" ||
		fail "g$g: no IPv6 address: $(addrs "$T-g$g" | tr '\n' ' '); $(tail -5 "$TMP/$T-g$g.log")"
done
v4() { addrs "$1" | grep -v : | grep -v '^169\.254' | cut -d/ -f1 | head -1; }
v6() { addrs "$1" | grep -E '^fd84:' | cut -d/ -f1 | head -1; }
ll() { addrs "$1" | grep -E '^fe80:' | cut -d/ -f1 | head -1; }
a41=$(v4 "$T-g1") a42=$(v4 "$T-g2")
a61=$(v6 "$T-g1") a62=$(v6 "$T-g2") a63=$(v6 "$T-g3")
l1=$(ll "$T-g1") l2=$(ll "$T-g2") l3=$(ll "$T-g3")

# slaac private: the interface identifier is RFC 7217's, not the MAC's
eui64() {
	local mac
	mac=$(ip -n "$1" link show eth0 | awk '/ether/ {print $2}')
	"$PY" -c "
m = [int(x, 16) for x in '$mac'.split(':')]
m[0] ^= 2
b = m[:3] + [0xff, 0xfe] + m[3:]
print(':'.join('%x' % (b[i] << 8 | b[i + 1]) for i in range(0, 8, 2)))"
}
iid() { "$PY" -c "import ipaddress; a = ipaddress.ip_address('$1').exploded.split(':'); print(':'.join('%x' % int(x, 16) for x in a[4:]))"; }
if [ -n "$a63" ] && [ "$(iid "$a63")" != "$(eui64 "$T-g3")" ] &&
	[ -n "$l3" ] && [ "$(iid "$l3")" != "$(eui64 "$T-g3")" ]; then
	pass "g3: SLAAC and link-local are stable-privacy ($a63, $l3), not EUI-64"
else
	fail "g3: addresses '$a63' '$l3' (EUI-64 $(eui64 "$T-g3"))"
fi

bound "g1: port show binds the IPv4 and DHCPv6 leases (dhcp), the link-local (savi)" \
	"$T-g1" "$a41=dhcp" "$a61=dhcp" "$l1=savi"
bound "g2: port show binds the IPv4 and DHCPv6 leases (dhcp), the link-local (savi)" \
	"$T-g2" "$a42=dhcp" "$a62=dhcp" "$l2=savi"
bound "g3: port show binds the stable-privacy SLAAC and link-local (savi)" \
	"$T-g3" "$a63=savi" "$l3=savi"

gw6() { ip -n "$1" -6 route show default | awk '{print $3; exit}'; }
reach() {	# TAG: every guest reaches gateway, host and WAN, IPv4 and IPv6
	check "g1 $1: IPv4 gateway" ping4 "$T-g1" 192.168.84.1
	check "g1 $1: IPv4 WAN (translated)" ping4 "$T-g1" 10.84.9.2
	check "g1 $1: IPv6 gateway" ping6 "$T-g1" fd84:1::1
	check "g1 $1: IPv6 WAN (routed)" ping6 "$T-g1" fd99:84::2
	check "g1 $1: IPv6 default router (from the RA) by link-local" ping6 "$T-g1" "$(gw6 "$T-g1")%eth0"
	check "g2 $1: IPv4 gateway" ping4 "$T-g2" 10.84.2.1
	check "g2 $1: IPv4 host (WAN address)" ping4 "$T-g2" 10.84.9.1
	check "g2 $1: IPv4 WAN" ping4 "$T-g2" 10.84.9.2
	check "g2 $1: IPv6 gateway" ping6 "$T-g2" fd84:2::1
	check "g2 $1: IPv6 WAN" ping6 "$T-g2" fd99:84::2
	check "g3 $1: IPv6 gateway" ping6 "$T-g3" fd84:3::1
	check "g3 $1: IPv6 host (WAN address)" ping6 "$T-g3" fd99:84::1
	check "g3 $1: IPv6 WAN" ping6 "$T-g3" fd99:84::2
}
reach "(dhcpcd's addresses)"
peer=$(seen_from "$T-wan" 10.84.9.2 8084 "$T-g1")
[ "$peer" = 10.84.9.1 ] && pass "g1: the WAN sees the host's address" || fail "g1: the WAN saw '$peer'"
peer=$(seen_from "$T-wan" fd99:84::2 8084 "$T-g3")
[ "$peer" = "$a63" ] && pass "g3: the WAN sees the stable-privacy address" || fail "g3: the WAN saw '$peer'"
check "TCP WAN -> g2's DHCPv6 lease (1 MiB, sha256)" tcp_sha "$T-wan" "$T-g2" "$a62" 1
sum=0
for g in 1 2 3; do sum=$((sum + $(stat "$T-g$g" spoof-ip) + $(stat "$T-g$g" savi-conflict) + $(stat "$T-g$g" spoof-nd))); done
[ "$sum" = 0 ] && pass "nothing dhcpcd's guests sent was refused as spoofed" ||
	fail "spoof drops: $(for g in 1 2 3; do kvmbpf stats "$T-g$g"; done | grep -iE 'spoof|savi' | tr '\n' ' ')"

# --- renew ------------------------------------------------------------------------
for g in 1 2; do dhcpcd_ctl "$T-g$g" -n eth0 >/dev/null 2>&1 || fail "g$g: dhcpcd -n"; done
sleep 3
[ "$(v4 "$T-g1")" = "$a41" ] && [ "$(v4 "$T-g2")" = "$a42" ] &&
	[ "$(v6 "$T-g1")" = "$a61" ] && [ "$(v6 "$T-g2")" = "$a62" ] &&
	pass "dhcpcd -n: the guests keep their addresses" ||
	fail "after dhcpcd -n: g1 $(addrs "$T-g1" | tr '\n' ' '), g2 $(addrs "$T-g2" | tr '\n' ' ')"
bound "g1 after renew: leases still bound (dhcp)" "$T-g1" "$a41=dhcp" "$a61=dhcp" "$l1=savi"
bound "g2 after renew: leases still bound (dhcp)" "$T-g2" "$a42=dhcp" "$a62=dhcp" "$l2=savi"
reach "(after renew)"

# --- release ----------------------------------------------------------------------
dhcpcd_ctl "$T-g1" -k eth0 >/dev/null 2>&1 || fail "g1: dhcpcd -k"
for i in $(seq 50); do addrs "$T-g1" | grep -q "^$a41/" || break; sleep 0.1; done
! addrs "$T-g1" | grep -Eq "^($a41|$a61)/" && pass "dhcpcd -k: g1 dropped its leased addresses" ||
	fail "dhcpcd -k: g1 still has $(addrs "$T-g1" | tr '\n' ' ')"
check "g1 released: the IPv4 lease is no longer the port's" wait_source "$T-g1" "$a41" ""
check "g1 released: the DHCPv6 lease is no longer the port's" wait_source "$T-g1" "$a61" ""
ip -n "$T-g1" addr add "$a41/24" dev eth0
check_not "g1 released: sending from the old IPv4 lease is refused" ping4 "$T-g1" 192.168.84.1
ip -n "$T-g1" addr del "$a41/24" dev eth0
check "g2 unaffected by g1's release" ping4 "$T-g2" 10.84.2.1
finish

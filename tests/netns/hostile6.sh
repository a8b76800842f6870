#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A hostile guest against DHCPv6 leases and their bindings on a nat network
# with IPv6 (dhcp on): dnsmasq's lease script (kvmbpf dhcp-event) binds a
# lease to the port whose MAC is the client's, so everything a guest can
# make that script believe is tried, with frames crafted by scapy and with
# the lease script run as dnsmasq runs it. Every verdict from the fabric's
# counters or its bindings (port show -j):
#   - a RELAY-FORW from a guest (from port 546: one from 547 was refused
#     already), its client link-layer option naming another port's MAC:
#     spoof-dhcp-server, no lease bound to the victim;
#   - a REQUEST from a link-local that answers no neighbour solicitation
#     (dnsmasq learns no MAC) with a DUID-LL of the victim's MAC: no lease
#     bound to the victim;
#   - the lease script with no DNSMASQ_MAC, an address outside the
#     network's IPv6 subnets, the gateway's address, more leases than a
#     port may hold (capped at 16), a client hostname that looks like an
#     option: nothing bound that should not be, nothing redirected;
#   - a guest that sends from an address of the DHCPv6 range before the
#     lease script has made it the client's lease loses it to the lease;
#   - a forged RELEASE, RENEW or REBIND of the victim's lease (its DUID
#     and IAID, which the victim's multicast REQUEST shows every port)
#     leaves the victim's binding, and the attacker cannot send from the
#     address;
#   - the gateway's identity: RA, redirect, NA for the gateway's address or
#     link-local, packets from them, a DAD probe for the gateway's address
#     (answered by the gateway, nothing bound),
#     a DHCPv6 ADVERTISE to the victim: each counted, the victim's
#     neighbour table never names the attacker.
#
#   nat n: 192.168.86.0/24 + fd86:1::/64 (dhcp on), g1 victim (dhclient -6),
#   g2 attacker (scapy)
source "$(dirname "$0")/lib.sh"

command -v dhclient >/dev/null || { fail "hostile6: dhclient missing (scripts/deps.sh installs it)"; exit 1; }
"$PY" -c 'import scapy.layers.dhcp6' 2>/dev/null ||
	{ fail "hostile6: python3-scapy missing (scripts/deps.sh installs it)"; exit 1; }
scratch

M1=52:54:00:86:00:11
M2=52:54:00:86:00:22
check "net add nat with IPv6 (dhcp on)" kvmbpf net add n type nat \
	subnet 192.168.86.0/24 subnet fd86:1::/64
gw_if=$(kvmbpf -j net show n | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
LEASES=/run/kvmbpf/$gw_if.leases
SCRIPT=/run/kvmbpf/$gw_if.lease-script
for i in 1 2; do
	eval m=\$M$i
	netns_add "$T-g$i"
	in_ns "$T-g$i" sysctl -qw net.ipv6.conf.default.accept_dad=0
	guest_link "$T-g$i" "$T-g$i"
	ip -n "$T-g$i" link set eth0 address "$m"
	kvmbpf attach "$T-g$i" net n mac "$m" || fail "attach g$i"
done
# the attacker's own stack stays quiet: its frames are the test's
in_ns "$T-g2" sysctl -qw net.ipv6.conf.eth0.accept_ra=0 \
	net.ipv6.conf.eth0.router_solicitations=0

# nleases DEV: how many dhcp bindings DEV holds
nleases() {
	kvmbpf -j port show "$1" | "$PY" -c "
import json, sys
print(sum(a['source'] == 'dhcp' for a in json.load(sys.stdin)['addresses']))"
}
# event ENV... -- ARGS: the lease script, as dnsmasq runs it
event() {
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env -i PATH="$PATH" "${envs[@]}" "$SCRIPT" "$@" >/dev/null 2>&1
}
# scapy FRAME-EXPRESSION: sent once from the attacker's eth0
scapy_g2() {
	in_ns "$T-g2" "$PY" -c "
from scapy.all import *
from scapy.layers.dhcp6 import *
conf.verb = 0
sendp($1, iface='eth0')"
}
# lease_done ADDR: dnsmasq has leased ADDR (its lease file) and its lease
# script has run: dnsmasq's script helper (its child) has no child left
lease_done() {
	local i helper
	for i in $(seq 100); do
		grep -q " $1 " "$LEASES" && break
		sleep 0.1
	done
	helper=$(pgrep -P "$(cat "/run/kvmbpf/$gw_if.pid")" | head -n 1)
	for i in $(seq 50); do
		[ -n "$helper" ] && pgrep -P "$helper" >/dev/null || return 0
		sleep 0.1
	done
}
# lease_gone ADDR: dnsmasq no longer has a lease of ADDR (at most 5 s)
lease_gone() {
	local i
	for i in $(seq 50); do
		grep -q " $1 " "$LEASES" || return 0
		sleep 0.1
	done
	return 1
}

# victim_state: what a failed lease check needs to be understood (a CI
# run once found the victim's binding gone after forged messages that the
# guard had refused; alone, the script never did): the victim's bindings,
# dnsmasq's leases, the dhclient still running, the guard's counters
victim_state() {
	echo "  victim's port: $(kvmbpf -j port show "$T-g1" | tr -d '\n' | cut -c1-600)"
	echo "  leases: $(tr '\n' '|' <"$LEASES")"
	echo "  dhclient in g1: $(pgrep -af "dhclient -6 .*$TMP/g1" | head -n 1)"
	echo "  g1 counters: $(kvmbpf stats "$T-g1" 2>&1 | tr -s ' \n' ' ' | cut -c1-400)"
}

# --- the victim's real lease (dhclient -6) ------------------------------------
cat >"$TMP/dhclient.sh" <<EOS
#!/bin/sh
case \$reason in BOUND6|RENEW6|REBIND6|REBOOT6)
	ip -6 addr replace "\$new_ip6_address/\$new_ip6_prefixlen" dev "\$interface" nodad
	echo "\$new_ip6_address" >"$TMP/\$(ip netns identify).addr" ;;
esac
exit 0
EOS
chmod +x "$TMP/dhclient.sh"
in_ns "$T-g1" timeout 30 dhclient -6 -1 -sf "$TMP/dhclient.sh" \
	-lf "$TMP/g1.leases" -pf "$TMP/g1.pid" eth0 >/dev/null 2>&1
A1=$(cat "$TMP/$T-g1.addr" 2>/dev/null)
case "$A1" in
fd86:1::1[0-9a-f][0-9a-f][0-9a-f]) pass "victim leased $A1" ;;
*) fail "victim's dhclient -6 got '$A1'"; exit 1 ;;
esac
check "the victim's lease is its port's (dhcp)" wait_source "$T-g1" "$A1" dhcp
# what every port saw in the victim's multicast REQUEST: DUID and IAID
read -r IAID DUID < <(awk -v a="$A1" '$3 == a { print $2, $5 }' "$LEASES")
SDUID=$(awk '$1 == "duid" { print $2 }' "$LEASES")
[ -n "$DUID" ] && [ -n "$SDUID" ] && pass "the victim's DUID $DUID, IAID $IAID" ||
	fail "no DUIDs in $LEASES: $(cat "$LEASES")"
hexb() { tr -d : <<<"$1"; }
LL2=$(ip -n "$T-g2" -6 addr show dev eth0 scope link | awk '/inet6/ { sub("/.*", "", $2); print $2 }')

# --- a relayed REQUEST naming the victim's MAC --------------------------------
s0=$(stat "$T-g2" spoof-dhcp-server)
R1=fd86:1::1555
scapy_g2 "Ether(src='$M2', dst='33:33:00:01:00:02')/IPv6(src='$LL2', dst='ff02::1:2')/UDP(sport=546, dport=547)/\
DHCP6_RelayForward(hopcount=0, linkaddr='fd86:1::', peeraddr='fe80::5054:ff:fe86:11')/\
DHCP6OptClientLinkLayerAddr(lltype=1, clladdr='$M1')/\
DHCP6OptRelayMsg(message=DHCP6_Request(trid=0x1234)/DHCP6OptClientId(duid=DUID_EN(enterprisenum=1, id=b'hostile6relay'))/\
DHCP6OptServerId(duid=bytes.fromhex('$(hexb "$SDUID")'))/DHCP6OptElapsedTime()/\
DHCP6OptIA_NA(iaid=7, ianaopts=[DHCP6OptIAAddress(addr='$R1', preflft=0, validlft=0)]))"
[ "$(stat "$T-g2" spoof-dhcp-server)" -gt "$s0" ] || lease_done "$R1"
[ "$(stat "$T-g2" spoof-dhcp-server)" -gt "$s0" ] && pass "RELAY-FORW from a guest: spoof-dhcp" ||
	fail "RELAY-FORW from a guest not refused (spoof-dhcp-server $(stat "$T-g2" spoof-dhcp-server))"
[ -z "$(addr_source "$T-g1" "$R1")" ] && pass "no relayed lease bound to the victim's port" ||
	fail "relayed lease $R1 bound to the victim: $(addr_source "$T-g1" "$R1")"

# --- a REQUEST from a mute link-local with a DUID-LL of the victim's MAC -------
# fe80::dead answers no neighbour solicitation: dnsmasq learns no MAC and
# the lease script is left with the client's DUID alone
R2=fd86:1::1666
scapy_g2 "Ether(src='$M2', dst='33:33:00:01:00:02')/IPv6(src='fe80::dead', dst='ff02::1:2')/UDP(sport=546, dport=547)/\
DHCP6_Request(trid=0x4321)/DHCP6OptClientId(duid=DUID_LL(lladdr='$M1'))/\
DHCP6OptServerId(duid=bytes.fromhex('$(hexb "$SDUID")'))/DHCP6OptElapsedTime()/\
DHCP6OptIA_NA(iaid=9, ianaopts=[DHCP6OptIAAddress(addr='$R2', preflft=0, validlft=0)])"
lease_done "$R2"
grep -q " $R2 " "$LEASES" && pass "dnsmasq leased $R2 to the forged DUID-LL" ||
	pass "dnsmasq did not lease $R2 (nothing to bind either way)"
[ -z "$(addr_source "$T-g1" "$R2")" ] && pass "a DUID-LL naming the victim's MAC binds nothing to the victim" ||
	fail "forged DUID-LL lease $R2 bound to the victim: $(addr_source "$T-g1" "$R2")"

# --- the lease script's own checks ---------------------------------------------
DUIDLL1=00:03:00:01:$M1
event -- add "$DUIDLL1" fd86:1::1777 x
[ -z "$(addr_source "$T-g1" fd86:1::1777)" ] && pass "lease script: no DNSMASQ_MAC, nothing bound (the DUID is the client's word)" ||
	fail "lease script bound fd86:1::1777 by the DUID's MAC"
event DNSMASQ_MAC=$M2 -- add 00:02:00:00:00:01:41 fd99::5 x
[ -z "$(addr_source "$T-g2" fd99::5)" ] && pass "lease script: an address outside the subnets is not bound" ||
	fail "lease script bound fd99::5 (outside fd86:1::/64)"
event DNSMASQ_MAC=$M2 -- add 00:02:00:00:00:01:42 fd86:1::1 x
[ -z "$(addr_source "$T-g2" fd86:1::1)" ] && pass "lease script: the gateway's address is not bound" ||
	fail "lease script bound the gateway's fd86:1::1"
for i in $(seq 20); do
	event DNSMASQ_MAC=$M2 DNSMASQ_TIME_REMAINING=3600 -- add \
		00:02:00:00:00:01:$(printf %02x "$i") "fd86:1::1$(printf %03x $((0x800 + i)))" x
done
[ "$(nleases "$T-g2")" = 16 ] && pass "20 leases for one port: 16 bound (the cap)" ||
	fail "20 leases for one port: $(nleases "$T-g2") bound"
event DNSMASQ_MAC=$M1 DNSMASQ_TIME_REMAINING=3600 -- add 00:02:00:00:00:01:99 fd86:1::1999 --bpffs=/nonexistent
[ "$(addr_source "$T-g1" fd86:1::1999)" = dhcp ] && pass "a hostname that looks like an option is no option" ||
	fail "lease with hostname '--bpffs=/nonexistent' not bound: $(addr_source "$T-g1" fd86:1::1999)"
event DNSMASQ_MAC=$M1 -- del 00:02:00:00:00:01:99 fd86:1::1999
[ -z "$(addr_source "$T-g1" fd86:1::1999)" ] && pass "the lease's end unbinds it" ||
	fail "fd86:1::1999 still bound after del"
# a reserved address (dhcp-host) that dnsmasq gave a client asking for it
# by name is not bound: the port given it with `ip` must still be
kvmbpf dhcp-host add n ip fd86:1::1998 || fail "dhcp-host add n ip fd86:1::1998"
event DNSMASQ_MAC=$M1 DNSMASQ_TIME_REMAINING=3600 -- add 00:02:00:00:00:01:98 fd86:1::1998 x
[ -z "$(addr_source "$T-g1" fd86:1::1998)" ] && pass "lease script: a reserved address is not bound" ||
	fail "lease script bound the reserved fd86:1::1998: $(addr_source "$T-g1" fd86:1::1998)"
kvmbpf dhcp-host del n ip fd86:1::1998 || fail "dhcp-host del n ip fd86:1::1998"
# the attacker's 16: ended, so that it may claim by first use below
for i in $(seq 20); do
	event DNSMASQ_MAC=$M2 -- del 00:02:00:00:00:01:$(printf %02x "$i") "fd86:1::1$(printf %03x $((0x800 + i)))"
done
[ "$(nleases "$T-g2")" = 0 ] || fail "attacker's leases not ended: $(nleases "$T-g2")"

# --- squatting: the attacker sends from an address of the range first ---------
R3=fd86:1::1abc
scapy_g2 "Ether(src='$M2', dst='33:33:00:00:00:01')/IPv6(src='$R3', dst='ff02::1')/ICMPv6EchoRequest()"
[ "$(addr_source "$T-g2" "$R3")" = savi ] && pass "the attacker bound $R3 by first use" ||
	fail "the attacker's first use of $R3: '$(addr_source "$T-g2" "$R3")'"
# a client's REQUEST for the squatted address still passes the guard (to
# another server: dnsmasq leaves it alone)
LL1=$(ip -n "$T-g1" -6 addr show dev eth0 scope link | awk '/inet6/ { sub("/.*", "", $2); print $2 }')
s1=$(stat "$T-g1" dhcp6-foreign)
in_ns "$T-g1" "$PY" -c "
from scapy.all import *
from scapy.layers.dhcp6 import *
conf.verb = 0
sendp(Ether(src='$M1', dst='33:33:00:01:00:02')/IPv6(src='$LL1', dst='ff02::1:2')/UDP(sport=546, dport=547)/\
DHCP6_Request(trid=0x7777)/DHCP6OptClientId(duid=bytes.fromhex('$(hexb "$DUID")'))/\
DHCP6OptServerId(duid=DUID_EN(enterprisenum=1, id=b'elsewhere'))/DHCP6OptElapsedTime()/\
DHCP6OptIA_NA(iaid=$IAID, ianaopts=[DHCP6OptIAAddress(addr='$R3', preflft=0, validlft=0)]), iface='eth0')"
[ "$(stat "$T-g1" dhcp6-foreign)" = "$s1" ] &&
	pass "a REQUEST for an address another port squats on passes the guard" ||
	fail "the squatter's first use of $R3 made the client's REQUEST dhcp6-foreign"
event DNSMASQ_MAC=$M1 DNSMASQ_TIME_REMAINING=3600 -- add "$DUID" "$R3" x
[ "$(addr_source "$T-g1" "$R3")" = dhcp ] && [ -z "$(addr_source "$T-g2" "$R3")" ] &&
	pass "the lease takes $R3 from the squatter's first claim" ||
	fail "lease of $R3: victim '$(addr_source "$T-g1" "$R3")', squatter '$(addr_source "$T-g2" "$R3")'"
s0=$(stat "$T-g2" savi-conflict)
scapy_g2 "Ether(src='$M2', dst='33:33:00:00:00:01')/IPv6(src='$R3', dst='ff02::1')/ICMPv6EchoRequest()"
[ "$(stat "$T-g2" savi-conflict)" -gt "$s0" ] && pass "the squatter sending from it now: savi-conflict" ||
	fail "the squatter's use of the leased $R3 not refused"
event DNSMASQ_MAC=$M1 -- del "$DUID" "$R3"

# --- a forged RELEASE of the victim's lease ------------------------------------
s1=$(stat "$T-g2" dhcp6-foreign)
scapy_g2 "Ether(src='$M2', dst='33:33:00:01:00:02')/IPv6(src='$LL2', dst='ff02::1:2')/UDP(sport=546, dport=547)/\
DHCP6_Release(trid=0x5555)/DHCP6OptClientId(duid=bytes.fromhex('$(hexb "$DUID")'))/\
DHCP6OptServerId(duid=bytes.fromhex('$(hexb "$SDUID")'))/DHCP6OptElapsedTime()/\
DHCP6OptIA_NA(iaid=$IAID, ianaopts=[DHCP6OptIAAddress(addr='$A1', preflft=0, validlft=0)])"
if [ "$(stat "$T-g2" dhcp6-foreign)" -gt "$s1" ]; then
	pass "a RELEASE of another port's address: dhcp6-foreign"
else
	fail "a RELEASE of another port's address passed the guard"
	lease_gone "$A1" && lease_done "$A1"
fi
[ "$(addr_source "$T-g1" "$A1")" = dhcp ] && grep -q " $A1 " "$LEASES" &&
	pass "a forged RELEASE leaves the victim's lease and binding" || {
	fail "forged RELEASE: the victim's $A1 is '$(addr_source "$T-g1" "$A1")'"
	victim_state
}
s0=$(stat "$T-g2" savi-conflict)
scapy_g2 "Ether(src='$M2', dst='33:33:00:00:00:01')/IPv6(src='$A1', dst='ff02::1')/ICMPv6EchoRequest()"
[ -z "$(addr_source "$T-g2" "$A1")" ] && [ "$(stat "$T-g2" savi-conflict)" -gt "$s0" ] &&
	pass "the attacker cannot send from the victim's leased address (savi-conflict)" ||
	fail "the attacker took $A1: '$(addr_source "$T-g2" "$A1")'"
check "the victim still pings its gateway from its lease" \
	in_ns "$T-g1" ping -6 -n -c 1 -W 2 -I "$A1" fd86:1::1
# --- a forged RENEW and REBIND of the victim's lease ---------------------------
# dnsmasq would record the sender's MAC on the victim's lease
for m in Renew Rebind; do
	s1=$(stat "$T-g2" dhcp6-foreign)
	scapy_g2 "Ether(src='$M2', dst='33:33:00:01:00:02')/IPv6(src='$LL2', dst='ff02::1:2')/UDP(sport=546, dport=547)/\
DHCP6_$m(trid=0x5556)/DHCP6OptClientId(duid=bytes.fromhex('$(hexb "$DUID")'))/\
DHCP6OptServerId(duid=bytes.fromhex('$(hexb "$SDUID")'))/DHCP6OptElapsedTime()/\
DHCP6OptIA_NA(iaid=$IAID, ianaopts=[DHCP6OptIAAddress(addr='$A1', preflft=0, validlft=0)])"
	[ "$(stat "$T-g2" dhcp6-foreign)" -gt "$s1" ] &&
		pass "a ${m^^} of another port's address: dhcp6-foreign" ||
		fail "a ${m^^} of another port's address passed the guard"
done
[ "$(addr_source "$T-g1" "$A1")" = dhcp ] && pass "forged RENEW/REBIND: the victim keeps its binding" || {
	fail "forged RENEW/REBIND: the victim's $A1 is '$(addr_source "$T-g1" "$A1")'"
	victim_state
}
# --- the gateway's identity on a nat network with IPv6 --------------------------
GWMAC=$(cat /sys/class/net/"$gw_if"/address)
GWLL=$("$PY" -c "
m = bytes(int(x, 16) for x in '$GWMAC'.split(':'))
e = bytes([m[0] ^ 2]) + m[1:3] + b'\\xff\\xfe' + m[3:]
import ipaddress; print(ipaddress.IPv6Address(b'\\xfe\\x80' + bytes(6) + e))")
V1=33:33:00:00:00:01
# the link-local the guard knows is the one the gateway interface has
[ "$(ip -6 addr show dev "$gw_if" scope link | grep -c "inet6 $GWLL/")" = 1 ] &&
	pass "the gateway's link-local is $GWLL" ||
	fail "the gateway's link-local is not $GWLL: $(ip -6 addr show dev "$gw_if" scope link | tr '\n' ' ')"
# gw_case NAME REASON FRAME: the frame from the attacker is counted REASON
gw_case() {
	local n0
	n0=$(stat "$T-g2" "$2")
	scapy_g2 "$3"
	[ "$(stat "$T-g2" "$2")" -gt "$n0" ] && pass "$1: $2" ||
		fail "$1: not counted as $2"
}
gw_case "RA from a guest" spoof-router-msg \
	"Ether(src='$M2', dst='$V1')/IPv6(src='$LL2', dst='ff02::1')/ICMPv6ND_RA()/ICMPv6NDOptPrefixInfo(prefix='fd86:1::', prefixlen=64)/ICMPv6NDOptSrcLLAddr(lladdr='$M2')"
gw_case "redirect from a guest" spoof-router-msg \
	"Ether(src='$M2', dst='$M1')/IPv6(src='$LL2', dst='$A1')/ICMPv6ND_Redirect(tgt='$LL2', dst='fd99::1')"
gw_case "NA for the gateway's address" spoof-nd \
	"Ether(src='$M2', dst='$V1')/IPv6(src='$LL2', dst='ff02::1')/ICMPv6ND_NA(tgt='fd86:1::1', R=1, S=0, O=1)/ICMPv6NDOptDstLLAddr(lladdr='$M2')"
gw_case "NA for the gateway's link-local $GWLL" spoof-nd \
	"Ether(src='$M2', dst='$V1')/IPv6(src='$LL2', dst='ff02::1')/ICMPv6ND_NA(tgt='$GWLL', R=1, S=0, O=1)/ICMPv6NDOptDstLLAddr(lladdr='$M2')"
gw_case "a packet from the gateway's address" spoof-ip \
	"Ether(src='$M2', dst='$M1')/IPv6(src='fd86:1::1', dst='$A1')/ICMPv6EchoRequest()"
gw_case "a packet from the gateway's link-local" spoof-ip \
	"Ether(src='$M2', dst='$M1')/IPv6(src='$GWLL', dst='$A1')/ICMPv6EchoRequest()"
# a DAD probe for the gateway's address: the gateway defends it (its NA
# back to the prober, which binds nothing), as it answers an ARP probe
# for its IPv4 address (before, dropped spoof-nd: a guest that took the
# address kept it, silently cut off)
t0=$(kvmbpf -j stats "$T-g2" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["tx_packets"])')
n0=$(stat "$T-g2" spoof-nd)
scapy_g2 "Ether(src='$M2', dst='33:33:ff:00:00:01')/IPv6(src='::', dst='ff02::1:ff00:1')/ICMPv6ND_NS(tgt='fd86:1::1')"
t1=$(kvmbpf -j stats "$T-g2" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["tx_packets"])')
[ "$t1" -gt "$t0" ] && [ "$(stat "$T-g2" spoof-nd)" = "$n0" ] &&
	[ -z "$(addr_source "$T-g2" fd86:1::1)" ] &&
	pass "a DAD probe for the gateway's address: the gateway answers it, nothing bound" ||
	fail "a DAD probe for the gateway's address: tx $t0 -> $t1, spoof-nd $n0 -> $(stat "$T-g2" spoof-nd), binding '$(addr_source "$T-g2" fd86:1::1)'"
gw_case "a DHCPv6 ADVERTISE to the victim" spoof-dhcp-server \
	"Ether(src='$M2', dst='$M1')/IPv6(src='$LL2', dst='fe80::5054:ff:fe86:11')/UDP(sport=547, dport=546)/DHCP6_Advertise(trid=1)"
[ "$(ip -n "$T-g1" -6 neigh show | grep -ci "$M2")" = 0 ] &&
	pass "the victim's neighbour table names the attacker's MAC nowhere" ||
	fail "victim's neighbours: $(ip -n "$T-g1" -6 neigh show | tr '\n' ' ')"
check "the victim still pings its gateway" in_ns "$T-g1" ping -6 -n -c 1 -W 2 -I "$A1" fd86:1::1

# its own RELEASE still ends its lease
in_ns "$T-g1" timeout 20 dhclient -6 -r -sf "$TMP/dhclient.sh" -lf "$TMP/g1.leases" \
	-pf "$TMP/g1.pid" eth0 >/dev/null 2>&1
check "the victim's own RELEASE ends its lease and binding" wait_source "$T-g1" "$A1" ""
finish

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# DHCPv6 snooping on a bridge network whose LAN runs the DHCPv6 server
# (dnsmasq in the LAN namespace, behind the uplink), with ISC dhclient -6
# as the guests' client; its one address, fd84::1000, is leased to g1:
#   - g2 (it saw g1's multicast REQUEST) sends from fd84::1000 first and
#     holds it by SAVI's first claim;
#   - g1's lease (the server's REPLY, snooped on its way through the
#     fabric) makes it g1's port's (port show: source dhcp) and takes it
#     from g2: g1 reaches the LAN from it, g2's traffic from it is
#     refused (savi-conflict). Before, g2 kept it and g1's traffic from
#     its own lease was refused for good;
#   - a released lease is no longer the port's (g1's RELEASE, snooped).
#
#   $T-lan ns: fd84::2/64, dnsmasq (DHCPv6 fd84::1000 only, no RA)
#   bridge lan, uplink $T-up; g1 and g2 (spoofcheck on, the default)
source "$(dirname "$0")/lib.sh"

for t in dhclient dnsmasq; do
	command -v $t >/dev/null || { fail "dhcp6lan: $t missing (scripts/deps.sh installs it)"; exit 1; }
done
scratch
X=fd84::1000

behind "$T-up" "$T-lan" 10.84.0.2/24
in_ns "$T-lan" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
ip -n "$T-lan" -6 addr add fd84::2/64 dev eth0 nodad
check "net add bridge with an uplink" kvmbpf net add lan type bridge uplink "$T-up"
for i in 1 2; do
	netns_add "$T-g$i"
	# no DAD, no RA: the link-local is usable at once, no other address
	in_ns "$T-g$i" sysctl -qw net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.default.accept_ra=0
	guest_link "$T-g$i" "$T-g$i"
	kvmbpf attach "$T-g$i" net lan || fail "attach g$i"
done

bg_ns "$T-lan" dnsmasq -k --conf-file=/dev/null --port=0 --user=root \
	--interface=eth0 --bind-interfaces --dhcp-range=$X,$X,64,3600 \
	--dhcp-leasefile="$TMP/lan.leases" --pid-file="$TMP/dnsmasq.pid" \
	--log-dhcp --log-facility="$TMP/dnsmasq.log"
sleep 1

# --- g2 takes the address first -----------------------------------------------
ip -n "$T-g2" -6 addr add $X/64 dev eth0 nodad
in_ns "$T-g2" ping -6 -n -c 1 -W 2 -I $X fd84::2 >/dev/null 2>&1
check "g2 holds $X by its first use (savi)" wait_source "$T-g2" $X savi

# --- g1's lease ---------------------------------------------------------------
dhclient6_script
in_ns "$T-g1" timeout 30 dhclient -6 -1 -sf "$TMP/dhclient.sh" \
	-lf "$TMP/g1.leases" -pf "$TMP/g1.pid" eth0 >/dev/null 2>&1
a1=$(cat "$TMP/$T-g1.addr" 2>/dev/null)
[ "$a1" = $X ] && pass "g1: dhclient -6 leased $X from the LAN's server" ||
	fail "g1: dhclient -6 got '$a1' ($(tail -5 "$TMP/dnsmasq.log" | tr '\n' ' '))"
check "the REPLY made $X g1's port's (port show: dhcp)" wait_source "$T-g1" $X dhcp
check "and took it from g2" wait_source "$T-g2" $X ""
# the LAN's neighbour entry of the address is g2's MAC still (g1 did no
# DAD): gone, as a client's advertisement would replace it; g2's answer
# to the LAN's solicitation is refused now (spoof-nd), g1's passes
ip -n "$T-lan" -6 neigh flush to $X
# the prefix is on-link (as the LAN router's advertisement would say; the
# lease is a /128)
ip -n "$T-g1" -6 route add fd84::/64 dev eth0
check "g1 reaches the LAN from its lease" in_ns "$T-g1" ping -6 -n -c 1 -W 2 -I $X fd84::2
s0=$(stat "$T-g2" savi-conflict)
check_not "g2 no longer sends from g1's lease" in_ns "$T-g2" ping -6 -n -c 1 -W 2 -I $X fd84::2
[ "$(stat "$T-g2" savi-conflict)" -gt "$s0" ] && pass "counted as savi-conflict" ||
	fail "not counted: $(kvmbpf stats "$T-g2" 2>&1 | tr "\n" " ")"
ip -n "$T-g2" -6 addr del $X/64 dev eth0

# --- release ------------------------------------------------------------------
in_ns "$T-g1" timeout 20 dhclient -6 -r -sf "$TMP/dhclient.sh" -lf "$TMP/g1.leases" \
	-pf "$TMP/g1.pid" eth0 >/dev/null 2>&1
check "a released lease is no longer the port's" wait_source "$T-g1" $X ""
finish

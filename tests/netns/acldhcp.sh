#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# DHCP through a port's ACLs on a bridge network whose LAN runs the server
# (dnsmasq in the LAN namespace, behind the uplink), with ISC dhclient as
# the guest's client and default-reject both ways:
#   - dhclient gets its lease (broadcast DISCOVER and REQUEST), and renews
#     it by unicast to the server at T1 (4 s): the server that leased it
#     (option 54 of the ACK the fabric snooped) is let through unjudged;
#   - a client's datagram (UDP 68 -> 67) to another address is judged as
#     any packet: refused, counted acl-default;
#   - a LAN host's datagram to the guest's DHCP server port (68 -> 67) is
#     refused too. Before, any UDP between 67 and 68 passed both ways.
#
#   $T-lan ns: 10.85.0.2/24, dnsmasq (10.85.0.100 only, T1 4 s)
#   bridge lan, uplink $T-up; g1 with ACL dh1 (egress TCP 80 only)
source "$(dirname "$0")/lib.sh"

for t in dhclient dnsmasq; do
	command -v $t >/dev/null || { fail "acldhcp: $t missing (scripts/deps.sh installs it)"; exit 1; }
done
scratch
A=10.85.0.100
DHC_PID=
acldhcp_cleanup() {
	[ -n "$DHC_PID" ] && kill "$DHC_PID" 2>/dev/null
	cleanup
}
trap acldhcp_cleanup EXIT

behind "$T-up" "$T-lan" 10.85.0.2/24
check "net add bridge with an uplink" kvmbpf net add lan type bridge uplink "$T-up"
netns_add "$T-g1"
in_ns "$T-g1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
guest_link "$T-g1" "$T-g1"
M1=52:54:00:85:00:11
in_ns "$T-g1" ip link set eth0 address $M1
check "acl add dh1" kvmbpf acl add dh1
check "acl dh1: egress TCP 80 only" kvmbpf acl rule add dh1 egress allow proto tcp dport 80
check "attach g1 with acl dh1" kvmbpf attach "$T-g1" net lan mac $M1 acl dh1

bg_ns "$T-lan" dnsmasq -k --conf-file=/dev/null --port=0 --user=root \
	--interface=eth0 --bind-interfaces --dhcp-range=$A,$A,255.255.255.0,2m \
	--dhcp-option=option:T1,4 --dhcp-option=option:T2,100 \
	--dhcp-leasefile="$TMP/lan.leases" --pid-file="$TMP/dnsmasq.pid" \
	--log-dhcp --log-facility="$TMP/dnsmasq.log"
sleep 1

# dhclient, its script logging each reason (RENEW: a unicast renewal
# answered)
cat >"$TMP/dhclient.sh" <<EOS
#!/bin/sh
echo "\$reason" >>"$TMP/reasons"
case \$reason in BOUND|RENEW|REBIND|REBOOT)
	ip addr replace "\$new_ip_address/\$new_subnet_mask" dev "\$interface"
	echo "\$new_ip_address" >"$TMP/g1.addr" ;;
esac
exit 0
EOS
chmod +x "$TMP/dhclient.sh"
in_ns "$T-g1" timeout 30 dhclient -1 -sf "$TMP/dhclient.sh" \
	-lf "$TMP/g1.leases" -pf "$TMP/g1.pid" eth0 >/dev/null 2>&1
DHC_PID=$(cat "$TMP/g1.pid" 2>/dev/null)
[ "$(cat "$TMP/g1.addr" 2>/dev/null)" = $A ] &&
	pass "dhclient leased $A through default-reject ACLs" ||
	fail "dhclient got '$(cat "$TMP/g1.addr" 2>/dev/null)' ($(tail -5 "$TMP/dnsmasq.log" | tr '\n' ' '))"
# (dnsmasq's echo to the address before it offers it was refused: counted)
d0=$(stat "$T-g1" acl-default)
for _ in $(seq 150); do grep -q RENEW "$TMP/reasons" 2>/dev/null && break; sleep 0.1; done
grep -q RENEW "$TMP/reasons" 2>/dev/null &&
	pass "dhclient renewed by unicast to the server at T1" ||
	fail "no renewal: reasons '$(tr '\n' ' ' <"$TMP/reasons")', acl-default $d0 -> $(stat "$T-g1" acl-default); $(grep -c DHCPACK "$TMP/dnsmasq.log") ACKs"
[ "$(stat "$T-g1" acl-default)" = "$d0" ] &&
	pass "the renewal refused nothing (acl-default $d0)" ||
	fail "acl-default $d0 -> $(stat "$T-g1" acl-default)"

# a client's datagram to another address, and a LAN host at the guest's 67
d1=$(stat "$T-g1" acl-default)
in_ns "$T-g1" "$PY" -c "
from scapy.all import Ether, IP, UDP, BOOTP, DHCP, sendp, conf, mac2str
conf.verb = 0
sendp(Ether(src='$M1', dst='ff:ff:ff:ff:ff:ff') / IP(src='$A', dst='10.85.0.99') /
      UDP(sport=68, dport=67) / BOOTP(op=1, chaddr=mac2str('$M1'), ciaddr='$A') /
      DHCP(options=[('message-type', 'request'), 'end']), iface='eth0')"
for _ in $(seq 30); do [ "$(stat "$T-g1" acl-default)" -gt "$d1" ] && break; sleep 0.1; done
[ "$(stat "$T-g1" acl-default)" = $((d1 + 1)) ] &&
	pass "UDP 68 -> 67 to another address refused (acl-default)" ||
	fail "UDP 68 -> 67 to 10.85.0.99: acl-default $d1 -> $(stat "$T-g1" acl-default); $(kvmbpf -j stats "$T-g1" | "$PY" -c 'import json,sys; s=json.load(sys.stdin); print({k: v for k, v in s["drop_reasons"].items() if v})')"
d2=$(stat "$T-g1" acl-default)
in_ns "$T-lan" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('10.85.0.2', 68))
s.sendto(b'x' * 300, ('$A', 67))"
for _ in $(seq 30); do [ "$(stat "$T-g1" acl-default)" -gt "$d2" ] && break; sleep 0.1; done
[ "$(stat "$T-g1" acl-default)" = $((d2 + 1)) ] &&
	pass "a LAN host's UDP 68 -> 67 to the guest refused (acl-default)" ||
	fail "LAN 68 -> 67 to the guest: acl-default $d2 -> $(stat "$T-g1" acl-default)"
finish

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A real guest with temporary addresses (RFC 8981, use_tempaddr=2, as
# Ubuntu ships it) on a routed network, spoofcheck on (issue 16): its
# kernel sends from the temporary address, which the fabric learns by
# first use (SAVI), and a TCP transfer over IPv6 to a guest of a peered
# routed network arrives whole (sha256).
#
#   routed "ta" 10.96.1.0/24 + fd96:1::/64, guest t1 (use_tempaddr=2)
#   routed "tb" 10.96.2.0/24 + fd96:2::/64, guest t2 (SLAAC), peered
source "$(dirname "$0")/../netns/lib.sh"
source "$(dirname "$0")/lib.sh"

MT1=52:54:00:96:01:11 MT2=52:54:00:96:02:11
# t2's SLAAC address: fd96:2:: + the EUI-64 of its MAC
T2V6=fd96:2::5054:ff:fe96:211

kvmbpf net add ta type routed subnet 10.96.1.0/24 subnet fd96:1::/64 || fail "net add ta"
kvmbpf net add tb type routed subnet 10.96.2.0/24 subnet fd96:2::/64 || fail "net add tb"
kvmbpf net peer ta tb || fail "net peer"
tap_add "$T-t1" && kvmbpf attach "$T-t1" net ta mac $MT1 || fail "attach t1"
tap_add "$T-t2" && kvmbpf attach "$T-t2" net tb mac $MT2 || fail "attach t2"

T1='
echo 2 >/proc/sys/net/ipv6/conf/default/use_tempaddr
echo 2 >/proc/sys/net/ipv6/conf/eth0/use_tempaddr
ip link set eth0 up
# the temporary address: flag 0x01 (IFA_F_TEMPORARY) in /proc/net/if_inet6,
# global scope (00), not tentative (0x40)
i=0; while [ $i -lt 200 ]; do
	tmp=$(while read a x p s f d; do [ "$d" = eth0 ] && [ "$s" = 00 ] && [ $((0x$f & 0x41)) = 1 ] && echo $a; done </proc/net/if_inet6 | head -1)
	[ -n "$tmp" ] && break
	sleep 0.1; i=$((i+1))
done
echo "KVB tmp ${tmp:-none}"
src=$(ip -6 route get '$T2V6' 2>/dev/null | sed -n "s/.* src \([^ ]*\).*/\1/p")
echo "KVB src ${src:-none}"
i=0; while [ $i -lt 60 ]; do ping6 -c1 -W1 '$T2V6' >/dev/null 2>&1 && break; i=$((i+1)); done
[ $i -lt 60 ] && echo "KVB ping6_peer ok"
head -c 4194304 /dev/urandom >/tmp/f
echo "KVB sent6 $(sha256sum </tmp/f | cut -c1-64)"
i=0; while [ $i -lt 60 ]; do nc '$T2V6' 5300 </tmp/f && break; sleep 1; i=$((i+1)); done'

T2='
ip link set eth0 up
printf "#!/bin/sh\ncat >/tmp/r\n" >/tmp/recv.sh; chmod +x /tmp/recv.sh
nc -l -p 5300 -e /tmp/recv.sh
echo "KVB got6 $(sha256sum </tmp/r | cut -c1-64)"'

guest_boot t2 "$T-t2" $MT2 "$T2"
guest_boot t1 "$T-t1" $MT1 "$T1"
guest_wait_all 120 t1 t2 || fail "guests did not finish"

tmp=$(guest_result t1 tmp)
case "$tmp" in
fd96000100000000????????????????) pass "guest t1: a temporary address in fd96:1::/64 ($tmp)" ;;
*) fail "guest t1: temporary address '$tmp'" ;;
esac
src=$(guest_result t1 src)
[ -n "$src" ] && [ "$("$PY" -c "import ipaddress; print(ipaddress.IPv6Address('$src').exploded.replace(':', ''))")" = "$tmp" ] &&
	pass "guest t1: its kernel sends from the temporary address ($src)" ||
	fail "guest t1: source for the peer '$src', temporary '$tmp'"
[ "$(guest_result t1 ping6_peer)" = ok ] && pass "guest t1: reaches the peered network (IPv6)" ||
	fail "guest t1: no IPv6 to the peered network"
s6=$(guest_result t1 sent6)
[ -n "$s6" ] && [ "$(guest_result t2 got6)" = "$s6" ] &&
	pass "guest t1: TCP over IPv6 from the temporary address to the peered network, sha256" ||
	fail "guest t1: TCP/IPv6 got '$(guest_result t2 got6)' want '$s6'"
# the fabric bound it by its first use (SAVI), as port show says
tmpa=$("$PY" -c "import ipaddress; print(ipaddress.IPv6Address(bytes.fromhex('${tmp:-0}'.ljust(32, '0'))))")
kvmbpf -j port show "$T-t1" | "$PY" -c "
import json, sys
p = json.load(sys.stdin)
sys.exit(0 if any(a['ip'] == '$tmpa' and a['source'] == 'savi' for a in p['addresses']) else 1)" &&
	pass "port show: t1's temporary address bound (source savi)" ||
	fail "port show $T-t1: $(kvmbpf -j port show "$T-t1")"
[ "$(stat "$T-t1" spoof-ip)" = 0 ] && pass "nothing of t1's refused" ||
	fail "t1: spoof-ip $(stat "$T-t1" spoof-ip)"
for g in t1 t2; do guest_console $g; done
finish

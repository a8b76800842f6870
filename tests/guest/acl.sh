#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A real guest with a security group (issue 18): QEMU guest g on a bridge
# network, its port using ACL "web" (ingress: TCP 5001 and ICMP echo
# allowed; the rest takes the default, reject). From the LAN, behind the
# uplink: ping passes, 20 MiB over TCP to port 5001 arrive whole (sha256
# in the guest), and a connection to port 5002, where the guest listens
# too, is refused by the fabric's RST (counted) and never reaches the
# guest's listener.
source "$(dirname "$0")/../netns/lib.sh"
source "$(dirname "$0")/lib.sh"

MIB=20
MG=52:54:00:97:00:21
behind "$T-up" "$T-lan" 10.97.0.2/24
kvmbpf net add lan type bridge uplink "$T-up" || fail "net add"
kvmbpf acl add web || fail "acl add"
kvmbpf acl rule add web ingress allow proto tcp dport 5001 || fail "acl rule tcp"
kvmbpf acl rule add web ingress allow proto icmp icmp-type 8 || fail "acl rule icmp"
tap_add "$T-g" && kvmbpf attach "$T-g" net lan mac $MG ip 10.97.0.21 acl web ||
	fail "attach g"

G='
ip addr add 10.97.0.21/24 dev eth0; ip link set eth0 up
printf "#!/bin/sh\ncat >/tmp/r\n" >/tmp/recv.sh; chmod +x /tmp/recv.sh
printf "#!/bin/sh\necho x >/tmp/hit\n" >/tmp/hit.sh; chmod +x /tmp/hit.sh
nc -l -p 5002 -e /tmp/hit.sh &
echo "KVB listening yes"
nc -l -p 5001 -e /tmp/recv.sh
echo "KVB got $(sha256sum </tmp/r | cut -c1-64)"
[ -e /tmp/hit ] && echo "KVB hit5002 yes" || echo "KVB hit5002 no"'

src=$(mktemp)
head -c ${MIB}M /dev/urandom >"$src"
guest_boot g "$T-g" $MG "$G"
guest_wait_key g listening 180 || fail "guest g never listened"

ok=
for i in $(seq 60); do
	in_ns "$T-lan" ping -c 1 -W 1 10.97.0.21 >/dev/null 2>&1 && { ok=1; break; }
done
[ -n "$ok" ] && pass "guest acl: the LAN pings the guest (ICMP echo allowed)" ||
	fail "guest acl: no ping to the guest"

r0=$(( $(stat "$T-g" acl-reject) + $(stat "$T-g" acl-default) ))
res=$(in_ns "$T-lan" "$PY" -c '
import socket
try:
    socket.create_connection(("10.97.0.21", 5002), timeout=5)
    print("connected")
except ConnectionRefusedError:
    print("refused")
except OSError as e:
    print("error", e)')
[ "$res" = refused ] && pass "guest acl: TCP 5002 refused by a reset" ||
	fail "guest acl: TCP 5002 from the LAN: $res"
r1=$(( $(stat "$T-g" acl-reject) + $(stat "$T-g" acl-default) ))
[ "$r1" -gt "$r0" ] && pass "guest acl: the refusal counted ($((r1 - r0)))" ||
	fail "guest acl: acl-reject/acl-default did not move ($r0 -> $r1)"

sent=
for i in $(seq 30); do
	in_ns "$T-lan" timeout 300 nc -N 10.97.0.21 5001 <"$src" 2>/dev/null && { sent=1; break; }
	sleep 1
done
[ -n "$sent" ] || fail "guest acl: the LAN could not send to port 5001"
guest_wait g 300 || fail "guest g did not finish"
[ "$(guest_result g got)" = "$(sha256sum <"$src" | cut -c1-64)" ] &&
	pass "guest acl: TCP ${MIB} MiB LAN to guest port 5001 (allowed), sha256" ||
	fail "guest acl: port 5001 got '$(guest_result g got)'"
[ "$(guest_result g hit5002)" = no ] &&
	pass "guest acl: the guest's listener on 5002 never got a connection" ||
	fail "guest acl: hit5002 '$(guest_result g hit5002)'"
rm -f "$src"
finish

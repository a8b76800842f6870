#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Real guests on the nat, internal and routed network types, all booted at
# once (QEMU, TCG, virtio-net on taps with the guest's offloads on):
#
#   nat "n" 192.168.93.0/24, WAN namespace 10.93.9.2 behind $T-w (10.93.9.1)
#     guest n1: address by DHCP (busybox udhcpc; its port has mac + ip, so
#     dnsmasq's static lease gives .11), pings the gateway, sends 20 MiB to
#     the WAN by TCP (sha256 checked there), serves a port forward
#     10.93.9.1:8080 -> :80 that the WAN connects to
#   internal "iso" 10.94.0.0/24, guests i1 .11 and i2 .12; the host
#     (10.94.0.254) and a LAN namespace (10.94.0.253) sit in the same
#     subnet on a veth pair outside the fabric: neither may hear a thing
#   routed "ra" 10.95.1.0/24 + fd95:1::/64, guest r1 (static IPv4, IPv6
#     by SLAAC), peered with routed "rb" 10.95.2.0/24 + fd95:2::/64,
#     guest r2: r1 reaches r2 in both families, and by TCP over IPv6
# n1, i1 and r1 run with XDP on their taps (attach ... xdp on), r2 and i2
# with the default (off): every transfer crosses one of each.
source "$(dirname "$0")/../netns/lib.sh"
source "$(dirname "$0")/lib.sh"

MIB=20
MN1=52:54:00:93:00:11
MI1=52:54:00:94:00:11 MI2=52:54:00:94:00:12
MR1=52:54:00:95:01:11 MR2=52:54:00:95:02:11
# r2's SLAAC address: fd95:2:: + the EUI-64 of its MAC
R2V6=fd95:2::5054:ff:fe95:211

behind "$T-w" "$T-wan" 10.93.9.2/24 10.93.9.1/24
kvmbpf net add n type nat subnet 192.168.93.0/24 wan "$T-w" || fail "net add nat"
tap_add "$T-n1" && kvmbpf attach "$T-n1" net n mac $MN1 ip 192.168.93.11 xdp on || fail "attach n1"
kvmbpf forward add n proto tcp port 8080 to 192.168.93.11:80 || fail "forward add"

behind "$T-h" "$T-lan" 10.94.0.253/24 10.94.0.254/24
kvmbpf net add iso type internal || fail "net add internal"
tap_add "$T-i1" && kvmbpf attach "$T-i1" net iso mac $MI1 xdp on || fail "attach i1"
tap_add "$T-i2" && kvmbpf attach "$T-i2" net iso mac $MI2 || fail "attach i2"

kvmbpf net add ra type routed subnet 10.95.1.0/24 subnet fd95:1::/64 || fail "net add ra"
kvmbpf net add rb type routed subnet 10.95.2.0/24 subnet fd95:2::/64 || fail "net add rb"
kvmbpf net peer ra rb || fail "net peer"
tap_add "$T-r1" && kvmbpf attach "$T-r1" net ra mac $MR1 xdp on || fail "attach r1"
tap_add "$T-r2" && kvmbpf attach "$T-r2" net rb mac $MR2 || fail "attach r2"

WAIT='waitfor() { i=0; while [ $i -lt 60 ]; do ping -c1 -W1 $1 >/dev/null 2>&1 && return 0; i=$((i+1)); done; return 1; }
waitfor6() { i=0; while [ $i -lt 60 ]; do ping6 -c1 -W1 $1 >/dev/null 2>&1 && return 0; i=$((i+1)); done; return 1; }'

N1=$WAIT'
cat >/tmp/lease.sh <<EOF
#!/bin/sh
[ "\$1" = bound ] || exit 0
ip addr add \$ip/\$mask dev \$interface
ip route add default via \$router
echo "\$ip \$router" >/tmp/lease
EOF
chmod +x /tmp/lease.sh
ip link set eth0 up
udhcpc -i eth0 -s /tmp/lease.sh -q -n -t 20 -T 1 >/dev/null 2>&1
read lip lrouter </tmp/lease
echo "KVB lease ${lip:-none}"
echo "KVB router ${lrouter:-none}"
waitfor 192.168.93.1 && echo "KVB ping_gw ok"
printf "#!/bin/sh\necho hello-from-n1\n" >/tmp/hello.sh; chmod +x /tmp/hello.sh
timeout 150 nc -l -p 80 -e /tmp/hello.sh &
echo "KVB listening yes"
dd if=/dev/urandom of=/tmp/f bs=1048576 count='$MIB' 2>/dev/null
echo "KVB sent $(sha256sum </tmp/f | cut -c1-64)"
i=0; while [ $i -lt 60 ]; do nc 10.93.9.2 5100 </tmp/f && break; sleep 1; i=$((i+1)); done
wait'

I='ip addr add $ME/24 dev eth0; ip link set eth0 up
'$WAIT'
waitfor $PEER && echo "KVB ping_peer ok"
for a in 10.94.0.254 10.94.0.253; do
	ping -c2 -W1 $a >/dev/null 2>&1 && echo "KVB leak $a"
done
echo "KVB tried yes"'

R1=$WAIT'
ip addr add 10.95.1.11/24 dev eth0; ip link set eth0 up
ip route add default via 10.95.1.1
i=0; while [ $i -lt 100 ]; do a=$(ip -6 addr show dev eth0 scope global | sed -n "s/.*inet6 \([^/]*\).*/\1/p"); [ -n "$a" ] && break; sleep 0.1; i=$((i+1)); done
echo "KVB addr6 ${a:-none}"
ip -6 route show default | grep -q "via fe80::" && echo "KVB route6 ok"
waitfor 10.95.2.11 && echo "KVB ping4_peer ok"
waitfor6 '$R2V6' && echo "KVB ping6_peer ok"
head -c 2097152 /dev/urandom >/tmp/f
echo "KVB sent6 $(sha256sum </tmp/f | cut -c1-64)"
i=0; while [ $i -lt 30 ]; do nc '$R2V6' 5200 </tmp/f && break; sleep 1; i=$((i+1)); done'

R2=$WAIT'
ip addr add 10.95.2.11/24 dev eth0; ip link set eth0 up
ip route add default via 10.95.2.1
printf "#!/bin/sh\ncat >/tmp/r\n" >/tmp/recv.sh; chmod +x /tmp/recv.sh
nc -l -p 5200 -e /tmp/recv.sh
echo "KVB got6 $(sha256sum </tmp/r | cut -c1-64)"'

wanfile=$(mktemp)
in_ns "$T-wan" timeout 240 nc -d -l 10.93.9.2 5100 >"$wanfile" &
wanpid=$!
e_lan0=$(icmp_in_echos "$T-lan")
for g in n1 i1 r1; do
	[ "$(kvmbpf -j port show "$T-$g" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["xdp"])')" = True ] &&
		pass "guest $g: its tap runs XDP" || fail "guest $g: no XDP on its tap"
done
guest_boot n1 "$T-n1" $MN1 "$N1"
guest_boot i1 "$T-i1" $MI1 "ME=10.94.0.11; PEER=10.94.0.12; $I"
guest_boot i2 "$T-i2" $MI2 "ME=10.94.0.12; PEER=10.94.0.11; $I"
guest_boot r1 "$T-r1" $MR1 "$R1"
guest_boot r2 "$T-r2" $MR2 "$R2"

# nat: the forward, once n1 listens
guest_wait_key n1 listening 180 || fail "guest n1 never listened"
got=""
for i in $(seq 30); do
	got=$(in_ns "$T-wan" timeout 5 nc -N 10.93.9.1 8080 </dev/null 2>/dev/null)
	[ -n "$got" ] && break
	sleep 1
done
[ "$got" = hello-from-n1 ] && pass "guest nat: reached through the port forward" ||
	fail "guest nat: port forward gave '$got'"
wait $wanpid
for g in n1 i1 i2 r1 r2; do guest_wait $g 240 || fail "guest $g did not finish"; done

lease=$(guest_result n1 lease)
[ "$lease" = 192.168.93.11 ] && pass "guest nat: DHCP lease from dnsmasq (udhcpc): $lease" ||
	fail "guest nat: lease '$lease'"
[ "$(guest_result n1 router)" = 192.168.93.1 ] && pass "guest nat: the lease names the gateway" ||
	fail "guest nat: router '$(guest_result n1 router)'"
[ "$(guest_result n1 ping_gw)" = ok ] && pass "guest nat: pings the gateway" ||
	fail "guest nat: no gateway ping"
sn=$(guest_result n1 sent)
[ -n "$sn" ] && [ "$(sha256sum <"$wanfile" | cut -c1-64)" = "$sn" ] &&
	pass "guest nat: TCP ${MIB} MiB to the WAN, sha256" ||
	fail "guest nat: WAN received $(wc -c <"$wanfile") bytes, sha256 mismatch"
rm -f "$wanfile"
# the guest's TSO super-frames were translated, not refused (their length
# is not a packet's); and a few of them did cross
nr=$(stat "$T-n1" nat-no-route)
[ "$nr" = 0 ] && pass "guest nat: no frame refused as nat-no-route" ||
	fail "guest nat: $nr frames refused as nat-no-route"

for g in i1 i2; do
	[ "$(guest_result $g ping_peer)" = ok ] && pass "guest internal: $g reaches its peer" ||
		fail "guest internal: $g cannot reach its peer"
	[ "$(guest_result $g tried)" = yes ] && [ -z "$(guest_result $g leak)" ] &&
		pass "guest internal: $g reaches neither the host nor the LAN" ||
		fail "guest internal: $g leak='$(guest_result $g leak)'"
done
[ "$(icmp_in_echos "$T-lan")" = "$e_lan0" ] && pass "guest internal: no echo request reached the LAN" ||
	fail "guest internal: the LAN received echo requests"
[ -z "$(ip neigh show 10.94.0.11; ip neigh show 10.94.0.12)" ] &&
	pass "guest internal: the host never heard the guests' ARP" ||
	fail "guest internal: the host has a neighbour entry for a guest"

[ "$(guest_result r1 addr6)" = fd95:1::5054:ff:fe95:111 ] &&
	pass "guest routed: SLAAC address from the BPF RA" ||
	fail "guest routed: addr6 '$(guest_result r1 addr6)'"
[ "$(guest_result r1 route6)" = ok ] && pass "guest routed: IPv6 default route via the gateway" ||
	fail "guest routed: no IPv6 default route"
[ "$(guest_result r1 ping4_peer)" = ok ] && pass "guest routed: reaches the peered network (IPv4)" ||
	fail "guest routed: no IPv4 to the peered network"
[ "$(guest_result r1 ping6_peer)" = ok ] && pass "guest routed: reaches the peered network (IPv6)" ||
	fail "guest routed: no IPv6 to the peered network"
s6=$(guest_result r1 sent6)
[ -n "$s6" ] && [ "$(guest_result r2 got6)" = "$s6" ] &&
	pass "guest routed: TCP over IPv6 to the peered network, sha256" ||
	fail "guest routed: TCP/IPv6 got '$(guest_result r2 got6)' want '$s6'"
finish

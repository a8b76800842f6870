#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A nat network whose way out is a layer-3 device, as on a host whose
# default route is a VPN (WireGuard, OpenVPN's tun) or PPP: packets
# without an Ethernet header. The WAN stage gives them one
# (KVB_PORT_F_L3); the kernel takes it off again on the way out. Flows,
# forwards and ICMP errors cross it, IPv6 is routed in through it, a
# routed network's traffic both ways, the host's own traffic over it is
# untouched, and nothing is left on it after.
#
#   $T-h (the fabric's namespace):  vpn0 10.94.0.1 peer 10.94.0.2,
#        fd95::1/64, default routes dev vpn0
#   $T-r (the VPN's far end):       vpn0 10.94.0.2 peer 10.94.0.1,
#        fd95::2/64, 203.0.113.5/32 on lo (a server "on the Internet"),
#        no route to the guests' IPv4 subnet
#   tests/tools/tunrelay.py joins the two vpn0 (tun, no packet info)
#   nat n (any route): 192.168.94.0/24 + fd94::/64, guest g1 .11 / fd94::11
source "$(dirname "$0")/lib.sh"

fabric_netns "$T-h" || { fail "setup: netns"; finish; }
# v4_guest NAME ADDR GW: namespace $T-NAME, its NIC's host end NAME (in
# the fabric's namespace), ADDR/24 and the default route via GW
v4_guest() {
	netns_add "$T-$1"
	ip -n "$H" link add "$1" type veth peer name eth0 netns "$T-$1"
	ip -n "$H" link set "$1" up
	ip -n "$T-$1" link set eth0 up
	ip -n "$T-$1" addr add "$2/24" dev eth0
	ip -n "$T-$1" route add default via "$3"
}
netns_add "$T-r" || fail "setup: netns r"
in_h sysctl -qw net.ipv6.conf.default.accept_dad=0
in_ns "$T-r" sysctl -qw net.ipv6.conf.default.accept_dad=0

# tun_up HOSTADDR: the tun pair made (a relay of its own, RELAY its pid),
# the host's end HOSTADDR peer 10.94.0.2, both ends up with their IPv6
# and the host's default routes through it
tun_up() {
	"$PY" "$ROOT/tests/tools/tunrelay.py" "$T-h" vpn0 "$T-r" vpn0 >"$TMPDIR/relay" 2>&1 &
	RELAY=$!
	BG_PIDS+=("$RELAY")
	for _ in $(seq 50); do grep -q ready "$TMPDIR/relay" && break; sleep 0.1; done
	grep -q ready "$TMPDIR/relay" || { fail "setup: tunrelay: $(cat "$TMPDIR/relay")"; finish; }
	ip -n "$H" addr add "$1" peer 10.94.0.2 dev vpn0
	ip -n "$H" addr add fd95::1/64 dev vpn0 nodad
	ip -n "$H" link set vpn0 up
	ip -n "$H" route add default dev vpn0
	ip -n "$H" -6 route add default dev vpn0
	ip -n "$T-r" addr add 10.94.0.2 peer "$1" dev vpn0
	ip -n "$T-r" addr add fd95::2/64 dev vpn0 nodad
	ip -n "$T-r" link set vpn0 up
}
tun_up 10.94.0.1
ip -n "$T-r" addr add 203.0.113.5/32 dev lo
ip -n "$T-r" -6 route add fd94::/64 dev vpn0
check "setup: the host reaches the far end through the tun" \
	in_h ping -n -c 1 -W 2 203.0.113.5

netns_add "$T-g1"
in_ns "$T-g1" sysctl -qw net.ipv6.conf.default.accept_dad=0 \
	net.ipv6.conf.default.accept_ra=0
ip -n "$H" link add g1 type veth peer name eth0 netns "$T-g1"
in_h sysctl -qw net.ipv6.conf.g1.disable_ipv6=1
ip -n "$H" link set g1 up
ip -n "$T-g1" link set eth0 up
ip -n "$T-g1" addr add 192.168.94.11/24 dev eth0
ip -n "$T-g1" addr add fd94::11/64 dev eth0 nodad
ip -n "$T-g1" route add default via 192.168.94.1
ip -n "$T-g1" -6 route add default via fd94::1

check "net add n type nat (any route): the VPN's tun is its way out" \
	kvmbpf net add n type nat subnet 192.168.94.0/24 subnet fd94::/64 dhcp off
check "attach g1" kvmbpf attach g1 net n ip 192.168.94.11 ip fd94::11
check "port show -j vpn0: a layer-3 WAN port" sh -c \
	"nsenter --net=$HNS ${K[*]} -j port show vpn0 | grep -q '\"layer3\":true'"
check "net show -j n: vpn0 is one of its WAN devices" sh -c \
	"nsenter --net=$HNS ${K[*]} -j net show n | grep -q '\"wan_devices\":\[[^]]*\"vpn0\"'"

check "g1 reaches the far end's server through the tun" ping4 "$T-g1" 203.0.113.5
check "TCP 5 MiB g1 to the far end, sha256" tcp_sha "$T-g1" "$T-r" 203.0.113.5 5
peer=$(seen_from "$T-r" 203.0.113.5 8094 "$T-g1")
[ "$peer" = 10.94.0.1 ] && pass "the far end sees g1 as the host's tun address" ||
	fail "the far end saw g1 as '$peer'"
# a port unreachable from the far end comes back through the tun,
# translated: the guest's connected UDP socket hears it
check "an ICMP error about g1's UDP flow reaches g1" in_ns "$T-g1" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3); s.connect(('203.0.113.5', 9))
s.send(b'x')
try:
    s.recv(100)
except ConnectionRefusedError:
    raise SystemExit(0)
raise SystemExit(1)"

check "an ICMP timestamp query from g1 is answered through the NAT (nmap -PP)" \
	in_ns "$T-g1" "$PY" -c "
from scapy.all import IP, ICMP, sr1, conf
conf.verb = 0
r = sr1(IP(dst='203.0.113.5') / ICMP(type=13, id=0x4242), timeout=3)
raise SystemExit(0 if r is not None and r[ICMP].type == 14 and
                 r[ICMP].id == 0x4242 else 1)"

check "forward add n tcp 8080 to g1:80" \
	kvmbpf forward add n proto tcp port 8080 to 192.168.94.11:80
peer=$(seen_from "$T-g1" 192.168.94.11 80 "$T-r" 10.94.0.1 8080)
case "$peer" in
10.94.0.2|203.0.113.5) pass "the far end reaches g1 through the forward ($peer)" ;;
*) fail "through the forward, g1 saw '$peer'" ;;
esac
ip -n "$T-r" route add 192.168.94.0/24 dev vpn0
check_not "the far end reaches g1 no other way (no NAT flow, no forward)" \
	in_ns "$T-r" ping -n -c 2 -W 1 192.168.94.11
ip -n "$T-r" route del 192.168.94.0/24 dev vpn0

check "IPv6: g1 reaches the far end, routed through the tun" ping6 "$T-g1" fd95::2
check "IPv6: the far end reaches g1" ping6 "$T-r" fd94::11

check "the host still reaches the far end through the tun" \
	in_h ping -n -c 1 -W 2 203.0.113.5
check "the host's own TCP over the tun still works" sh -c "
	ip netns exec $T-r timeout 5 nc -l -p 8095 >$TMPDIR/host.tcp &
	sleep 0.3; echo host-tcp | ip netns exec $H nc -w 2 203.0.113.5 8095; wait
	grep -q host-tcp $TMPDIR/host.tcp"
check "the host's own IPv6 over the tun still works" \
	in_h ping -6 -n -c 1 -W 2 fd95::2

# WireGuard's MTU: the guest's full-size packets are answered by the
# fabric (fragmentation needed), path-MTU discovery does the rest
ip -n "$H" link set vpn0 mtu 1420
ip -n "$T-r" link set vpn0 mtu 1420
tb0=$(stat g1 too-big)
check_not "g1's 1500-byte ping with DF does not fit the tun" \
	in_ns "$T-g1" ping -n -c 1 -W 2 -M do -s 1472 203.0.113.5
check "fragmentation needed from the fabric, counted too-big" \
	test "$(stat g1 too-big)" -gt "$tb0"
check "g1 learned the tun's MTU" sh -c \
	"ip -n $T-g1 route get 203.0.113.5 | grep -q 'mtu 1420'"
check "g1's 1420-byte ping with DF crosses the tun" \
	in_ns "$T-g1" ping -n -c 1 -W 2 -M do -s 1392 203.0.113.5
check "TCP 5 MiB g1 to the far end over the 1420-byte tun, sha256" \
	tcp_sha "$T-g1" "$T-r" 203.0.113.5 5
ip -n "$H" link set vpn0 mtu 1500
ip -n "$T-r" link set vpn0 mtu 1500

check_not "wan-xdp on a layer-3 device is refused" \
	kvmbpf net add m type nat subnet 192.168.95.0/24 wan vpn0 wan-xdp on
check "net add m with wan vpn0 (named), mtu 1400" \
	kvmbpf net add m type nat subnet 192.168.95.0/24 wan vpn0 dhcp off mtu 1400
v4_guest g2 192.168.95.11 192.168.95.1
check "attach g2" kvmbpf attach g2 net m ip 192.168.95.11
check "g2 reaches the far end through the tun" ping4 "$T-g2" 203.0.113.5
# replies beyond m's MTU to a guest whose MSS asks for 1460 bytes: the
# fabric answers the far end through the tun, which lowers its path MTU
src=$TMPDIR/src out=$TMPDIR/out
head -c 5M /dev/urandom >"$src"
tb0=$(stat vpn0 too-big)
bg_ns "$T-r" timeout 60 "$PY" -c "
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('203.0.113.5', 8096)); s.listen(1)
c, _ = s.accept()
c.sendall(open('$src', 'rb').read()); c.shutdown(socket.SHUT_WR); c.recv(1)"
sleep 0.5
in_ns "$T-g2" timeout 60 "$PY" -c "
import socket
c = socket.create_connection(('203.0.113.5', 8096), timeout=10)
c.settimeout(30)
with open('$out', 'wb') as f:
    while True:
        b = c.recv(65536)
        if not b:
            break
        f.write(b)"
[ "$(sha256sum <"$src")" = "$(sha256sum <"$out")" ] &&
	pass "TCP 5 MiB far end to g2 (network MTU 1400), sha256" ||
	fail "TCP far end to g2: $(wc -c <"$out") bytes, sha256 differs"
check "fragmentation needed to the far end, counted too-big on vpn0" \
	test "$(stat vpn0 too-big)" -gt "$tb0"
check "the far end learned the network's MTU" sh -c \
	"ip -n $T-r route get 10.94.0.1 | grep -q 'mtu 1400'"

# The tun made again, as a PPP link reconnects or wg-quick goes down and
# up: a new device (a new ifindex) under the same name, here with a new
# address, and no kvmbpf command in between: the networks' watchers hook
# it again (m names it as its wan) and follow its address, the forward
# with it
check "forward add m tcp 8081 to g2:80" \
	kvmbpf forward add m proto tcp port 8081 to 192.168.95.11:80
old_ifx=$(ip -n "$H" -o link show vpn0 | cut -d: -f1)
kill "$RELAY" 2>/dev/null
wait "$RELAY" 2>/dev/null
for _ in $(seq 50); do ip -n "$H" link show vpn0 >/dev/null 2>&1 || break; sleep 0.1; done
tun_up 10.94.0.3
new_ifx=$(ip -n "$H" -o link show vpn0 | cut -d: -f1)
check "setup: vpn0 is a new device ($new_ifx, was $old_ifx)" \
	test "$new_ifx" != "$old_ifx"
# the watchers wake on the change; up to 15 s for a missed one
back=0
for _ in $(seq 30); do
	ping4 "$T-g2" 203.0.113.5 >/dev/null 2>&1 && { back=1; break; }
	sleep 0.5
done
[ $back = 1 ] && pass "with no command, g2 (wan vpn0) reaches the far end through the new tun" ||
	fail "g2 does not reach the far end through the new tun"
check "and g1 (any route) does" ping4 "$T-g1" 203.0.113.5
peer=$(seen_from "$T-g2" 192.168.95.11 80 "$T-r" 10.94.0.3 8081)
case "$peer" in
10.94.0.2|203.0.113.5) pass "the forward moved to the new address 10.94.0.3 ($peer)" ;;
*) fail "through the forward on the new address, g2 saw '$peer'" ;;
esac
check "port show vpn0: the WAN port is the new device" sh -c \
	"nsenter --net=$HNS ${K[*]} -j port show vpn0 | grep -q '\"ifindex\":$new_ifx'"
check "save names vpn0 as m's wan" sh -c \
	"nsenter --net=$HNS ${K[*]} save | grep -q '^net add m .*wan vpn0'"
check "net del m" kvmbpf net del m
check "after net del m, g1 still reaches the far end" ping4 "$T-g1" 203.0.113.5

# a routed network through the tun (a site-to-site VPN): no NAT, the far
# end routes the subnet back through it
check "net add r type routed wan vpn0" \
	kvmbpf net add r type routed subnet 10.96.0.0/24 wan vpn0 dhcp off
v4_guest g3 10.96.0.11 10.96.0.1
check "attach g3" kvmbpf attach g3 net r ip 10.96.0.11
ip -n "$T-r" route add 10.96.0.0/24 dev vpn0
check "routed: g3 reaches the far end through the tun" ping4 "$T-g3" 203.0.113.5
check "routed: the far end reaches g3 through the tun" ping4 "$T-r" 10.96.0.11
peer=$(seen_from "$T-r" 203.0.113.5 8097 "$T-g3")
[ "$peer" = 10.96.0.11 ] && pass "routed: the far end sees g3's own address" ||
	fail "routed: the far end saw g3 as '$peer'"
check "net del r" kvmbpf net del r
check "after net del r: g1 still reaches the far end" ping4 "$T-g1" 203.0.113.5

check "net del n" kvmbpf net del n
check_not "nothing of the fabric left on vpn0" sh -c \
	"tc -n $H filter show dev vpn0 ingress 2>/dev/null | grep -q bpf"
check "after net del: the host reaches the far end" \
	in_h ping -n -c 1 -W 2 203.0.113.5
finish

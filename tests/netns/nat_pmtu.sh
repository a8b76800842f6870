#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Path-MTU discovery behind the NAT: a router between the host and the WAN
# has a 1280-byte link towards the WAN. The guest's full-size TCP segments
# make the router send "fragmentation needed" to the host's WAN address;
# the fabric translates it back to the guest, which lowers its path MTU,
# and the transfer completes. Then the host's own WAN link is the narrow
# one: the fabric itself answers the guest's full-size packets (GSO
# frames by their segments) with fragmentation needed. Then a network
# narrower than the WAN: replies beyond its MTU are answered to the
# remote with fragmentation needed (below).
#
#   root $T-w 10.99.5.1 -- $T-r router eth0 10.99.5.2 | eth1 10.99.6.1 (mtu 1280)
#                          -- $T-wan eth0 10.99.6.2 (mtu 1500)
source "$(dirname "$0")/lib.sh"

netns_add "$T-r"
netns_add "$T-wan"
ip link add "$T-w" type veth peer name eth0 netns "$T-r"
LINK_LIST+=("$T-w")
ip addr add 10.99.5.1/24 dev "$T-w"
ip link set "$T-w" up
ip route add 10.99.6.0/24 via 10.99.5.2
ip -n "$T-r" addr add 10.99.5.2/24 dev eth0
ip -n "$T-r" link set eth0 up
ip -n "$T-r" link add eth1 type veth peer name eth0 netns "$T-wan"
ip -n "$T-r" addr add 10.99.6.1/24 dev eth1
ip -n "$T-r" link set eth1 mtu 1280 up
in_ns "$T-r" sysctl -qw net.ipv4.ip_forward=1
ip -n "$T-wan" addr add 10.99.6.2/24 dev eth0
ip -n "$T-wan" link set eth0 up
ip -n "$T-wan" route add default via 10.99.6.1

check "net add nat" kvmbpf net add n type nat subnet 192.168.79.0/24 wan "$T-w" dhcp off
net_guest "$T-g" n 192.168.79.11 192.168.79.1 || fail "attach"

check "the guest reaches the WAN through the router" ping4 "$T-g" 10.99.6.2
check "TCP 5 MiB guest to WAN over the narrow link, sha256" tcp_sha "$T-g" "$T-wan" 10.99.6.2 5
check "the guest learned the path MTU from the translated ICMP error" sh -c \
	"ip -n $T-g route get 10.99.6.2 | grep -q 'mtu 1280'"

in_ns "$T-g" ip route flush cache
ip link set "$T-w" mtu 1200
ip -n "$T-r" link set eth0 mtu 1200
tb0=$(stat "$T-g" too-big)
check "TCP 5 MiB guest to WAN through a WAN device of MTU 1200 (offloads on), sha256" \
	tcp_sha "$T-g" "$T-wan" 10.99.6.2 5
check "fragmentation needed from the fabric, counted too-big" \
	test "$(stat "$T-g" too-big)" -gt "$tb0"
check "the guest learned the WAN device's MTU" sh -c \
	"ip -n $T-g route get 10.99.6.2 | grep -q 'mtu 1200'"

# Replies beyond the guest's network's MTU (a network narrower than the
# WAN): the remote, the router here, gets fragmentation needed with the
# network's MTU from the address it sent to, as from the kernel's
# forwarding, and the reply is dropped (too-big on the WAN port), never
# handed to the guest beyond its MTU. UDP with DF: the remote learns the
# MTU (its next datagram that size is EMSGSIZE), one that fits goes
# through. TCP to a guest whose own MTU says 1500 (its MSS asks for
# 1460-byte segments): the remote lowers its path MTU, the transfer
# completes.
ip link set "$T-w" mtu 1500
ip -n "$T-r" link set eth0 mtu 1500
check "net add nat mtu 1400" kvmbpf net add n2 type nat subnet 192.168.80.0/24 \
	wan "$T-w" dhcp off mtu 1400
net_guest "$T-g2" n2 192.168.80.11 192.168.80.1 || fail "attach g2"
ip -n "$T-g2" link set eth0 mtu 1400
in_ns "$T-r" ip route flush cache
U=$TMPDIR/udp.py
cat >"$U" <<'EOP'
import socket, sys
IP_MTU_DISCOVER, IP_PMTUDISC_DO = 10, 2
if sys.argv[1] == "server":	# answer each datagram with one of its size
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
    s.bind(("10.99.5.2", 7000))
    s.settimeout(20)
    print("listening", flush=True)
    while True:
        b, peer = s.recvfrom(2048)
        n = int(b.decode())
        try:
            s.sendto(b"x" * n, peer)
            print("sent", n, flush=True)
        except OSError as e:
            print("refused", n, e.errno, flush=True)
elif sys.argv[1] == "tcp-server":	# send FILE to the first client
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("10.99.5.2", 7001))
    s.listen(1)
    s.settimeout(30)
    print("listening", flush=True)
    c, _ = s.accept()
    c.settimeout(60)
    c.sendall(open(sys.argv[2], "rb").read())
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
elif sys.argv[1] == "tcp-client":	# everything it sends, into OUT
    c = socket.create_connection(("10.99.5.2", 7001), timeout=10)
    c.settimeout(60)
    with open(sys.argv[2], "wb") as f:
        while True:
            b = c.recv(65536)
            if not b:
                break
            f.write(b)
    c.close()
else:			# ask for N bytes, say how many came
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(sys.argv[2].encode(), ("10.99.5.2", 7000))
    try:
        print(len(s.recv(2048)))
    except socket.timeout:
        print(0)
EOP
bg_ns "$T-r" "$PY" -u "$U" server >"$TMPDIR/udp.log" 2>&1
for i in $(seq 50); do grep -q listening "$TMPDIR/udp.log" && break; sleep 0.1; done
tb0=$(stat "$T-w" too-big)
got=$(in_ns "$T-g2" "$PY" "$U" client 1422)	# 1450 bytes of IP
[ "$got" = 0 ] && pass "UDP with DF beyond the network's MTU: not to the guest" ||
	fail "UDP with DF beyond the network's MTU: the guest got $got bytes"
check "UDP with DF: fragmentation needed, counted too-big on the WAN port" \
	test "$(stat "$T-w" too-big)" -gt "$tb0"
check "UDP with DF: the remote learned the network's MTU" sh -c \
	"ip -n $T-r route get 10.99.5.1 | grep -q 'mtu 1400'"
in_ns "$T-g2" "$PY" "$U" client 1422 >/dev/null
check "UDP with DF: the remote's next such datagram refused (EMSGSIZE)" \
	grep -q "refused 1422 90" "$TMPDIR/udp.log"
got=$(in_ns "$T-g2" "$PY" "$U" client 1372)	# 1400 bytes of IP
[ "$got" = 1372 ] && pass "UDP at the network's MTU reaches the guest" ||
	fail "UDP at the network's MTU: the guest got $got bytes"
in_ns "$T-r" ip route flush cache
ip -n "$T-g2" link set eth0 mtu 1500
tb0=$(stat "$T-w" too-big)
src=$TMPDIR/src out=$TMPDIR/out
head -c 5M /dev/urandom >"$src"
bg_ns "$T-r" "$PY" -u "$U" tcp-server "$src" >"$TMPDIR/tcp.log" 2>&1
for i in $(seq 50); do grep -q listening "$TMPDIR/tcp.log" && break; sleep 0.1; done
in_ns "$T-g2" "$PY" "$U" tcp-client "$out"
[ "$(sha256sum <"$src")" = "$(sha256sum <"$out")" ] &&
	pass "TCP 5 MiB WAN to a guest asking for 1460-byte segments, sha256" ||
	fail "TCP WAN to guest: $(wc -c <"$out") bytes, sha256 differs"
check "TCP: fragmentation needed to the remote, counted too-big" \
	test "$(stat "$T-w" too-big)" -gt "$tb0"
check "TCP: the remote learned the network's MTU" sh -c \
	"ip -n $T-r route get 10.99.5.1 | grep -q 'mtu 1400'"
finish

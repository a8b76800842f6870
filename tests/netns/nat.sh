#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# NAT networks end to end (what exists so far: gateway ARP/ping in BPF,
# source NAT with connection tracking for TCP, UDP and ICMP echo, the host
# reaching its guests). A WAN namespace sits behind a host veth that
# carries the route; guests use static addresses.
#
#   root ns: $T-w 10.99.2.1/24 (WAN device)    $T-wan ns: eth0 10.99.2.2/24
#   nat "n": subnet 192.168.78.0/24, gateway .1 on kvbgwID, guests .11 .12
source "$(dirname "$0")/lib.sh"

rules_before=$( (nft list ruleset; iptables-save | grep -v '^#') 2>&1)
behind "$T-w" "$T-wan" 10.99.2.2/24 10.99.2.1/24

check "net add nat" kvmbpf net add n type nat subnet 192.168.78.0/24 wan "$T-w"
info=$(kvmbpf -j net show n)
gw_if=$(echo "$info" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
check "net show -j reports the gateway interface" sh -c "echo '$info' | grep -q '\"interface\":\"$gw_if\".*\"nat_address\":\"10.99.2.1\"'"
out=$(kvmbpf net show n)
grep -q "subnet 192.168.78.0/24 gateway 192.168.78.1 wan $T-w" <<<"$out" &&
	grep -q "nat-address 10.99.2.1" <<<"$out" && grep -q "interface $gw_if" <<<"$out" &&
	! grep -q "uplink" <<<"$out" &&
	pass "net show (text): subnet, gateway, WAN, NAT address; no gateway veth as uplink" ||
	fail "net show (text): '$out'"
check "the gateway address lives on it" sh -c "ip -4 addr show $gw_if | grep -q 192.168.78.1/24"
for i in 1 2; do
	net_guest "$T-g$i" n 192.168.78.1$i 192.168.78.1 || fail "attach g$i"
done

check "guest pings the gateway" ping4 "$T-g1" 192.168.78.1
check "guest reaches guest" ping4 "$T-g1" 192.168.78.12
check "host reaches the guest" ping -n -c 1 -W 2 192.168.78.11
check "guest pings the WAN" ping4 "$T-g1" 10.99.2.2
check "guest reaches the host's other addresses (local, not translated)" ping4 "$T-g1" 10.99.2.1
check "TCP 100 MiB guest to WAN, sha256" tcp_sha "$T-g1" "$T-wan" 10.99.2.2 100
check "UDP guest to WAN" sh -c "
	ip netns exec $T-wan timeout 5 nc -u -l -W 1 10.99.2.2 7777 > /tmp/$T.udp &
	sleep 0.3; echo hello-nat | ip netns exec $T-g2 nc -u -w 1 10.99.2.2 7777
	wait; grep -q hello-nat /tmp/$T.udp; r=\$?; rm -f /tmp/$T.udp; exit \$r"
# py_pair SERVER_NS SERVER CLIENT_NS CLIENT: the Python program SERVER in
# SERVER_NS in the background, CLIENT in CLIENT_NS 0.3 s later; CLIENT's
# status, once the server has ended
py_pair() {
	ip netns exec "$1" "$PY" -c "$2" &
	local pid=$! r
	sleep 0.3
	ip netns exec "$3" "$PY" -c "$4"
	r=$?
	wait "$pid"
	return $r
}
# A flow has one clock: a guest that only sends (a WireGuard client's
# keepalives) keeps the remote's way back open past the UDP timeout (3 s
# here). The remote answers once, stays silent 6 s while the guest sends
# every 0.5 s, then sends to the address and port it saw: the guest gets
# it (before, the flow's reply side timed out alone and the packet went
# to the host).
udp_one_way_keepalive() {
	py_pair "$T-wan" "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.bind(('10.99.2.2', 51820))
d, a = s.recvfrom(100); s.sendto(b'hi', a)
s.settimeout(0.2); end = time.time() + 6
while time.time() < end:
    try: d, a = s.recvfrom(100)
    except socket.timeout: pass
s.sendto(b'late', a)" \
		"$T-g1" "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.bind(('0.0.0.0', 51821))
s.sendto(b'hello', ('10.99.2.2', 51820))
assert s.recv(100) == b'hi'
s.settimeout(0.5); end = time.time() + 9
while time.time() < end:
    s.sendto(b'keepalive', ('10.99.2.2', 51820))
    try:
        if s.recv(100) == b'late': raise SystemExit(0)
    except socket.timeout: pass
raise SystemExit(1)"
}
check "net set ct-timeout udp 3" kvmbpf net set n ct-timeout udp 3
check "UDP: the guest's keepalives alone keep the remote's way back open past the timeout" udp_one_way_keepalive
check "net set ct-timeout udp 180" kvmbpf net set n ct-timeout udp 180
# A connection opened again from the same port while the old one is on
# the closing timeout (3 s here) is a new connection, established by its
# handshake: idle 5 s, the server's data still reaches the guest (before,
# the flow stayed closing and expired: the data went to the host).
tcp_reopen() {
	py_pair "$T-wan" "
import socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('10.99.2.2', 8099)); l.listen(2); l.settimeout(5)
c, a = l.accept(); c.settimeout(3)
try: c.recv(10); c.recv(10)
except OSError: pass
c2, a = l.accept(); time.sleep(5); c2.send(b'late'); time.sleep(1)" \
		"$T-g1" "
import socket, struct, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 40999)); s.connect(('10.99.2.2', 8099)); s.send(b'a')
time.sleep(0.3)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()  # a RST: the flow closing, no TIME_WAIT anywhere
time.sleep(0.5)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 40999)); s.connect(('10.99.2.2', 8099)); s.settimeout(9)
raise SystemExit(0 if s.recv(10) == b'late' else 1)"
}
check "net set ct-timeout tcp 3" kvmbpf net set n ct-timeout tcp 3
check "TCP: a connection reopened from the same port is established anew (idle past the closing timeout, data still arrives)" tcp_reopen
check "net set ct-timeout tcp 120" kvmbpf net set n ct-timeout tcp 120
# raw_echo PROTO CLIENT_NS [SIZE]: a packet of IP protocol PROTO (no
# ports: GRE 47, ESP 50...) and SIZE bytes (40 unless given; beyond the
# MTU both ends fragment it) from CLIENT_NS to the WAN's 10.99.2.2, echoed back by a
# raw socket there to the source it saw, which it writes to /tmp/$T.raw;
# the client must get the echo. Raw sockets: this kernel has no GRE or
# ESP of its own, and a raw socket is what a tunnel's packets look like
# to NAT.
raw_echo() {
	rm -f "/tmp/$T.raw"
	py_pair "$T-wan" "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, $1); s.settimeout(4)
s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER: DONT, fragment
while True:
    d, a = s.recvfrom(9000)
    if d[20:].startswith(b'kvmbpf-$1'): break
open('/tmp/$T.raw', 'w').write(a[0])
s.sendto(d[20:], (a[0], 0))" \
		"$2" "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, $1); s.settimeout(0.5)
s.setsockopt(socket.IPPROTO_IP, 10, 0)
msg = b'kvmbpf-$1' + bytes(i % 251 for i in range(${3:-40}))
end = time.time() + 3
s.sendto(msg, ('10.99.2.2', 0))
while time.time() < end:
    try: d, a = s.recvfrom(9000)
    except socket.timeout: continue
    if a[0] == '10.99.2.2' and d[20:] == msg: raise SystemExit(0)
raise SystemExit(1)"
}
check "GRE (no ports) guest to WAN and back, translated by its address" raw_echo 47 "$T-g1"
[ "$(cat "/tmp/$T.raw" 2>/dev/null)" = 10.99.2.1 ] && pass "the WAN saw the GRE from the host's address" ||
	fail "the WAN saw the GRE from '$(cat "/tmp/$T.raw" 2>/dev/null)'"
f0=$(stat "$T-g1" nat-fragment)
check "GRE of 3000 bytes guest to WAN and back (fragments both ways)" raw_echo 47 "$T-g1" 3000
[ "$(stat "$T-g1" nat-fragment)" = "$f0" ] && pass "no GRE fragment refused (nat-fragment)" ||
	fail "GRE fragments counted nat-fragment"
c0=$(stat "$T-g2" nat-clash)
check_not "GRE from a second guest to the same remote while g1's flow lives" raw_echo 47 "$T-g2"
[ "$(stat "$T-g2" nat-clash)" -gt "$c0" ] && pass "g2's GRE counted nat-clash" ||
	fail "g2's GRE not counted nat-clash"
# The host's own ESP with the remote (here one packet the WAN sends to the
# host's address): no guest's flow takes that remote's ESP from the host.
ip netns exec "$T-wan" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50)
s.sendto(b'host-esp' + bytes(40), ('10.99.2.1', 0))"
c0=$(stat "$T-g1" nat-clash)
check_not "ESP from a guest to a remote the host has ESP with" raw_echo 50 "$T-g1"
[ "$(stat "$T-g1" nat-clash)" -gt "$c0" ] && pass "the guest's ESP counted nat-clash (the host's remote)" ||
	fail "the guest's ESP to the host's ESP remote not counted nat-clash"
rm -f "/tmp/$T.raw"
# udp_echo4000 SERVER_NS BIND CLIENT_NS DEST PORT: a 4000-byte UDP datagram
# (fragmented on a 1500 link) from CLIENT_NS to DEST:PORT, echoed by a
# server in SERVER_NS bound to BIND:PORT, comes back whole
udp_echo4000() {
	py_pair "$1" "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.bind(('$2', $5))
d, a = s.recvfrom(65535); s.sendto(d, a)" \
		"$3" "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
d = bytes(i % 251 for i in range(4000))
s.sendto(d, ('$4', $5))
r, a = s.recvfrom(65535)
raise SystemExit(0 if r == d else 1)"
}
# Datagrams beyond the MTU: the guest's kernel fragments them, the WAN's
# answers come back fragmented; each fragment is translated (the later
# ones by their first's flow), nothing counted nat-fragment.
f0=$(stat "$T-g1" nat-fragment)
check "a ping of 3000 bytes to the gateway (the host answers fragments)" \
	in_ns "$T-g1" ping -n -c 2 -i 0.3 -s 3000 -W 2 192.168.78.1
check "a ping of 3000 bytes to the host's WAN address (not translated)" \
	in_ns "$T-g1" ping -n -c 2 -i 0.3 -s 3000 -W 2 10.99.2.1
check "a ping of 3000 bytes to the WAN (fragments both ways)" \
	in_ns "$T-g1" ping -n -c 2 -i 0.3 -s 3000 -W 2 10.99.2.2
check "a UDP datagram of 4000 bytes to the WAN and back (fragments)" udp_echo4000 "$T-wan" 10.99.2.2 "$T-g1" 10.99.2.2 7778
[ "$(stat "$T-g1" nat-fragment)" = "$f0" ] && pass "no fragment refused (nat-fragment)" ||
	fail "nat-fragment counted $(( $(stat "$T-g1" nat-fragment) - f0 )) on the guest's port"
# Fragments reordered after the first (first, last, middle: per-packet
# load balancing, multi-path links), both ways: the last one does not end
# the datagram's note, the middle one after it is translated too (t93:
# lost, nat-fragment from the guest, the host's from the WAN). The
# guest's 2500-byte datagram in three fragments so, the WAN's answer too.
udp_reordered() {
	py_pair "$T-wan" "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(8)
s.bind(('10.99.2.2', 7780))
d, a = s.recvfrom(65535)
from scapy.all import IP, UDP, Raw, fragment, send, conf
conf.verb = 0
if d == bytes(i % 251 for i in range(2500)):
    fr = fragment(IP(src='10.99.2.2', dst=a[0], id=7301) / UDP(sport=7780, dport=a[1]) / Raw(d[::-1]), fragsize=1000)
    for j in (0, 2, 1):
        send(fr[j])" \
		"$T-g1" "
import socket
from scapy.all import IP, UDP, Raw, fragment, send, conf
conf.verb = 0
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(4)
s.bind(('192.168.78.11', 40780))
d = bytes(i % 251 for i in range(2500))
fr = fragment(IP(src='192.168.78.11', dst='10.99.2.2', id=7300) / UDP(sport=40780, dport=7780) / Raw(d), fragsize=1000)
for j in (0, 2, 1):
    send(fr[j])
r, a = s.recvfrom(65535)
raise SystemExit(0 if r == d[::-1] else 1)"
}
f0=$(stat "$T-g1" nat-fragment)
check "a UDP datagram in fragments first, last, middle to the WAN, and its answer so back" udp_reordered
[ "$(stat "$T-g1" nat-fragment)" = "$f0" ] && pass "no reordered fragment refused (nat-fragment)" ||
	fail "reordered fragments: nat-fragment +$(( $(stat "$T-g1" nat-fragment) - f0 ))"
# forwarding off on the network's host interface (what a host-wide write
# of net.ipv4.ip_forward=0 does to every interface): the host's choice
# stands, and a guest's new flow out is counted as such, not as a route
# missing; turned on there again, it leaves
ngw=$(kvmbpf -j net show n | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
sysctl -qw "net.ipv4.conf.$ngw.forwarding=0"
f0=$(stat "$T-g1" forwarding-off)
check_not "forwarding off on $ngw: a new flow out does not leave" ping4 "$T-g1" 10.99.2.2
[ "$(stat "$T-g1" forwarding-off)" -gt "$f0" ] && pass "... counted forwarding-off" ||
	fail "... forwarding-off $f0 -> $(stat "$T-g1" forwarding-off)"
sysctl -qw "net.ipv4.conf.$ngw.forwarding=1"
check "forwarding on again: the flow leaves" ping4 "$T-g1" 10.99.2.2
check "UDP to a closed WAN port: the guest gets port unreachable" in_ns "$T-g1" "$PY" -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.connect(('10.99.2.2', 9))
s.send(b'x')
try:
    s.recv(16)
except ConnectionRefusedError:
    raise SystemExit(0)
raise SystemExit(1)"
peer=$(seen_from "$T-wan" 10.99.2.2 8088 "$T-g1")
[ "$peer" = 10.99.2.1 ] && pass "the WAN sees only the host's address" ||
	fail "the WAN saw '$peer'"
check "ct show -j: translated flows, finished TCP ones closing, GRE's by name" "$PY" -c "
import json, subprocess
ct = json.loads(subprocess.check_output(['$ROOT/build/kvmbpf', '--bpffs', '$BPFFS', '-j', 'ct', 'show', 'net', 'n']))
assert any(c['proto'] == 'tcp' and c['src'] == '192.168.78.11' and c['nat_src'] == '10.99.2.1'
           and c['state'] == 'closing' for c in ct), ct
assert any(c['proto'] == 'icmp' for c in ct), ct
assert any(c['proto'] == 'gre' and c['src'] == '192.168.78.11' and c['sport'] == 0
           and c['nat_src'] == '10.99.2.1' for c in ct), ct"
# Nothing from the WAN reaches a guest by itself, even with a route.
in_ns "$T-wan" ip route add 192.168.78.0/24 via 10.99.2.1
e0=$(icmp_in_echos "$T-g1")
check_not "the WAN cannot reach a guest" ping4 "$T-wan" 192.168.78.11
[ "$(icmp_in_echos "$T-g1")" = "$e0" ] && pass "no echo request reached the guest" ||
	fail "the guest received echo requests from the WAN"
# DHCP: dnsmasq on the gateway interface; a dynamic and a static lease.
cat >"/tmp/$T.udhcpc" <<'EOS'
#!/bin/sh
[ "$1" = bound ] || exit 0
ip addr add "$ip/$mask" dev "$interface"
[ -n "$router" ] && ip route add default via "${router%% *}"
echo "$ip $router $dns" > "/tmp/$(ip netns identify)-lease"
exit 0
EOS
chmod +x "/tmp/$T.udhcpc"
check "net show -j: dnsmasq runs" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j net show n | grep -q '\"dhcp\":true,.*\"dnsmasq_running\":true'"
for i in 3 4; do
	netns_add "$T-g$i"
	guest_link "$T-g$i" "$T-g$i"
done
ip -n "$T-g4" link set eth0 address 52:54:00:78:00:50
kvmbpf attach "$T-g3" net n || fail "attach g3"
kvmbpf attach "$T-g4" net n mac 52:54:00:78:00:50 ip 192.168.78.50 || fail "attach g4"
for i in 3 4; do
	check "DHCP: guest $i gets a lease (busybox udhcpc)" \
		in_ns "$T-g$i" timeout 20 busybox udhcpc -i eth0 -n -q -f -t 10 -T 1 -s "/tmp/$T.udhcpc"
done
lease3=$(cat "/tmp/$T-g3-lease" 2>/dev/null)
case $lease3 in
192.168.78.*" 192.168.78.1 192.168.78.1") pass "DHCP: address, router and DNS ($lease3)" ;;
*) fail "DHCP: lease '$lease3'" ;;
esac
check "DHCP: the static lease is the port's ip" grep -q "^192.168.78.50 " "/tmp/$T-g4-lease"
check "DHCP: the leased guest reaches the WAN" ping4 "$T-g3" 10.99.2.2
check "DHCP: the fabric learned the lease for spoofcheck" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j port show $T-g3 | grep -q '\"source\":\"dhcp\"'"
rm -f "/tmp/$T.udhcpc" "/tmp/$T-g3-lease" "/tmp/$T-g4-lease"
# Port forwards: from the WAN to the host's address and port, into a guest.
# (an address no guest holds: not the one dnsmasq leased to g3, which is
# any of the range, .99 in one CI run)
unowned=192.168.78.99
[ "${lease3%% *}" = "$unowned" ] && unowned=192.168.78.98
out=$(kvmbpf forward add n proto tcp port 8080 to "$unowned" 2>&1) &&
	grep -q "no guest of n holds $unowned yet" <<<"$out" &&
	pass "forward to an address no guest holds yet: added, with a note" ||
	fail "forward to $unowned, held by no guest: $out"
check "... forward del" kvmbpf forward del n proto tcp port 8080
expect_err "forward to an address outside the network: refused" "is outside network n" \
	kvmbpf forward add n proto tcp port 8080 to 10.99.2.2
expect_err "forward to the gateway: refused" "is the gateway of network n" \
	kvmbpf forward add n proto tcp port 8080 to 192.168.78.1
check "forward add" kvmbpf forward add n proto tcp port 8080-8081 to 192.168.78.11:80
check "forward show -j" sh -c "\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j forward show n | \
	grep -q '\"port\":8080,\"to\":\"192.168.78.11\",\"to_port\":80'"
fwd_peer() { # PORT GUEST_PORT: the peer address the guest's server saw, or nothing
	in_ns "$T-g1" timeout 6 "$PY" -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.settimeout(4); s.bind(('0.0.0.0', $2)); s.listen(1)
try:
    c, a = s.accept(); c.sendall(b'hello-forward'); c.close(); print(a[0])
except OSError:
    pass" & sleep 0.5
	in_ns "$T-wan" timeout 5 "$PY" -c "
import socket
c = socket.create_connection(('10.99.2.1', $1), timeout=3)
assert c.recv(64) == b'hello-forward'" >/dev/null 2>&1
	wait
}
[ "$(fwd_peer 8080 80)" = 10.99.2.2 ] && pass "forward: the WAN reaches the guest, which sees the WAN's address" ||
	fail "forward: WAN to 10.99.2.1:8080 did not reach the guest"
[ "$(fwd_peer 8081 81)" = 10.99.2.2 ] && pass "forward: 8081 goes to port 81 (ranges map one to one)" ||
	fail "forward: port 8081 did not reach the guest"
# IPv4 options from the WAN (bb17): NAT rewrites plain headers only, so
# a forward's connection with options is refused, counted ip-options on
# the WAN port (before: left to the host, whose RST refused it, uncounted)
o0=$(stat "$T-w" ip-options)
expect "forward: a WAN connection with IP options (NOPs) is dropped, not refused by the host" timeout \
	"$(in_ns "$T-wan" "$PY" -c "
import socket
c = socket.socket(); c.settimeout(2)
c.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, b'\x01\x01\x01\x00')
try:
    c.connect(('10.99.2.1', 8080)); print('connected')
except ConnectionRefusedError:
    print('refused')
except OSError:
    print('timeout')" 2>&1)"
[ "$(stat "$T-w" ip-options)" -gt "$o0" ] && pass "... counted ip-options on the WAN port" ||
	fail "... ip-options on the WAN port: $o0 -> $(stat "$T-w" ip-options)"
# segments no TCP sends open nothing through a forward (a NULL, FIN or
# Xmas scan, SYN+FIN, SYN+RST: conntrack's INVALID, which libvirt's NAT
# never forwards): l4-malformed, no flow (before: each reached the guest
# and made a flow)
flows() { kvmbpf -j ct show net n | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
m0=$(stat "$T-w" l4-malformed)
c0=$(flows)
in_ns "$T-wan" "$PY" -c "
from scapy.all import IP, TCP, send, conf
conf.verb = 0
for i, fl in enumerate(['', 'F', 'FPU', 'SF', 'SR', 'FSRPAUEC']):
    send(IP(dst='10.99.2.1') / TCP(sport=47000 + i, dport=8080, flags=fl))" 2>/dev/null
m1=$(stat "$T-w" l4-malformed)
c1=$(flows)
[ "$((m1 - m0))" -eq 6 ] && [ "$c1" = "$c0" ] &&
	pass "forward: NULL, FIN, Xmas, SYN+FIN, SYN+RST, all flags: 6 l4-malformed, no flow" ||
	fail "forward: invalid TCP flags: l4-malformed $m0 -> $m1, flows $c0 -> $c1"
# nor do segments of a connection that is not there (a stray SYN+ACK,
# RST, FIN+ACK: INVALID to conntrack's tcp_new too): nat-unsolicited, no
# flow (before: each made one and reached the guest, which answered RST)
u0=$(stat "$T-w" nat-unsolicited)
in_ns "$T-wan" "$PY" -c "
from scapy.all import IP, TCP, send, conf
conf.verb = 0
for i, fl in enumerate(['SA', 'R', 'RA', 'FA']):
    send(IP(dst='10.99.2.1') / TCP(sport=47100 + i, dport=8080, flags=fl, seq=1, ack=1))" 2>/dev/null
u1=$(stat "$T-w" nat-unsolicited)
c2=$(flows)
[ "$((u1 - u0))" -eq 4 ] && [ "$c2" = "$c0" ] &&
	pass "forward: a stray SYN+ACK, RST, RST+ACK, FIN+ACK: 4 nat-unsolicited, no flow" ||
	fail "forward: stray segments: nat-unsolicited $u0 -> $u1, flows $c0 -> $c2"
# g1's VM restarts as under libvirt (detach, its NIC made again: a new
# ifindex; attach with the same ip): the forward reaches it at once
m1=$(ip -n "$T-g1" -br link show eth0 | awk '{print $3}')
i1=$(cat "/sys/class/net/$T-g1/ifindex")
kvmbpf detach "$T-g1" && ip link del "$T-g1" && guest_link "$T-g1" "$T-g1" &&
	ip -n "$T-g1" link set eth0 address "$m1" &&
	ip -n "$T-g1" addr add 192.168.78.11/24 dev eth0 &&
	ip -n "$T-g1" route add default via 192.168.78.1 &&
	kvmbpf attach "$T-g1" net n ip 192.168.78.11 || fail "g1 restarted: set-up"
[ "$(cat "/sys/class/net/$T-g1/ifindex")" != "$i1" ] && [ "$(fwd_peer 8080 80)" = 10.99.2.2 ] &&
	pass "forward: the WAN reaches g1 again after its VM restarted (a new port, the same ip)" ||
	fail "forward: after g1's restart (ifindex $i1 -> $(cat "/sys/class/net/$T-g1/ifindex")) the WAN did not reach it"
# a UDP forward and datagrams beyond the MTU: the WAN's first fragment
# makes the flow, the later ones follow it; the guest's answer too
check "forward add udp 5353 to g1" kvmbpf forward add n proto udp port 5353 to 192.168.78.11:5353
check "forward: a UDP datagram of 4000 bytes from the WAN and back (fragments)" udp_echo4000 "$T-g1" 0.0.0.0 "$T-wan" 10.99.2.1 5353
check "hairpin: g2's UDP datagram of 4000 bytes through the WAN address to g1 and back" udp_echo4000 "$T-g1" 0.0.0.0 "$T-g2" 10.99.2.1 5353
hairpin_peer() { # [NS]: the peer address g1's server saw when NS's guest (g2) used the forward
	in_ns "$T-g1" timeout 6 "$PY" -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.settimeout(4); s.bind(('0.0.0.0', 80)); s.listen(1)
try:
    c, a = s.accept(); c.sendall(b'hello-hairpin'); c.close(); print(a[0])
except OSError:
    pass" & sleep 0.5
	in_ns "${1:-$T-g2}" timeout 5 "$PY" -c "
import socket
c = socket.create_connection(('10.99.2.1', 8080), timeout=3)
assert c.recv(64) == b'hello-hairpin'" >/dev/null 2>&1
	wait
}
[ "$(hairpin_peer)" = 192.168.78.1 ] && pass "hairpin: a guest reaches the forward's guest through the WAN address" ||
	fail "hairpin: g2 to 10.99.2.1:8080 did not reach g1"
# through the hairpin, as from the WAN: a segment no TCP sends opens no
# flow to the forward's guest (l4-malformed on the sender's port; before:
# each made one and reached g1)
m0=$(stat "$T-g2" l4-malformed) u2=$(stat "$T-g2" nat-unsolicited)
c0=$(flows)
in_ns "$T-g2" "$PY" -c "
from scapy.all import IP, TCP, send, conf
conf.verb = 0
for i, fl in enumerate(['', 'FPU', 'SF']):
    send(IP(dst='10.99.2.1') / TCP(sport=47200 + i, dport=8080, flags=fl))
for i, fl in enumerate(['SA', 'R', 'FA']):
    send(IP(dst='10.99.2.1') / TCP(sport=47210 + i, dport=8080, flags=fl, seq=1, ack=1))" 2>/dev/null
m1=$(stat "$T-g2" l4-malformed)
c1=$(flows)
[ "$((m1 - m0))" -eq 3 ] && [ "$c1" = "$c0" ] &&
	pass "hairpin: NULL, Xmas, SYN+FIN and a stray SYN+ACK, RST, FIN+ACK to the forward: no flow, 3 l4-malformed" ||
	fail "hairpin: invalid TCP flags: l4-malformed $m0 -> $m1, flows $c0 -> $c1"
[ "$(( $(stat "$T-g2" nat-unsolicited) - u2 ))" -eq 3 ] &&
	pass "... and 3 nat-unsolicited" ||
	fail "hairpin: stray segments: nat-unsolicited $u2 -> $(stat "$T-g2" nat-unsolicited)"
# A guest of another nat network reaches the forward as from the WAN, as
# kernel DNAT takes every network's guest to it (t91: the host's own port
# answered): n2 on the same WAN device (the same WAN address), n3 on
# another one (its own WAN address; 10.99.2.1 is then the host's)
behind "$T-w3" "$T-wan3" 10.98.3.2/24 10.98.3.1/24
check "net add n2 (nat, the same WAN)" kvmbpf net add n2 type nat subnet 192.168.74.0/24 wan "$T-w" dhcp off
check "net add n3 (nat, another WAN)" kvmbpf net add n3 type nat subnet 192.168.73.0/24 wan "$T-w3" dhcp off
net_guest "$T-x3" n2 192.168.74.13 192.168.74.1 || fail "attach x3"
net_guest "$T-x4" n3 192.168.73.14 192.168.73.1 || fail "attach x4"
[ "$(hairpin_peer "$T-x3")" = 192.168.78.1 ] &&
	pass "hairpin: a guest of another nat network on the same WAN reaches the forward's guest" ||
	fail "hairpin: x3 (n2) to 10.99.2.1:8080 did not reach g1"
[ "$(hairpin_peer "$T-x4")" = 192.168.78.1 ] &&
	pass "hairpin: a guest of a nat network on another WAN reaches the forward's guest" ||
	fail "hairpin: x4 (n3) to 10.99.2.1:8080 did not reach g1"
check "... and the host's own services there still answer it (no forward: the host's)" \
	in_ns "$T-x4" ping -n -c 1 -W 2 10.99.2.1
# its fragments too, with another WAN device (t100: the later ones went
# to the host's stack)
check "hairpin from another WAN's network: a UDP datagram of 4000 bytes to g1 and back (fragments)" \
	udp_echo4000 "$T-g1" 0.0.0.0 "$T-x4" 10.99.2.1 5353
# and a guest of a routed network (not behind a nat one): kernel DNAT
# takes its packets to the forward as any interface's (t103: the host's
# own port answered)
check "net add r5 (routed, not peered)" kvmbpf net add r5 type routed subnet 192.168.72.0/24 dhcp off
net_guest "$T-x5" r5 192.168.72.15 192.168.72.1 || fail "attach x5"
[ "$(hairpin_peer "$T-x5")" = 192.168.78.1 ] &&
	pass "hairpin: a guest of a routed network reaches a nat network's forward at its WAN address" ||
	fail "hairpin: x5 (routed r5) to 10.99.2.1:8080 did not reach g1"
check "... its fragmented UDP datagram of 4000 bytes too, to g1 and back" \
	udp_echo4000 "$T-g1" 0.0.0.0 "$T-x5" 10.99.2.1 5353
check "... and the host's own services there still answer it" \
	in_ns "$T-x5" ping -n -c 1 -W 2 10.99.2.1
# into a nat network of a smaller MTU (n6, 1400, a forward at the same
# WAN address): a datagram too long for it is answered with fragmentation
# needed, 1400, from the sender's gateway, counted too-big on the
# sender's port, as one from the WAN is; shorter ones arrive (before, the
# receiver's link dropped it uncounted and the sender never learned)
check "net add n6 (nat, the same WAN, mtu 1400)" \
	kvmbpf net add n6 type nat subnet 192.168.71.0/24 wan "$T-w" dhcp off mtu 1400
net_guest "$T-x6" n6 192.168.71.16 192.168.71.1 || fail "attach x6"
ip -n "$T-x6" link set eth0 mtu 1400
ping4 "$T-x6" 192.168.71.1 >/dev/null	# its MAC known: the forward reaches it
check "forward add n6 udp 5366 to x6" kvmbpf forward add n6 proto udp port 5366 to 192.168.71.16:5366
in_ns "$T-x6" timeout 20 "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 5366))
while True:
    d, a = s.recvfrom(65535); s.sendto(b'%d' % len(d), a)" >/dev/null 2>&1 &
sleep 0.5
pmtu_to_n6() { # NS: '1300:1300 1450:MTU' (an answer's length, or the path MTU it learned)
	in_ns "$1" "$PY" -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.setsockopt(socket.IPPROTO_IP, 10, 2)	# IP_MTU_DISCOVER: IP_PMTUDISC_DO
s.connect(('10.99.2.1', 5366))
s.send(b'x' * 1300); r = ['1300:' + s.recv(64).decode()]
try:
    s.send(b'y' * 1450); s.recv(64); r.append('1450:answered')
except OSError:
    r.append('1450:%d' % s.getsockopt(socket.IPPROTO_IP, 14))	# IP_MTU
print(' '.join(r))" 2>&1
}
for g in g2 x3 x5; do
	tb0=$(stat "$T-$g" too-big)
	expect "hairpin from $g into n6 (mtu 1400): 1300 bytes arrive, 1450 get fragmentation needed, 1400" \
		"1300:1300 1450:1400" "$(pmtu_to_n6 "$T-$g")"
	tb1=$(stat "$T-$g" too-big)
	[ "$tb1" -gt "$tb0" ] && pass "... counted too-big on $g's port" ||
		fail "... too-big on $g's port: $tb0 -> $tb1"
done
# a guest whose link is longer than its network (1500 over n6's 1400: a
# static configuration, a DHCP client that takes no option 26): what it
# sends out too long is answered fragmentation needed, 1400, from its
# gateway, counted too-big, and its TCP finds the path MTU (before: every
# such packet was dropped mtu-exceeded, the guest never told, its TCP
# upload stalled for good)
ip -n "$T-x6" link set eth0 mtu 1500
ip -n "$T-x6" route flush cache 2>/dev/null
tb0=$(stat "$T-x6" too-big)
expect "x6 (link 1500, network 1400) to the WAN: 1450 bytes with DF learn 1400" "1450:1400" "$(in_ns "$T-x6" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.setsockopt(socket.IPPROTO_IP, 10, 2)	# IP_MTU_DISCOVER: IP_PMTUDISC_DO
s.connect(('10.99.2.2', 9))
s.send(b'y' * 1450)
try:
    s.recv(64)
except OSError:
    pass
print('1450:%d' % s.getsockopt(socket.IPPROTO_IP, 14))" 2>&1)"
tb1=$(stat "$T-x6" too-big)
[ "$tb1" -gt "$tb0" ] && pass "... counted too-big on x6's port" ||
	fail "... too-big on x6's port: $tb0 -> $tb1"
ip -n "$T-x6" route flush cache 2>/dev/null
check "... its TCP to the WAN finds the path MTU: 8 MiB, sha256" tcp_sha "$T-x6" "$T-wan" 10.99.2.2 8
kill %% 2>/dev/null
check "net del n6" kvmbpf net del n6
# another port's detach (a VM stopped) forgets the flows no port takes
# any more: not a hairpin from another network's guest, whose port is of
# that network (before, every such connection lost its flow and broke)
hairpin_survives() { # NS: its connection to g1's forward outlives a detach
	ip link add "$T-zz" type veth peer name "$T-zy" && LINK_LIST+=("$T-zz") &&
		ip link set "$T-zz" up || return 1
	in_ns "$T-g1" timeout 12 "$PY" -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.settimeout(10); s.bind(('0.0.0.0', 80)); s.listen(1)
c, a = s.accept(); c.settimeout(10)
c.sendall(c.recv(64))" 2>/dev/null & local lp=$!
	sleep 0.5
	in_ns "$1" timeout 12 "$PY" -c "
import socket, os, time
c = socket.create_connection(('10.99.2.1', 8080), timeout=3)
open('$TMPDIR/hp-up', 'w').close()
while not os.path.exists('$TMPDIR/hp-go'):
    time.sleep(0.1)
c.settimeout(4); c.sendall(b'after-detach')
assert c.recv(64) == b'after-detach'" 2>/dev/null & local cp=$!
	for _ in $(seq 50); do [ -e "$TMPDIR/hp-up" ] && break; sleep 0.1; done
	kvmbpf attach "$T-zz" net n && kvmbpf detach "$T-zz"
	# its flow is still there (before, it went, and the next packet
	# made a new one: new again, its idle timeout restarted)
	kvmbpf -j ct show net n | "$PY" -c "
import json, sys
ct = json.load(sys.stdin)
assert [c for c in ct if c['proto'] == 'tcp' and c['src'] == '$2' and c['dport'] == 8080
        and c['state'] == 'established'], ct"; local kept=$?
	touch "$TMPDIR/hp-go"
	wait "$cp"; local rc=$?
	wait "$lp"
	rm -f "$TMPDIR/hp-up" "$TMPDIR/hp-go"; ip link del "$T-zz"
	[ "$kept" = 0 ] && return $rc
	return 1
}
check "... its connection and flow outlive another port's detach" hairpin_survives "$T-x5" 192.168.72.15
check "... and so do one from another nat network's guest (x3)" hairpin_survives "$T-x3" 192.168.74.13
kvmbpf detach "$T-x5"
kvmbpf net del r5 || fail "net del r5"
# a hairpin connection is established as any (before, it stayed new and
# an idle one was cut after 120 s)
in_ns "$T-g1" timeout 8 "$PY" -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 80)); s.listen(1); s.settimeout(6)
try:
    c, a = s.accept(); time.sleep(3); c.close()
except OSError:
    pass" & lpid=$!
sleep 0.5
in_ns "$T-g2" timeout 6 "$PY" -c "
import socket, time
c = socket.create_connection(('10.99.2.1', 8080), timeout=3); time.sleep(2.5)" &
cpid=$!
sleep 1
check "hairpin: the connection is established" "$PY" -c "
import json, subprocess
ct = json.loads(subprocess.check_output(['$ROOT/build/kvmbpf', '--bpffs', '$BPFFS', '-j', 'ct', 'show', 'net', 'n']))
h = [c for c in ct if c['proto'] == 'tcp' and c['src'] == '192.168.78.12' and c['dst'] == '10.99.2.1'
     and c['dport'] == 8080 and c['state'] != 'closing']
assert len(h) == 1 and h[0]['state'] == 'established', h"
wait "$cpid" "$lpid" 2>/dev/null
# isolation is among one network's guests: a hairpin from another
# network comes as from the WAN (t101: refused, counted isolated)
kvmbpf port set "$T-x3" isolated on && kvmbpf port set "$T-g1" isolated on ||
	fail "port set isolated on"
[ "$(hairpin_peer "$T-x3")" = 192.168.78.1 ] &&
	pass "hairpin from another nat network, both ports isolated: reaches the forward's guest" ||
	fail "hairpin: isolated x3 (n2) to isolated g1's forward did not reach it"
# the port unreachable of isolated g1 (its closed UDP port 5998) about
# isolated x3's datagram goes back to x3 (before: dropped, isolated)
check "forward add udp 5355 to g1's closed port 5998" \
	kvmbpf forward add n proto udp port 5355 to 192.168.78.11:5998
# refused_at NS PORT: NS's datagram to the WAN address's PORT is answered
# port unreachable (its connected socket hears ECONNREFUSED)
refused_at() {
	in_ns "$1" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.connect(('10.99.2.1', $2)); s.send(b'hairpin?')
try:
    s.recv(16)
except ConnectionRefusedError:
    raise SystemExit(0)
raise SystemExit(1)"
}
check "... and g1's port unreachable about x3's datagram reaches x3's socket" refused_at "$T-x3" 5355
kvmbpf forward del n proto udp port 5355
[ -z "$(hairpin_peer "$T-g2")" ] &&
	pass "... while g2, of g1's own network, is refused the hairpin to isolated g1" ||
	fail "hairpin: g2 reached isolated g1 through the WAN address"
kvmbpf port set "$T-x3" isolated off && kvmbpf port set "$T-g1" isolated off ||
	fail "port set isolated off"
kvmbpf detach "$T-x3"; kvmbpf detach "$T-x4"
kvmbpf net del n2 && kvmbpf net del n3 || fail "net del n2 n3"
# An ICMP error about a hairpinned datagram (g1's closed UDP port 5999,
# forwarded as 5354) goes back through the hairpin to g2, as from the WAN
# address, quoting g2's own datagram with every checksum right (before,
# it went to the host at the gateway's address and g2 waited)
check "forward add udp 5354 to g1's closed port 5999" kvmbpf forward add n proto udp port 5354 to 192.168.78.11:5999
check "hairpin: port unreachable about g2's datagram reaches g2's socket" refused_at "$T-g2" 5354
# a datagram with its whole checksum (a socket's on a veth is partial,
# and so is its quote): the error quotes it as sent, every checksum right
check "hairpin: the error quotes g2's datagram as sent, checksums right" in_ns "$T-g2" "$PY" -c "
import struct
from scapy.all import IP, UDP, sr1, raw
from scapy.utils import checksum
r = sr1(IP(dst='10.99.2.1') / UDP(sport=40999, dport=5354) / b'hairpin?', timeout=3, verbose=0)
assert r is not None, 'no answer'
o = raw(r[IP]); assert o[12:16] == bytes([10, 99, 2, 1]), o[12:16]
assert o[20:22] == bytes([3, 3]), 'not port unreachable'
assert checksum(o[:20]) == 0 and checksum(o[20:]) == 0, 'outer or ICMP checksum'
q = o[28:]; assert checksum(q[:20]) == 0, 'quoted IP checksum'
assert q[12:20] == bytes([192, 168, 78, 12, 10, 99, 2, 1]), q[12:20]
assert struct.unpack('!HHH', q[20:26]) == (40999, 5354, 16), q[20:26]
assert checksum(q[12:20] + bytes([0, 17]) + q[24:26] + q[20:36]) == 0, 'quoted UDP checksum'"
# A SYN flood from forged WAN sources at the forward's open port: g1's
# stack answers every SYN with a SYN-ACK, but no forged source completes
# the handshake, so each flow stays new (TCP's opening timeout, 120 s)
# instead of taking an established flow's 7440 s, which would hold the
# network's flows for two hours. A real client's flow is established.
in_ns "$T-g1" timeout 8 "$PY" -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 80)); s.listen(128)
s.settimeout(6)
try:
    c, a = s.accept(); time.sleep(2); c.close()
except OSError:
    pass" & lpid=$!
sleep 0.5
in_ns "$T-wan" "$PY" -c "
from scapy.all import IP, TCP, send
send([IP(src='10.99.2.%d' % (100 + i), dst='10.99.2.1') /
      TCP(sport=41000 + i, dport=8080, flags='S', seq=1000) for i in range(40)],
     verbose=0)" >/dev/null 2>&1
in_ns "$T-wan" timeout 5 "$PY" -c "
import socket, time
c = socket.create_connection(('10.99.2.1', 8080), timeout=3); time.sleep(1.5)" &
cpid=$!
sleep 1
check "SYN flood at a forward: forged flows stay new, the real client's is established" "$PY" -c "
import json, subprocess
ct = json.loads(subprocess.check_output(['$ROOT/build/kvmbpf', '--bpffs', '$BPFFS', '-j', 'ct', 'show', 'net', 'n']))
forged = [c for c in ct if c['proto'] == 'tcp' and c['dport'] >= 41000 and c['dport'] < 41040
          and c['dst'].startswith('10.99.2.1') and c['dst'] != '10.99.2.1']
real = [c for c in ct if c['proto'] == 'tcp' and c['dst'] == '10.99.2.2' and c['sport'] == 80
        and c['state'] != 'closing']
assert len(forged) == 40, ('forged flows', len(forged), forged[:3])
assert all(c['state'] == 'new' for c in forged), [c['state'] for c in forged]
assert len(real) == 1 and real[0]['state'] == 'established', real"
wait "$cpid" "$lpid" 2>/dev/null
# The same flood at a guest whose share is small (ct-port-max 20): 60
# forged SYNs fill it with flows that never complete, yet a real client
# still connects and the guest's own new flows still go out, because a
# new flow evicts one of the guest's flows that is not established
# (conntrack's early drop; counted as ct-evicted). Before, both were
# refused as nat-port-full for TCP's 120 s opening timeout.
check "ct flush before the small-share flood" kvmbpf ct flush net n
check "net set ct-port-max 20 (flood)" kvmbpf net set n ct-port-max 20
e0=$(stat "$T-g1" ct_evicted)
in_ns "$T-g1" timeout 10 "$PY" -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 80)); s.listen(128)
s.settimeout(8)
try:
    c, a = s.accept(); c.sendall(b'past-the-flood'); time.sleep(1); c.close()
except OSError:
    pass" & lpid=$!
sleep 0.5
in_ns "$T-wan" "$PY" -c "
from scapy.all import IP, TCP, send
send([IP(src='10.99.3.%d' % (10 + i), dst='10.99.2.1') /
      TCP(sport=42000 + i, dport=8080, flags='S', seq=1000) for i in range(60)],
     verbose=0)" >/dev/null 2>&1
check "small share full of forged SYNs: a real client connects through the forward" \
	in_ns "$T-wan" timeout 6 "$PY" -c "
import socket
c = socket.create_connection(('10.99.2.1', 8080), timeout=4)
assert c.recv(64) == b'past-the-flood'"
# (eviction samples 8 places of a pool: a rare miss is a refusal, which
# the next echo, or a SYN's retransmission, tries again)
check "small share full of forged SYNs: the guest's own new flow goes out" \
	in_ns "$T-g1" ping -n -c 3 -i 0.3 -W 2 10.99.2.2
e1=$(stat "$T-g1" ct_evicted)
[ $((e1 - e0)) -ge 30 ] && pass "small share: flows not established evicted for new ones (ct-evicted +$((e1 - e0)) of about 40)" ||
	fail "small share: ct-evicted +$((e1 - e0)), want about 40 (60 SYNs beyond a share of 20)"
wait "$lpid" 2>/dev/null
check "net set ct-port-max 131072 (flood)" kvmbpf net set n ct-port-max 131072
check "ct flush after the small-share flood" kvmbpf ct flush net n
# Forged and tagged frames from the WAN. wmac: the WAN device's MAC.
wmac=$(cat /sys/class/net/"$T-w"/address)
sp0=$(stat "$T-w" spoof-ip)
in_ns "$T-wan" "$PY" -c "
from scapy.all import Ether, IP, TCP, sendp, conf
conf.verb = 0
# a SYN at the forward from g2's address and from the gateway's
for src in ('192.168.78.12', '192.168.78.1'):
    sendp(Ether(dst='$wmac') / IP(src=src, dst='10.99.2.1') /
          TCP(sport=40001, dport=8080, flags='S'), iface='eth0')" 2>/dev/null
[ $(( $(stat "$T-w" spoof-ip) - sp0 )) -ge 2 ] &&
	pass "a forward's SYN from a guest's or the gateway's address (forged, from the WAN): spoof-ip" ||
	fail "forged WAN sources at the forward: spoof-ip +$(( $(stat "$T-w" spoof-ip) - sp0 ))"
check_not "... and no flow made for them" sh -c \
	"'$ROOT/build/kvmbpf' --bpffs $BPFFS -j ct show net n | grep -q '40001'"
# a reply to a guest's flow whose VLAN tag the NIC took off belongs to a
# VLAN device (eth0.100, say), not to this WAN port: passed, never
# dropped as vlan-tagged (that lost every reply on a host whose default
# route is a VLAN of its NIC); one with a priority tag (VID 0, 802.1p) is
# an untagged frame, as the kernel takes it: translated to the guest
# (before, refused vlan-tagged)
in_ns "$T-g1" timeout 8 "$PY" -c "
import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 40002)); s.sendto(b'x', ('10.99.2.2', 7778)); s.settimeout(6)
print(s.recv(10).decode())" >"$TMPDIR/prio" 2>&1 &
ppid=$!
sleep 1
np=$("$ROOT/build/kvmbpf" --bpffs "$BPFFS" -j ct show net n | "$PY" -c '
import json, sys
print(next(c["nat_sport"] for c in json.load(sys.stdin) if c["sport"] == 40002))')
vt0=$(stat "$T-w" vlan-tagged)
in_ns "$T-wan" "$PY" -c "
from scapy.all import Ether, Dot1Q, IP, UDP, sendp, conf
conf.verb = 0
sendp(Ether(dst='$wmac') / Dot1Q(vlan=100) / IP(src='10.99.2.2', dst='10.99.2.1') /
      UDP(sport=7778, dport=$np) / b'y', iface='eth0')
# and a priority tag (VID 0): an untagged frame, translated to g1
sendp(Ether(dst='$wmac') / Dot1Q(vlan=0, prio=5) / IP(src='10.99.2.2', dst='10.99.2.1') /
      UDP(sport=7778, dport=$np) / b'z', iface='eth0')" >/dev/null 2>&1; sent=$?
wait "$ppid"
[ $sent = 0 ] && [ -n "$np" ] && [ "$(stat "$T-w" vlan-tagged)" = "$vt0" ] &&
	[ "$(cat "$TMPDIR/prio")" = z ] &&
	pass "a VLAN 100 reply to a guest's flow is the VLAN device's (not dropped), a priority-tagged one (VID 0) reaches the guest" ||
	fail "tagged replies (sent: $sent, nat port '$np'): vlan-tagged $vt0 -> $(stat "$T-w" vlan-tagged), g1 got '$(cat "$TMPDIR/prio")'"

# A forwarded range over ports of the host's own connections (its
# ephemeral range is 32768-60999 by default): the host's TCP connection
# from such a port and its UDP exchange keep their replies, as conntrack
# keeps them the host's. Before, the WAN's SYN-ACK opened a forward's
# flow to g1 (whose stack answered with a reset: the host's connect
# timed out) and the UDP reply went to g1. A new connection from the WAN
# to a port of the range still reaches g1.
check "forward add tcp and udp 40500-40510 to g1" sh -c "
	$ROOT/build/kvmbpf --bpffs $BPFFS forward add n proto tcp port 40500-40510 to 192.168.78.11 &&
	$ROOT/build/kvmbpf --bpffs $BPFFS forward add n proto udp port 40500-40510 to 192.168.78.11"
in_ns "$T-wan" timeout 8 "$PY" -c "
import socket
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(('10.99.2.2', 8099)); t.listen(4); t.settimeout(6)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('10.99.2.2', 7799))
u.settimeout(6)
d, a = u.recvfrom(64); u.sendto(b'udp-back-' + d, a)
c, a = t.accept(); c.sendall(b'tcp-back'); c.close()" & wpid=$!
in_ns "$T-g1" timeout 8 "$PY" -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 40507)); s.listen(4); s.settimeout(6)
c, a = s.accept(); c.sendall(b'forwarded'); c.close()" & gpid=$!
sleep 0.5
check "the host's UDP exchange from a forwarded port keeps its reply" timeout 5 "$PY" -c "
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('10.99.2.1', 40505))
u.settimeout(3); u.sendto(b'host', ('10.99.2.2', 7799))
assert u.recvfrom(64)[0] == b'udp-back-host'"
check "the host's TCP connection from a forwarded port is its own" timeout 5 "$PY" -c "
import socket
s = socket.socket(); s.bind(('10.99.2.1', 40506)); s.settimeout(3)
s.connect(('10.99.2.2', 8099)); assert s.recv(64) == b'tcp-back'"
check "... and the WAN's new connection to a port of the range reaches g1" \
	in_ns "$T-wan" timeout 5 "$PY" -c "
import socket
c = socket.create_connection(('10.99.2.1', 40507), timeout=3)
assert c.recv(64) == b'forwarded'"
wait "$wpid" "$gpid" 2>/dev/null
check "forward del tcp and udp 40500-40510" sh -c "
	$ROOT/build/kvmbpf --bpffs $BPFFS forward del n proto tcp port 40500-40510 &&
	$ROOT/build/kvmbpf --bpffs $BPFFS forward del n proto udp port 40500-40510"

# another nat network on the same WAN shares its address: its forward
# del must not take n's forwards
check "net add n9 on the same WAN" \
	kvmbpf net add n9 type nat subnet 192.168.79.0/24 wan "$T-w" dhcp off
check_not "forward del n9 of n's ports: no such forward in n9" \
	kvmbpf forward del n9 proto tcp port 8080-8081
[ -n "$(fwd_peer 8080 80)" ] && pass "... and n's forward still lets the WAN in" ||
	fail "forward del n9 took n's forward"
check "net del n9" kvmbpf net del n9
check "forward del" kvmbpf forward del n proto tcp port 8080-8081
[ -z "$(fwd_peer 8080 80)" ] && pass "forward del: the WAN no longer gets in" ||
	fail "forward del: the guest still got a connection"
# Scale: 10,000 concurrent UDP flows from one guest, each translated.
in_ns "$T-wan" timeout 30 "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE: keep them all
s.bind(('10.99.2.2', 9999)); s.settimeout(3)
seen = set()
try:
    while len(seen) < 10000:
        d, a = s.recvfrom(64); seen.add(a[1])
except OSError:
    pass
open('/tmp/$T.flows', 'w').write(str(len(seen)))" &
wpid=$!
sleep 0.5
in_ns "$T-g2" "$PY" -c "
import socket, time
socks = []
for i in range(10000):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('192.168.78.12', 20000 + i)); socks.append(s)
for i, s in enumerate(socks):
    s.sendto(b'f', ('10.99.2.2', 9999))
    if i % 200 == 199: time.sleep(0.01)
"
wait $wpid
flows=$(cat "/tmp/$T.flows" 2>/dev/null); rm -f "/tmp/$T.flows"
[ "${flows:-0}" = 10000 ] && pass "10,000 concurrent UDP flows all translated (distinct WAN-side ports)" ||
	fail "10,000 flows: the WAN saw ${flows:-0} distinct source ports"
check "ct show counts them" sh -c "[ \$(\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j ct show net n | $PY -c 'import json,sys; print(sum(1 for c in json.load(sys.stdin) if c[\"proto\"] == \"udp\" and c[\"dport\"] == 9999))') -ge 10000 ]"
# listed like the other tables: by network, protocol, then the tuple (the
# kernel's hash order would scatter 10,000 flows)
ct_sorted() {
	"$ROOT/build/kvmbpf" --bpffs "$BPFFS" -j ct show | "$PY" -c '
import ipaddress, json, sys
num = {"icmp": 1, "tcp": 6, "udp": 17}
nets = {}
for c in json.load(sys.stdin):
    nets.setdefault(c["net"], []).append((num[c["proto"]],
        int(ipaddress.ip_address(c["src"])), c["sport"],
        int(ipaddress.ip_address(c["dst"])), c["dport"]))
sys.exit(0 if nets and all(k == sorted(k) for k in nets.values()) else 1)'
}
check "ct show: flows in order (protocol, source, port, destination)" ct_sorted
# udp_flows NS FROM PORT0 N ANSWERED: N new UDP flows from NS's address
# FROM (source ports PORT0...) to the WAN's 10.99.2.2:9998; ANSWERED=1:
# the WAN echoes each and the guest waits for it before the next, and
# each sends once more 2 s after it began (a stream, established, as
# conntrack's); 2: the echo only (a single exchange: answered, not yet
# established); 0: nobody answers. The echo answers N datagrams and
# ends: one that outlived its call would answer the next call's flows
# (a killed `ip netns exec` leaves its command running).
udp_flows() {
	local epid
	if [ "$5" != 0 ]; then
		in_ns "$T-wan" timeout 20 "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('10.99.2.2', 9998)); s.settimeout(5)
try:
    for i in range($4):
        d, a = s.recvfrom(64); s.sendto(d, a)
except OSError:
    pass" & epid=$!
		sleep 0.5
	fi
	in_ns "$1" "$PY" -c "
import socket, time
socks = []
for i in range($4):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('$2', $3 + i)); s.sendto(b'f', ('10.99.2.2', 9998)); socks.append(s)
    if $5:
        s.settimeout(2); s.recv(64)
if $5 == 1:
    time.sleep(2.2)
    for s in socks:
        s.sendto(b'g', ('10.99.2.2', 9998))
"
	[ "$5" != 0 ] && wait "$epid" 2>/dev/null
	return 0
}
# A network at ct-max refuses new flows, counted, and keeps its live
# (answered: established) ones; flows not established make room.
check "ct flush before the limit test" kvmbpf ct flush net n
check "net set ct-max 50" kvmbpf net set n ct-max 50
d0=$(stat "$T-g2" nat-table-full)
check "ct-max 50: 50 answered flows" udp_flows "$T-g2" 192.168.78.12 30000 50 1
udp_flows "$T-g2" 192.168.78.12 30050 30 0
d1=$(stat "$T-g2" nat-table-full)
[ $((d1 - d0)) = 30 ] && pass "ct-max 50: 30 new flows beyond 50 established ones refused as nat-table-full" ||
	fail "ct-max 50: nat-table-full +$((d1 - d0)), want +30"
check "ct-max 50: the network counts 50 flows" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j net show n | grep -q '\"ct_count\":50,'"
check "ct flush after the limit test" kvmbpf ct flush net n
d0=$(stat "$T-g2" nat-table-full)
e0=$(stat "$T-g2" ct_evicted)
udp_flows "$T-g2" 192.168.78.12 30100 80 0
d1=$(stat "$T-g2" nat-table-full)
e1=$(stat "$T-g2" ct_evicted)
[ $((d1 - d0 + e1 - e0)) = 30 ] && [ $((e1 - e0)) -gt 0 ] &&
	pass "ct-max 50, 80 unanswered flows: the 30 beyond evict unanswered ones ($((e1 - e0))) or are refused ($((d1 - d0)))" ||
	fail "ct-max 50, 80 unanswered flows: ct-evicted +$((e1 - e0)), nat-table-full +$((d1 - d0)), want 30 in all, some evicted"
# the network held by g2's unanswered flows: g1's new flow (its own port
# has nothing to evict) evicts one of g2's, from the network's candidates
e0=$(stat "$T-g2" ct_evicted)
check "ct-max 50 held by g2's unanswered flows: g1's new flow still goes out" \
	in_ns "$T-g1" ping -n -c 3 -i 0.3 -W 2 10.99.2.2
e1=$(stat "$T-g2" ct_evicted)
[ $((e1 - e0)) -ge 1 ] && pass "ct-max 50: g1's flow evicted one of g2's (ct-evicted on g2 +$((e1 - e0)))" ||
	fail "ct-max 50: g2's ct-evicted +$((e1 - e0)), want at least 1"
check "ct flush after the eviction test" kvmbpf ct flush net n
# A guest's share of its network's flows (ct-port-max): g2's flows stop
# at its share (answered ones: none to evict), and g1's new flows still
# pass.
check "net set ct-port-max 20" kvmbpf net set n ct-port-max 20
d0=$(stat "$T-g2" nat-port-full)
check "ct-port-max 20: 20 answered flows" udp_flows "$T-g2" 192.168.78.12 31000 20 1
udp_flows "$T-g2" 192.168.78.12 31020 20 0
d1=$(stat "$T-g2" nat-port-full)
[ $((d1 - d0)) = 20 ] && pass "ct-port-max 20: 20 new flows beyond g2's 20 established ones refused as nat-port-full" ||
	fail "ct-port-max 20: nat-port-full +$((d1 - d0)), want +20"
check "ct-port-max 20: another guest's new flows pass" ping4 "$T-g1" 10.99.2.2
check "ct flush after the share test" kvmbpf ct flush net n
# single exchanges (a resolver's queries, each from its own port) are
# answered, not established: conntrack's UDP rule gives them the
# unreplied timeout and early drop may take them, so a share full of
# them does not refuse the guest's next flows
d0=$(stat "$T-g2" nat-port-full)
e0=$(stat "$T-g2" ct_evicted)
check "ct-port-max 20: 20 single exchanges" udp_flows "$T-g2" 192.168.78.12 31100 20 2
udp_flows "$T-g2" 192.168.78.12 31120 20 0
d1=$(stat "$T-g2" nat-port-full)
e1=$(stat "$T-g2" ct_evicted)
[ $((d1 - d0)) = 0 ] && [ $((e1 - e0)) = 20 ] &&
	pass "ct-port-max 20: 20 new flows beyond 20 single exchanges evict them (ct-evicted +20)" ||
	fail "ct-port-max 20 after single exchanges: nat-port-full +$((d1 - d0)), ct-evicted +$((e1 - e0)), want +0 and +20"
check "net show -j: ct_port_max" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j net show n | grep -q '\"ct_port_max\":20'"
check "net set ct-port-max 131072" kvmbpf net set n ct-port-max 131072
check "ct flush after the share test" kvmbpf ct flush net n
check "net set ct-timeout and ct-max" kvmbpf net set n ct-timeout udp 30 ct-timeout tcp-established 600 ct-max 5000
check "net show -j: NAT limits" "$PY" -c "
import json, subprocess
n = json.loads(subprocess.check_output(['$ROOT/build/kvmbpf', '--bpffs', '$BPFFS', '-j', 'net', 'show', 'n']))
assert n['ct_max'] == 5000 and n['ct_timeouts']['udp'] == 30, n
assert n['ct_timeouts']['tcp-established'] == 600 and n['ct_timeouts']['icmp'] == 30, n"
check_not "net set: bad timeout kind" kvmbpf net set n ct-timeout sctp 10
check_not "net set: ct-max 0" kvmbpf net set n ct-max 0
check "ct flush" sh -c "\"$ROOT/build/kvmbpf\" --bpffs $BPFFS ct flush net n | grep -q 'flows flushed'"
check "ct show empty after flush" sh -c "[ \"\$(\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j ct show)\" = '[]' ]"
check "a new flow after the flush" ping4 "$T-g2" 10.99.2.2
# ct show lists live flows only: an ICMP flow past its (1 s) timeout,
# both ways idle for 2.5 s, is not shown.
check "net set ct-timeout icmp 1" kvmbpf net set n ct-timeout icmp 1
check "an ICMP flow to expire" ping4 "$T-g2" 10.99.2.2
sleep 2.5
check_not "ct show: an expired flow is not listed as live" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j ct show net n | grep -q icmp"
check "net set ct-timeout icmp 30" kvmbpf net set n ct-timeout icmp 30
rules_after=$( (nft list ruleset; iptables-save | grep -v '^#') 2>&1)
[ "$rules_before" = "$rules_after" ] && pass "nft and iptables rules unchanged" ||
	fail "the fabric changed the nft/iptables rules"
check "net del" kvmbpf net del n
check_not "net del stopped dnsmasq" pgrep -f "dnsmasq.*--interface=$gw_if"
check_not "net del removed the gateway interface" ip link show "$gw_if"
check_not "net del unhooked the WAN device" sh -c "tc filter show dev $T-w ingress | grep -q kvb"
check "net del emptied the connection table" sh -c \
	"[ \"\$(bpftool -j map dump pinned $BPFFS/kvb_ct)\" = '[]' ]"
finish

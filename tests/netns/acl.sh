#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Security groups (ACLs) end to end, on a bridge, an internal and a nat
# network (and between peered routed networks).
#
#   bridge "lan": uplink $T-up (the host 10.93.0.1, fd93::1) to $T-lan
#                 (10.93.0.2, fd93::2); guests g1 .11 (the ACL'd one),
#                 g2 .12, g3 .13 (and fd93::1x)
#   nat "n":      192.168.79.0/24, WAN $T-w 10.99.3.1 to $T-wan 10.99.3.2
#                 and 10.99.3.66; guests n1 .11 (ACL'd), n2 .12; forward
#                 tcp 2222 to n1:22
#
# Every verdict is asserted from what the other side saw and from the
# port's counters (acl-drop, acl-reject, acl-default).
source "$(dirname "$0")/lib.sh"

# listeners in NS on TCP ports (and UDP 5353), all families; killed at exit
PIDS=()
listen_tcp() {
	local ns=$1 p
	shift
	for p in "$@"; do
		bg_ns "$ns" socat TCP6-LISTEN:"$p",ipv6only=0,reuseaddr,fork \
			EXEC:cat >/dev/null 2>&1
		PIDS+=("$BG_PID")
	done
}
stop_all() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
}
trap 'stop_all; cleanup' EXIT

# open TCP ports nmap finds from NS on ADDR (ports 1-1024 and 5000-5010)
open_ports() {
	local ns=$1 addr=$2 six=
	[[ $addr == *:* ]] && six=-6
	in_ns "$ns" nmap $six -n -Pn -sT --max-retries 1 --host-timeout 120s \
		-p 1-1024,5000-5010 -oG - "$addr" 2>/dev/null |
		grep -o '[0-9]*/open/tcp' | cut -d/ -f1 | sort -n | tr '\n' ' '
}

# UDP from NS to ADDR PORT: "ok" (echoed), "refused" (port unreachable),
# "prohibited" (ICMP administratively prohibited), "timeout"
udp_try() {
	in_ns "$1" "$PY" - "$2" "$3" <<'EOF'
import socket, sys, errno
addr, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_IP if fam == socket.AF_INET else socket.IPPROTO_IPV6,
             11 if fam == socket.AF_INET else 25, 1)   # IP(V6)_RECVERR
s.settimeout(2)
s.connect((addr, port))
s.send(b'ping')
try:
    s.recv(64)
    print('ok')
except ConnectionRefusedError:
    print('refused')
except OSError as e:
    if e.errno in (errno.EHOSTUNREACH, errno.EACCES):
        print('prohibited')
    elif isinstance(e, socket.timeout) or e.errno == errno.EAGAIN:
        print('timeout')
    else:
        print('error %d' % e.errno)
EOF
}

# TCP connect from NS to ADDR PORT: "ok", "refused" (RST), "timeout"
tcp_try() {
	in_ns "$1" "$PY" - "$2" "$3" <<'EOF'
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
try:
    socket.create_connection((addr, port), timeout=2).close()
    print('ok')
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('timeout')
except OSError as e:
    print('error %d' % e.errno)
EOF
}

# the same from the root namespace (the host)
tcp_try_here() {
	"$PY" -c "
import socket
try:
    socket.create_connection(('$1', $2), timeout=2).close(); print('ok')
except ConnectionRefusedError:
    print('refused')
except OSError:
    print('timeout')"
}


# ------------------------------------------------------------ bridge
behind "$T-up" "$T-lan" 10.93.0.2/24 10.93.0.1/24
ip -n "$T-lan" -6 addr add fd93::2/64 dev eth0 nodad
ip -6 addr add fd93::1/64 dev "$T-up" nodad
kvmbpf net add lan type bridge uplink "$T-up" || { fail "net add lan"; exit 1; }
for i in 1 2 3; do
	netns_add "$T-g$i"
	guest_link "$T-g$i" "$T-g$i"
	ip -n "$T-g$i" addr add 10.93.0.1$i/24 dev eth0
	ip -n "$T-g$i" -6 addr add fd93::1$i/64 dev eth0 nodad
done

check "acl add" kvmbpf acl add web
check "rule: ingress allow tcp 22" kvmbpf acl rule add web ingress allow proto tcp dport 22
check "rule: ingress allow echo" kvmbpf acl rule add web ingress allow proto icmp icmp-type 8
check "rule: ingress allow echo (v6)" kvmbpf acl rule add web ingress allow proto icmpv6 icmp-type 128
check "rule: ingress reject tcp 81 (explicit)" kvmbpf acl rule add web ingress reject proto tcp dport 81
check "acl add out" kvmbpf acl add out
check "rule: egress drop to one host" kvmbpf acl rule add out egress drop dst 10.93.0.2/32,fd93::2/128
check "rule: egress allow the rest" kvmbpf acl rule add out egress allow
check_not "a rule of an unknown ACL is refused" kvmbpf acl rule add nope ingress allow
check_not "sport without tcp/udp is refused" kvmbpf acl rule add web ingress allow sport 1
check_not "host bits in a CIDR are refused" kvmbpf acl rule add web ingress allow src 10.0.0.1/8

kvmbpf attach "$T-g1" net lan ip 10.93.0.11 acl web,out || fail "attach g1 with ACLs"
kvmbpf attach "$T-g2" net lan || fail "attach g2"
kvmbpf attach "$T-g3" net lan || fail "attach g3"
check_not "acl del refused while in use" kvmbpf acl del web
kvmbpf -j port show "$T-g1" | grep -q '"acl":\["web","out"\]' &&
	pass "port show names the port's ACLs" || fail "port show: $(kvmbpf -j port show "$T-g1")"

listen_tcp "$T-g1" 22 80 81 443 5001
listen_tcp "$T-lan" 8080
listen_tcp "$T-g3" 8080
ip -n "$T-lan" addr add 10.93.0.3/24 dev eth0
bg_ns "$T-lan" socat UDP6-RECVFROM:5353,ipv6only=0,fork EXEC:cat >/dev/null 2>&1
PIDS+=("$BG_PID")
bg_ns "$T-g1" socat UDP6-RECVFROM:5353,ipv6only=0,fork EXEC:cat >/dev/null 2>&1
PIDS+=("$BG_PID")
sleep 0.5

expect "scan from another guest finds only TCP 22" "22 " "$(open_ports "$T-g2" 10.93.0.11)"
expect "scan from the LAN finds only TCP 22" "22 " "$(open_ports "$T-lan" 10.93.0.11)"
expect "scan over IPv6 finds only TCP 22" "22 " "$(open_ports "$T-g2" fd93::11)"
check "echo passes (guest)" ping4 "$T-g2" 10.93.0.11
check "echo passes (LAN)" ping4 "$T-lan" 10.93.0.11
check "echo passes (IPv6)" ping6 "$T-g2" fd93::11
# fragments: later ones carry no ports; they pass only behind a first
# fragment the ACLs let through
echo_pk() { kvmbpf -j acl show web | "$PY" -c 'import json, sys; print({x["index"]: x for x in json.load(sys.stdin)["rules"]}[1]["packets"])'; }
e0=$(echo_pk)
check "a fragmented echo (3000 bytes) passes" in_ns "$T-g2" ping -n -c 1 -W 2 -s 3000 10.93.0.11
# every fragment counted on the rule that let the datagram in (t123: the
# first ones only: 2 of the echo's 6)
e1=$(echo_pk)
[ $((e1 - e0)) -ge 3 ] && pass "... its fragments counted on the echo rule (+$((e1 - e0)))" ||
	fail "... the echo rule counted +$((e1 - e0)) packets for a 3-fragment request and its answer"
check "a fragmented echo passes over IPv6" in_ns "$T-g2" ping -6 -n -c 1 -W 2 -s 3000 fd93::11
f0=$(stat "$T-g1" acl-fragment)
bg_ns "$T-g1" timeout 30 tcpdump --immediate-mode -n -i eth0 -w "/tmp/$T-frag.pcap" \
	'(ip and ip[6:2] & 0x3fff != 0) or (ip6 and ip6[6] == 44)' 2>/dev/null
FPID=$BG_PID
sleep 1
in_ns "$T-g2" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'x' * 3000, ('10.93.0.11', 5400))
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.sendto(b'x' * 3000, ('fd93::11', 5400))"
sleep 1
stop_bg "$FPID"
frags=$(tcpdump -n -r "/tmp/$T-frag.pcap" 2>/dev/null | wc -l)
rm -f "/tmp/$T-frag.pcap"
[ "$frags" = 0 ] && pass "no fragment of datagrams to a refused port reaches the guest" ||
	fail "$frags fragments of datagrams to a refused port reached the guest"
[ "$(stat "$T-g1" acl-fragment)" -ge $((f0 + 2)) ] &&
	pass "their later fragments counted as acl-fragment" ||
	fail "acl-fragment $f0 -> $(stat "$T-g1" acl-fragment)"
expect "the host reaches the allowed port" ok "$(tcp_try_here 10.93.0.11 22)"
expect "the host is refused another" refused "$(tcp_try_here 10.93.0.11 80)"

d0=$(stat "$T-g1" acl-default) r0=$(stat "$T-g1" acl-reject)
expect "a port no rule allows answers with an RST" refused "$(tcp_try "$T-g2" 10.93.0.11 80)"
expect "the same over IPv6" refused "$(tcp_try "$T-g2" fd93::11 80)"
expect "the LAN gets the RST too" refused "$(tcp_try "$T-lan" 10.93.0.11 443)"
expect "UDP no rule allows: ICMP administratively prohibited" prohibited "$(udp_try "$T-g2" 10.93.0.11 5353)"
expect "the same over IPv6" prohibited "$(udp_try "$T-g2" fd93::11 5353)"
expect "a reject rule answers with an RST" refused "$(tcp_try "$T-g2" 10.93.0.11 81)"
[ "$(stat "$T-g1" acl-default)" -ge $((d0 + 5)) ] && [ "$(stat "$T-g1" acl-reject)" -ge $((r0 + 1)) ] &&
	pass "counted: acl-default for the default, acl-reject for the rule" ||
	fail "counters: acl-default $d0 -> $(stat "$T-g1" acl-default), acl-reject $r0 -> $(stat "$T-g1" acl-reject)"

# replies to the guest's own connections pass with default-reject ingress
expect "TCP reply to the guest's own connection (guest)" ok "$(tcp_try "$T-g1" 10.93.0.13 8080)"
expect "TCP reply to the guest's own connection (LAN)" ok "$(tcp_try "$T-g1" 10.93.0.3 8080)"
expect "the same over IPv6" ok "$(tcp_try "$T-g1" fd93::13 8080)"
check "ping from the guest: the reply comes back" ping4 "$T-g1" 10.93.0.12
check "ping6 from the guest: the reply comes back" ping6 "$T-g1" fd93::12
bg_ns "$T-g3" socat UDP6-RECVFROM:5353,ipv6only=0,fork EXEC:cat >/dev/null 2>&1
PIDS+=("$BG_PID")
sleep 0.3
expect "UDP reply to the guest's own datagram" ok "$(udp_try "$T-g1" 10.93.0.13 5353)"
# A SYN flood from forged LAN sources at g1's open port with a small
# share (acl-ct-max 20): the forged connections never complete, yet a
# real client still gets in, because a new connection evicts one of the
# port's inbound ones that is not established (ct-evicted); before, it
# was refused as acl-ct-full for TCP's 120 s opening timeout.
check "net set lan acl-ct-max 20" kvmbpf net set lan acl-ct-max 20
e0=$(stat "$T-g1" ct_evicted)
in_ns "$T-lan" "$PY" -c "
from scapy.all import Ether, IP, TCP, sendp
sendp([Ether(dst='$(in_ns "$T-g1" cat /sys/class/net/eth0/address)') /
       IP(src='10.93.0.%d' % (100 + i), dst='10.93.0.11') /
       TCP(sport=43000 + i, dport=22, flags='S', seq=1000) for i in range(60)],
      iface='eth0', verbose=0)" >/dev/null 2>&1
expect "small ACL share full of forged SYNs: a real client still connects" ok "$(tcp_try "$T-g2" 10.93.0.11 22)"
e1=$(stat "$T-g1" ct_evicted)
[ $((e1 - e0)) -ge 30 ] && pass "small ACL share: connections still opening evicted for new ones (ct-evicted +$((e1 - e0)))" ||
	fail "small ACL share: ct-evicted +$((e1 - e0)), want at least 30 (60 forged SYNs and a real one at a share of 20)"
check "net set lan acl-ct-max 65536" kvmbpf net set lan acl-ct-max 65536
expect "UDP reply over IPv6" ok "$(udp_try "$T-g1" fd93::13 5353)"
expect "a reply without a connection is refused (UDP from 5353 to the guest)" \
	prohibited "$(in_ns "$T-g3" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_IP, 11, 1)
s.bind(('10.93.0.13', 5353 + 1)); s.settimeout(2)
s.connect(('10.93.0.11', 40000)); s.send(b'x')
try:
    s.recv(9)
    print('ok')
except OSError as e:
    print('prohibited' if e.errno == 113 else 'other')")"

# egress: one destination dropped, the rest reachable
dr0=$(stat "$T-g1" acl-drop)
check_not "egress drop: the guest cannot reach 10.93.0.2" ping4 "$T-g1" 10.93.0.2
check_not "egress drop over IPv6 (fd93::2)" ping6 "$T-g1" fd93::2
check "egress: the rest is reachable (the host)" ping4 "$T-g1" 10.93.0.1
[ "$(stat "$T-g1" acl-drop)" -ge $((dr0 + 2)) ] && pass "acl-drop counted" ||
	fail "acl-drop $dr0 -> $(stat "$T-g1" acl-drop)"

# per-rule counters
kvmbpf -j acl show web | "$PY" -c '
import json, sys
a = json.load(sys.stdin)
r = {x["index"]: x for x in a["rules"]}
assert r[0]["packets"] > 0 and r[0]["bytes"] > 0, r    # tcp 22
assert r[1]["packets"] > 0, r                           # echo
assert r[3]["packets"] > 0, r                           # reject 81
' && pass "acl show counts packets and bytes per rule" || fail "acl show: $(kvmbpf -j acl show web)"

# log on: the connections a rule lets in reach monitor as acl-log
check "rule: ingress allow tcp 5001 log on" kvmbpf acl rule add web ingress allow proto tcp dport 5001 log on
mout=$(mktemp)
timeout 20 "${K[@]}" -j monitor "$T-g1" count 1 >"$mout" &
mpid=$!
for i in $(seq 100); do
	bpftool map dump pinned "$BPFFS/kvb_mon" | grep -q '"until_ns": [1-9]' && break
	sleep 0.05
done
tcp_try "$T-g2" 10.93.0.11 5001 >/dev/null
wait "$mpid"
grep -q '"reason":"acl-log"' "$mout" && pass "monitor: a 'log on' rule's connection as acl-log" ||
	fail "monitor: $(cat "$mout")"
rm -f "$mout"

# ------------------------------------------- atomic update, 100 rewrites
# g2 streams UDP to g1:5001 (allowed), g3 sends to g1:5002 (denied) all
# along; the ACL is rewritten 100 times meanwhile (each a new set and a
# switch). The stream loses nothing, g1 captures nothing of the denied.
check "rule: ingress allow udp 5001" kvmbpf acl rule add web ingress allow proto udp dport 5001
bg_ns "$T-g1" "$PY" -u -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(('10.93.0.11', 5001)); s.settimeout(15)
seen = set()
try:
    while True:
        d, a = s.recvfrom(64)
        if d == b'end': break
        seen.add(int(d))
except socket.timeout:
    pass
print(len(seen))" >"/tmp/$T.recv"
RPID=$BG_PID
bg_ns "$T-g1" timeout 60 tcpdump --immediate-mode -n -i eth0 -w "/tmp/$T.pcap" udp port 5002 2>/dev/null
CPID=$BG_PID
sleep 1
bg_ns "$T-g2" "$PY" -c "
import socket, time, os
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n = 0
while not os.path.exists('/tmp/$T.stop'):
    s.sendto(b'%d' % n, ('10.93.0.11', 5001)); n += 1
    time.sleep(0.001)
for i in range(5):
    time.sleep(0.2); s.sendto(b'end', ('10.93.0.11', 5001))
open('/tmp/$T.sent', 'w').write(str(n))"
SPID=$BG_PID
bg_ns "$T-g3" "$PY" -c "
import socket, time, os
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while not os.path.exists('/tmp/$T.stop'):
    s.sendto(b'x', ('10.93.0.11', 5002)); time.sleep(0.002)"
DPID=$BG_PID
sleep 0.5
ok=0
for i in $(seq 50); do
	kvmbpf acl rule add web ingress drop proto udp dport 9999 && ok=$((ok + 1))
	n=$(kvmbpf -j acl show web | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["nrules"] - 1)')
	kvmbpf acl rule del web "$n" && ok=$((ok + 1))
done
touch "/tmp/$T.stop"
wait "$SPID" "$DPID" "$RPID"
sleep 1
stop_bg "$CPID"
sent=$(cat "/tmp/$T.sent" 2>/dev/null) got=$(cat "/tmp/$T.recv" 2>/dev/null)
denied=$(tcpdump -n -r "/tmp/$T.pcap" 2>/dev/null | wc -l)
rm -f "/tmp/$T.stop" "/tmp/$T.sent" "/tmp/$T.recv" "/tmp/$T.pcap"
[ "$ok" = 100 ] && pass "the ACL was rewritten 100 times" || fail "only $ok of 100 rewrites worked"
[ -n "$sent" ] && [ "$sent" -gt 500 ] && [ "$sent" = "$got" ] &&
	pass "the allowed stream lost nothing through the rewrites ($got of $sent)" ||
	fail "allowed stream: sent '$sent', received '$got'"
[ "$denied" = 0 ] && pass "the denied flow got no packet through (capture on the receiver)" ||
	fail "the denied flow: $denied packets reached g1"

# an established connection the new rules forbid is cut
bg_ns "$T-g1" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('::', 2200)); s.listen(1)
c, a = s.accept()
while True:
    d = c.recv(64)
    if not d: break
    c.sendall(d)" 2>/dev/null
LPID=$BG_PID
check "rule: ingress allow tcp 2200" kvmbpf acl rule add web ingress allow proto tcp dport 2200
sleep 0.3
bg_ns "$T-g2" "$PY" -c "
import socket, os, time
c = socket.create_connection(('10.93.0.11', 2200), timeout=2)
c.sendall(b'a'); assert c.recv(8) == b'a'
open('/tmp/$T.up', 'w').close()
while not os.path.exists('/tmp/$T.cut'): time.sleep(0.05)
try:
    c.sendall(b'b'); d = c.recv(8)
    print('alive' if d == b'b' else 'cut')
except OSError:
    print('cut')" >"/tmp/$T.res" 2>&1
CL=$BG_PID
for i in $(seq 50); do [ -e "/tmp/$T.up" ] && break; sleep 0.1; done
n=$(kvmbpf -j acl show web | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["nrules"] - 1)')
kvmbpf acl rule del web "$n" || fail "rule del"
touch "/tmp/$T.cut"
wait "$CL"
expect "an established connection the new rules forbid is cut" cut "$(cat "/tmp/$T.res")"
stop_bg "$LPID"
rm -f "/tmp/$T.up" "/tmp/$T.cut" "/tmp/$T.res"

# ------------------------------------------------ routed, peered networks
kvmbpf net add ra type routed subnet 10.72.1.0/24 force || fail "net add ra"
kvmbpf net add rb type routed subnet 10.72.2.0/24 force || fail "net add rb"
kvmbpf net peer ra rb || fail "net peer"
for x in a b; do
	netns_add "$T-r$x"
	guest_link "$T-r$x" "$T-r$x"
done
ip -n "$T-ra" addr add 10.72.1.11/24 dev eth0
ip -n "$T-ra" route add default via 10.72.1.1
ip -n "$T-rb" addr add 10.72.2.11/24 dev eth0
ip -n "$T-rb" route add default via 10.72.2.1
kvmbpf attach "$T-ra" net ra ip 10.72.1.11 acl web,out || fail "attach ra"
kvmbpf attach "$T-rb" net rb ip 10.72.2.11 || fail "attach rb"
listen_tcp "$T-ra" 22 80
sleep 0.5
expect "routed: from a peered network, TCP 22 passes" ok "$(tcp_try "$T-rb" 10.72.1.11 22)"
expect "routed: from a peered network, TCP 80 gets an RST" refused "$(tcp_try "$T-rb" 10.72.1.11 80)"
check "routed: echo from a peered network" ping4 "$T-rb" 10.72.1.11
# DHCP's ports are the link's only on the link: UDP 68 to 67 towards a
# peered network is judged as any datagram (before, the port numbers
# alone let it past every rule and default: a way out for anything)
check "rule: egress drop UDP to the peered network" \
	kvmbpf acl rule add out egress drop proto udp dst 10.72.2.0/24
ad0=$(stat "$T-ra" acl-drop)
udp_heard "$T-rb" 10.72.2.11 67 3 >"$TMPDIR/dhcpx"
sleep 0.5
# a well-formed BOOTREQUEST with ra's own MAC (the guard's checks pass),
# its data in the boot file name
in_ns "$T-ra" "$PY" -c "
import socket
from scapy.all import BOOTP, DHCP, mac2str
mac = open('/sys/class/net/eth0/address').read().strip()
p = bytes(BOOTP(op=1, chaddr=mac2str(mac), file=b'exfiltrated') /
          DHCP(options=[('message-type', 'discover'), 'end']))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('10.72.1.11', 68))
for _ in range(3): s.sendto(p, ('10.72.2.11', 67))" 2>/dev/null
for _ in $(seq 80); do [ -s "$TMPDIR/dhcpx" ] && break; sleep 0.1; done
[ "$(cat "$TMPDIR/dhcpx")" = none ] && [ "$(stat "$T-ra" acl-drop)" -gt "$ad0" ] &&
	pass "routed: UDP 68 to 67 across networks is judged by the ACL (acl-drop)" ||
	fail "routed: UDP 68->67 to a peer: '$(cat "$TMPDIR/dhcpx")', acl-drop $ad0 -> $(stat "$T-ra" acl-drop); $(kvmbpf -j stats "$T-ra" | "$PY" -c 'import json,sys; s=json.load(sys.stdin); print({k: v for k, v in s["drop_reasons"].items() if v})')"

# ------------------------------------------------------------ internal
# guests of an internal network: switched as a bridge's are, both ports
# judged in the switch stage; the same rules hold as on the bridge
kvmbpf net add iso type internal || fail "net add iso"
for i in 1 2; do
	netns_add "$T-i$i"
	guest_link "$T-i$i" "$T-i$i"
	ip -n "$T-i$i" addr add 10.74.0.1$i/24 dev eth0
done
kvmbpf attach "$T-i1" net iso ip 10.74.0.11 acl web,out || fail "attach i1"
kvmbpf attach "$T-i2" net iso ip 10.74.0.12 || fail "attach i2"
listen_tcp "$T-i1" 22 80
listen_tcp "$T-i2" 8080
sleep 0.5
d0=$(stat "$T-i1" acl-default)
expect "internal: scan from another guest finds only TCP 22" "22 " "$(open_ports "$T-i2" 10.74.0.11)"
expect "internal: a port no rule allows answers with an RST" refused "$(tcp_try "$T-i2" 10.74.0.11 80)"
check "internal: echo passes" ping4 "$T-i2" 10.74.0.11
expect "internal: the reply to the guest's own connection passes" ok "$(tcp_try "$T-i1" 10.74.0.12 8080)"
[ "$(stat "$T-i1" acl-default)" -gt "$d0" ] && pass "internal: refusals counted on the guest's port" ||
	fail "internal: acl-default $d0 -> $(stat "$T-i1" acl-default)"

# ------------------------------------------------------------ nat
behind "$T-w" "$T-wan" 10.99.3.2/24 10.99.3.1/24
ip -n "$T-wan" addr add 10.99.3.66/24 dev eth0
kvmbpf net add n type nat subnet 192.168.79.0/24 wan "$T-w" dhcp off || fail "net add n"
for i in 1 2; do
	netns_add "$T-n$i"
	guest_link "$T-n$i" "$T-n$i"
	ip -n "$T-n$i" addr add 192.168.79.1$i/24 dev eth0
	ip -n "$T-n$i" route add default via 192.168.79.1
done
check "acl add wan" kvmbpf acl add natin
check "rule: drop a WAN source CIDR" kvmbpf acl rule add natin ingress drop src 10.99.3.64/26
check "rule: allow tcp 22" kvmbpf acl rule add natin ingress allow proto tcp dport 22
check "rule: allow echo" kvmbpf acl rule add natin ingress allow proto icmp icmp-type 8
check "rule: egress allow" kvmbpf acl rule add natin egress allow
ip -n "$T-n1" link set eth0 address 52:54:00:79:00:11
kvmbpf attach "$T-n1" net n mac 52:54:00:79:00:11 ip 192.168.79.11 acl natin || fail "attach n1"
kvmbpf attach "$T-n2" net n ip 192.168.79.12 || fail "attach n2"
check "forward tcp 2222 to n1:22" kvmbpf forward add n proto tcp port 2222 to 192.168.79.11:22
listen_tcp "$T-n1" 22 80
listen_tcp "$T-wan" 8080
sleep 0.5
expect "nat: scan from another guest finds only TCP 22" "22 " "$(open_ports "$T-n2" 192.168.79.11)"
check "nat: echo from another guest" ping4 "$T-n2" 192.168.79.11
expect "nat: the host gets an RST for a port no rule allows" refused "$(tcp_try_here 192.168.79.11 80)"
expect "nat: the host reaches TCP 22" ok "$(tcp_try_here 192.168.79.11 22)"
expect "nat: the guest reaches the WAN (its replies pass)" ok "$(tcp_try "$T-n1" 10.99.3.2 8080)"
check "nat: ping to the WAN, the reply passes" ping4 "$T-n1" 10.99.3.2
d0=$(stat "$T-n1" acl-drop)
expect "nat: the forward from an allowed WAN address reaches n1:22" ok "$(in_ns "$T-wan" "$PY" -c "
import socket
s = socket.socket(); s.bind(('10.99.3.2', 0)); s.settimeout(3)
try:
    s.connect(('10.99.3.1', 2222)); print('ok')
except OSError:
    print('failed')")"
expect "nat: the forward from the blocked WAN CIDR does not" failed "$(in_ns "$T-wan" "$PY" -c "
import socket
s = socket.socket(); s.bind(('10.99.3.66', 0)); s.settimeout(3)
try:
    s.connect(('10.99.3.1', 2222)); print('ok')
except OSError:
    print('failed')")"
[ "$(stat "$T-n1" acl-drop)" -gt "$d0" ] && pass "nat: the blocked source counted as acl-drop" ||
	fail "nat: acl-drop $d0 -> $(stat "$T-n1" acl-drop)"
# a hairpin (a guest to the WAN address on a forwarded port) reaches the
# forward's guest from the gateway's address; its ACLs judge the real
# client, the other guest: a rule for the gateway (the host) alone lets
# the host in, not every guest through a forward
check "rule: allow tcp 8081 from the gateway (the host) alone" \
	kvmbpf acl rule add natin ingress allow proto tcp dport 8081 src 192.168.79.1/32
check "forward tcp 2281 to n1:8081" kvmbpf forward add n proto tcp port 2281 to 192.168.79.11:8081
listen_tcp "$T-n1" 8081
sleep 0.5
expect "nat: the host reaches n1:8081 (the rule for the gateway)" ok "$(tcp_try_here 192.168.79.11 8081)"
h=$(tcp_try "$T-n2" 10.99.3.1 2281)
[ "$h" != ok ] && pass "nat: another guest's hairpin to it is judged as that guest: not let in ($h)" ||
	fail "nat: another guest reached n1:8081 through the hairpin (the gateway's rule)"
check "rule: allow tcp 8081 from n2" \
	kvmbpf acl rule add natin ingress allow proto tcp dport 8081 src 192.168.79.12/32
expect "nat: with a rule for n2, n2's hairpin passes" ok "$(tcp_try "$T-n2" 10.99.3.1 2281)"
# both ways, fragments, a reject's answer: a guest whose only rules let
# n2 in (no egress rule: the network's default-egress refuses what is not
# an answer) answers n2's hairpin by the connection remembered under n2's
# own tuple; a datagram in fragments arrives whole; a port no rule allows
# answers with an RST that reaches n2 through the hairpin
netns_add "$T-n3"
guest_link "$T-n3" "$T-n3"
ip -n "$T-n3" addr add 192.168.79.13/24 dev eth0
ip -n "$T-n3" route add default via 192.168.79.1
check "acl add hp" kvmbpf acl add hp
check "rule: hp allows tcp 8082 from n2" \
	kvmbpf acl rule add hp ingress allow proto tcp dport 8082 src 192.168.79.12/32
check "rule: hp allows udp 8083 from n2" \
	kvmbpf acl rule add hp ingress allow proto udp dport 8083 src 192.168.79.12/32
check "attach n3 with hp" kvmbpf attach "$T-n3" net n ip 192.168.79.13 acl hp
for fw in "tcp 2282 8082" "udp 2283 8083" "tcp 2284 8084"; do
	set -- $fw
	check "forward $1 $2 to n3:$3" kvmbpf forward add n proto "$1" port "$2" to "192.168.79.13:$3"
done
listen_tcp "$T-n3" 8082 8084
in_ns "$T-n3" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 8083)); s.settimeout(8)
try:
    print(len(s.recv(65535)))
except OSError:
    print(0)" >"$TMPDIR/hpudp" 2>/dev/null &
hp_pid=$!
sleep 0.5
expect "nat: n2's hairpin to n3 (its answers by n2's tuple, both ways)" ok "$(tcp_try "$T-n2" 10.99.3.1 2282)"
in_ns "$T-n2" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'x' * 3000, ('10.99.3.1', 2283))"
wait "$hp_pid"
expect "nat: n2's 3000-byte datagram in fragments through the hairpin arrives whole" 3000 "$(cat "$TMPDIR/hpudp")"
expect "nat: a hairpin to a port n3's rules refuse gets the RST" refused "$(tcp_try "$T-n2" 10.99.3.1 2284)"
# and a datagram the rules refuse gets its "administratively prohibited"
# through the hairpin, from the WAN address (before, it went to the host)
check "forward udp 2286 to n3:8086" kvmbpf forward add n proto udp port 2286 to 192.168.79.13:8086
expect "nat: a hairpin datagram n3's rules refuse gets prohibited back" prohibited "$(in_ns "$T-n2" "$PY" -c "
import errno, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.setsockopt(socket.SOL_IP, 11, 1)	# IP_RECVERR: the error's kind
s.connect(('10.99.3.1', 2286)); s.send(b'x')
try:
    s.recv(16); print('answered')
except socket.timeout:
    print('nothing')
except OSError as e:
    print('prohibited' if e.errno in (errno.EHOSTUNREACH, errno.EACCES) else e)")"
# a one-way stream n3 never answers (syslog, statsd): the hairpin's
# reply entry goes stale after the unanswered timeout (30 s) while n2's
# packets keep the flow alive; it is still n2's, judged as n2, all of it
check "rule: hp allows udp 8085 from n2" \
	kvmbpf acl rule add hp ingress allow proto udp dport 8085 src 192.168.79.12/32
check "forward udp 2285 to n3:8085" kvmbpf forward add n proto udp port 2285 to 192.168.79.13:8085
in_ns "$T-n3" "$PY" -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 8085)); s.settimeout(1)
n, end = 0, time.time() + 45
while time.time() < end and n < 36:
    try:
        s.recv(2048); n += 1
    except OSError:
        pass
print(n)" >"$TMPDIR/hpone" 2>/dev/null &
hp_pid=$!
sleep 0.5
in_ns "$T-n2" "$PY" -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('192.168.79.12', 41999))
for i in range(36):
    s.sendto(b'log %d' % i, ('10.99.3.1', 2285)); time.sleep(1)"
wait "$hp_pid"
expect "nat: a one-way hairpin stream n3 never answers, 36 s: every datagram in" 36 "$(cat "$TMPDIR/hpone")"

# a port whose ACLs cannot be put in force (two of 600 inbound rules each,
# over the 1,024 a set holds) is not left attached: the attach fails and
# nothing of the port stays (before, it stayed, with no rule judging it)
big=$TMPDIR/big.conf
for a in big1 big2; do
	echo "acl add $a"
	for i in $(seq 1 600); do
		echo "acl rule add $a ingress allow proto udp dport $((i + 1000))"
	done
done >"$big"
check "load two ACLs of 600 inbound rules" kvmbpf load "$big"
netns_add "$T-b9"
guest_link "$T-b9" "$T-b9"
check_not "attach with both (1,200 inbound rules in one set): refused" \
	kvmbpf attach "$T-b9" net iso acl big1,big2
check_not "... and the port is not left attached" kvmbpf port show "$T-b9"
# the same set refused to a running port (port set) or to a network's
# ports (net set): the port and the network keep what judges them, and
# later commands work (before, the refused list stayed and every later
# attach of the fabric failed on it)
check "attach b9 with big1 alone" kvmbpf attach "$T-b9" net iso acl big1
check_not "port set acl big1,big2: refused" kvmbpf port set "$T-b9" acl big1,big2
check "... the port still names big1 alone" sh -c "
	$(printf '%q ' "${K[@]}") -j port show $T-b9 |
	$PY -c 'import json,sys; p=json.load(sys.stdin); assert p[\"acl\"] == [\"big1\"], p'"
check_not "net set iso acl big1,big2: refused (i2 names none)" \
	kvmbpf net set iso acl big1,big2
check "... the network names no ACL, as before" sh -c "
	$(printf '%q ' "${K[@]}") -j net show iso |
	$PY -c 'import json,sys; n=json.load(sys.stdin); assert n.get(\"acl\", []) == [], n'"
netns_add "$T-b10"
guest_link "$T-b10" "$T-b10"
check "... and a later attach works" kvmbpf attach "$T-b10" net iso
# a port set whose ACLs are refused changes nothing else of the port
check_not "port set isolated on acl big1,big2: refused" \
	kvmbpf port set "$T-b9" isolated on acl big1,big2
check "... and the port is not isolated" sh -c "
	$(printf '%q ' "${K[@]}") -j port show $T-b9 |
	$PY -c 'import json,sys; p=json.load(sys.stdin); assert p[\"isolated\"] is False, p'"
# numbers: digits only, no wrap past 2^32 (each refused by the parser,
# by its message: not by some later check)
refused_as() { # PATTERN CMD...: fails, and stderr matches PATTERN
	local pat=$1 out; shift
	out=$("$@" 2>&1 >/dev/null) && return 1
	grep -q -- "$pat" <<<"$out"
}
check "acl rule add: dport 4294967376 (80 + 2^32) refused as a port" \
	refused_as "dport 4294967376: expected P or P-Q" \
	kvmbpf acl rule add big1 ingress allow proto tcp dport 4294967376
check "acl rule add: src 10.0.0.0/4294967304 refused as a CIDR" \
	refused_as "src 10.0.0.0/4294967304" \
	kvmbpf acl rule add big1 ingress allow src 10.0.0.0/4294967304
check "acl rule add: dport +80 (a sign) refused as a port" \
	refused_as "dport +80: expected P or P-Q" \
	kvmbpf acl rule add big1 ingress allow proto tcp dport +80
check "detach b9, b10" sh -c "$(printf '%q ' "${K[@]}") detach $T-b9 && $(printf '%q ' "${K[@]}") detach $T-b10"

stop_all
finish

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A blind RST or FIN from the WAN does not kill a guest's TCP connection
# through NAT (issue 14): NAT tracks the sequence window as conntrack
# does, drops RSTs and FINs outside the guest's window (nat-tcp-window)
# and leaves the flow's state alone. The closing timeout is set to 1 s:
# before the fix, the blind RST put the flow on it, the idle flow expired,
# and the WAN's next segment reached the host's stack, which reset it.
#
#   root ns: $T-w 10.99.3.1/24 (WAN device)    $T-wan ns: eth0 10.99.3.2/24
#   nat "n": subnet 192.168.79.0/24, guest $T-g 192.168.79.11
source "$(dirname "$0")/lib.sh"

behind "$T-w" "$T-wan" 10.99.3.2/24 10.99.3.1/24
check "net add nat" kvmbpf net add n type nat subnet 192.168.79.0/24 wan "$T-w"
net_guest "$T-g" n 192.168.79.11 192.168.79.1 || fail "attach"
check "closing timeout 1 s" kvmbpf net set n ct-timeout tcp 1

go=/tmp/$T.go
rm -f "$go" "/tmp/$T.srv" "/tmp/$T.cli"
# The WAN's server: after the guest's hello, it waits for the go file
# (the blind segments sent and the flow idle past the closing timeout),
# then speaks first, and expects the guest's answer.
in_ns "$T-wan" timeout 30 "$PY" -c "
import os, socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('10.99.3.2', 5555)); s.listen(1); s.settimeout(10)
c, a = s.accept(); c.settimeout(15)
r = 'no hello'
try:
    assert c.recv(16) == b'hello'
    while not os.path.exists('$go'):
        time.sleep(0.05)
    c.sendall(b'from-wan')
    r = 'ok' if c.recv(16) == b'bye' else 'no bye'
except OSError as e:
    r = repr(e)
open('/tmp/$T.srv', 'w').write(r)" &
spid=$!
sleep 0.5
in_ns "$T-g" timeout 30 "$PY" -c "
import socket
c = socket.create_connection(('10.99.3.2', 5555), timeout=5); c.settimeout(20)
r = 'nothing'
try:
    c.sendall(b'hello')
    d = c.recv(16)
    r = 'ok' if d == b'from-wan' else 'got %r' % d
    c.sendall(b'bye')
except OSError as e:
    r = repr(e)
open('/tmp/$T.cli', 'w').write(r)" &
cpid=$!
nport=
for i in $(seq 50); do
	nport=$(kvmbpf -j ct show net n | "$PY" -c '
import json, sys
for c in json.load(sys.stdin):
    if c["proto"] == "tcp" and c["dport"] == 5555 and c["state"] == "established":
        print(c["nat_sport"])' 2>/dev/null)
	[ -n "$nport" ] && break
	sleep 0.1
done
[ -n "$nport" ] && pass "the guest's connection is tracked (NAT port $nport)" ||
	fail "no established flow to 10.99.3.2:5555"
d0=$(stat "$T-w" nat-tcp-window)
# Blind segments as an off-path attacker sends them: the right addresses
# and ports, sequence numbers a quarter of the space apart (a window is
# far smaller: at least three fall outside it); a RST and a FIN each.
check "blind RSTs and FINs sent from the WAN" in_ns "$T-wan" "$PY" -c "
import random, socket, struct
src, dst = '10.99.3.2', '10.99.3.1'
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
base = random.getrandbits(32)
for flags in (0x04, 0x11):
    for q in range(4):
        seq = (base + q * (1 << 30)) & 0xffffffff
        h = struct.pack('!HHIIBBHHH', 5555, $nport, seq, 0, 5 << 4, flags, 1024, 0, 0)
        ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, 6, len(h))
        h = h[:16] + struct.pack('!H', csum(ph + h)) + h[18:]
        r.sendto(h, (dst, 0))"
sleep 0.3
d1=$(stat "$T-w" nat-tcp-window)
[ $((d1 - d0)) -ge 6 ] && pass "out-of-window RSTs and FINs dropped as nat-tcp-window (+$((d1 - d0)))" ||
	fail "nat-tcp-window +$((d1 - d0)), want at least 6 of 8"
check "the flow is still established" sh -c "\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j ct show net n |
	grep -q '\"dport\":5555,.*\"state\":\"established\"'"
# idle past the closing timeout: a flow the RST had closed would be gone
sleep 2.5
touch "$go"
wait "$spid" "$cpid"
srv=$(cat "/tmp/$T.srv" 2>/dev/null) cli=$(cat "/tmp/$T.cli" 2>/dev/null)
[ "$srv" = ok ] && [ "$cli" = ok ] &&
	pass "the connection survived the blind RST and FIN, both ways" ||
	fail "connection after the blind RST: server '$srv', guest '$cli'"
rm -f "$go" "/tmp/$T.srv" "/tmp/$T.cli"
finish

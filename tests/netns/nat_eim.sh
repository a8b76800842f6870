#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# NAT mapping and filtering behaviour (RFC 4787, issue 15): one NAT port
# per guest socket for every destination (endpoint-independent mapping),
# the guest's own port kept when NAT may use it, and what comes unsolicited
# to that port per `net set NAME nat-filtering`; then a STUN client behind
# the NAT and a STUN server (it needs two addresses) on the WAN.
#
#   root ns: $T-w 10.99.4.1/24 (WAN device)
#   $T-wan ns: eth0 10.99.4.2, .3 (servers, STUN), .4 (a third party)
#   nat "n": subnet 192.168.81.0/24, guest $T-g 192.168.81.11
source "$(dirname "$0")/lib.sh"

for tool in stun stund; do
	command -v "$tool" >/dev/null ||
		{ fail "setup: $tool missing (scripts/deps.sh installs stun-client, stun-server)"; finish; exit 1; }
done
behind "$T-w" "$T-wan" 10.99.4.2/24 10.99.4.1/24
ip -n "$T-wan" addr add 10.99.4.3/24 dev eth0
ip -n "$T-wan" addr add 10.99.4.4/24 dev eth0
check "net add nat" kvmbpf net add n type nat subnet 192.168.81.0/24 wan "$T-w" dhcp off
net_guest "$T-g" n 192.168.81.11 192.168.81.1 || fail "attach"
got=/tmp/$T.got stop=/tmp/$T.stop
rm -f "$got" "$stop" /tmp/$T.srv*

# Two servers on two WAN addresses note the source port they see.
for a in 2 3; do
	in_ns "$T-wan" timeout 10 "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('10.99.4.$a', 7000)); s.settimeout(8)
d, a = s.recvfrom(64); open('/tmp/$T.srv$a', 'w').write(str(a[1]))" &
done
sleep 0.5
# One guest socket, port 20000, to both; it then keeps listening and
# writes down what reaches it.
ip netns exec "$T-g" timeout 120 "$PY" -c "
import os, socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 20000))
s.sendto(b'a', ('10.99.4.2', 7000)); s.sendto(b'b', ('10.99.4.3', 7000))
s.settimeout(0.2)
out = open('$got', 'a', buffering=1)
while not os.path.exists('$stop'):
    try:
        d, a = s.recvfrom(64)
        out.write('%s %d %s\n' % (a[0], a[1], d.decode()))
    except socket.timeout:
        pass" &
gpid=$!
trap 'kill "$gpid" 2>/dev/null; cleanup' EXIT
wait_jobs() { local j; for j in $(jobs -p); do [ "$j" = "$gpid" ] || wait "$j"; done; }
wait_jobs
p2=$(cat /tmp/$T.srv2 2>/dev/null) p3=$(cat /tmp/$T.srv3 2>/dev/null)
[ -n "$p2" ] && [ "$p2" = "$p3" ] &&
	pass "one guest socket, two WAN addresses: one NAT port ($p2)" ||
	fail "one guest socket got NAT ports '$p2' and '$p3'"
[ "$p2" = 20000 ] && pass "the guest's free port 20000 is preserved" ||
	fail "port 20000 became '$p2'"
check "ct show -j: both flows with the same NAT port" "$PY" -c "
import json, subprocess
ct = json.loads(subprocess.check_output(['$ROOT/build/kvmbpf', '--bpffs', '$BPFFS', '-j', 'ct', 'show', 'net', 'n']))
f = [c for c in ct if c['proto'] == 'udp' and c['sport'] == 20000]
assert sorted(c['dst'] for c in f) == ['10.99.4.2', '10.99.4.3'], ct
assert len({c['nat_sport'] for c in f}) == 1, f"

# probe FROM_ADDR FROM_PORT TAG: an unsolicited datagram to the mapping
probe() {
	in_ns "$T-wan" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$1', $2)); s.sendto(b'$3', ('10.99.4.1', 20000))"
}
# reached TAG: the guest's socket got it (waits up to 5 s for it)
reached() {
	local i
	for i in $(seq 50); do
		grep -q " $1\$" "$got" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# refused TAG: counted nat-filtered on the WAN port, and never delivered
refused() {
	local i d
	for i in $(seq 50); do
		d=$(stat "$T-w" nat-filtered)
		[ "$d" -gt "$f0" ] && break
		sleep 0.1
	done
	f0=$d
	[ "$i" -lt 50 ] && ! grep -q " $1\$" "$got"
}
f0=$(stat "$T-w" nat-filtered)
check "net show -j: filtering address-port by default" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j net show n | grep -q '\"nat_filtering\":\"address-port\"'"
probe 10.99.4.2 7001 p1
check "address-port: another port of a remote is refused (nat-filtered)" refused p1
probe 10.99.4.4 7000 p2
check "address-port: a third party is refused" refused p2
check "net set nat-filtering address" kvmbpf net set n nat-filtering address
probe 10.99.4.2 7001 p3
check "address: another port of a remote the guest sent to gets in" reached p3
probe 10.99.4.4 7000 p4
check "address: a third party is refused" refused p4
check "net set nat-filtering endpoint-independent" kvmbpf net set n nat-filtering endpoint-independent
probe 10.99.4.4 7000 p5
check "endpoint-independent: a third party gets in" reached p5
# a flow the WAN opened is unanswered until the guest sends on it: the
# third party's second datagram, past the 2 s a stream needs, leaves it
# new (30 s, evictable), not established (before, its own first packet
# counted as its answer: a WAN host could fill a guest's share with
# flows no eviction takes)
sleep 2.2
probe 10.99.4.4 7000 p6
reached p6 >/dev/null
check "endpoint-independent: the flow the third party opened stays new" "$PY" -c "
import json, subprocess
cs = json.loads(subprocess.check_output(['$ROOT/build/kvmbpf', '--bpffs', '$BPFFS', '-j', 'ct', 'show', 'net', 'n']))
f = [c for c in cs if c['dst'] == '10.99.4.4' and c['dport'] == 7000]
assert f and all(c['state'] == 'new' for c in f), f"
check "net show: the filtering mode" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS net show n | grep -q 'nat-mapping endpoint-independent nat-filtering endpoint-independent'"
check_not "net set: a bad filtering mode is refused" kvmbpf net set n nat-filtering full-cone
touch "$stop"
wait "$gpid"

check "net set nat-filtering address-port" kvmbpf net set n nat-filtering address-port
# STUN (RFC 3489 classification) through the NAT
# ip netns exec execs timeout, which passes a TERM on to stund: $! is
# the process to kill (a backgrounded shell function would leave stund,
# holding the test lock's descriptor, behind)
ip netns exec "$T-wan" timeout 60 stund -h 10.99.4.2 -a 10.99.4.3 >/dev/null 2>&1 &
spid=$!
sleep 0.5
out=$(in_ns "$T-g" timeout 30 stun 10.99.4.2 -p 20100 2>&1)
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
line=$(echo "$out" | grep -m1 '^Primary:')
case $line in
*"Independent Mapping"*) pass "STUN: '$line'" ;;
*) fail "STUN says '${line:-$out}'" ;;
esac
case $line in
*"preserves ports"*) pass "STUN: the guest's port is preserved" ;;
*) fail "STUN: port not preserved: '$line'" ;;
esac
# A mapping whose guest's device went without detach (QEMU exited, gc not
# run yet) lets nothing in, whatever the filter admits: no-route on the
# WAN port and no flow made (which would hold the network's count and
# keep the mapping alive).
flows() { kvmbpf -j net show n | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["ct_count"])'; }
check "net set nat-filtering endpoint-independent" kvmbpf net set n nat-filtering endpoint-independent
in_ns "$T-g" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 20000)); s.sendto(b'm', ('10.99.4.2', 7000))"
for i in $(seq 50); do
	n0=$(flows)
	[ "$n0" -ge 1 ] && break
	sleep 0.1
done
r0=$(stat "$T-w" no-route)
[ "$n0" -ge 1 ] && pass "the guest's mapping again ($n0 flows)" ||
	fail "no flow for the guest's mapping ($n0)"
ip link del "$T-g"
probe 10.99.4.4 7002 p6
for i in $(seq 50); do
	r1=$(stat "$T-w" no-route)
	[ "$r1" -gt "$r0" ] && break
	sleep 0.1
done
n1=$(flows)
[ "$r1" -eq $((r0 + 1)) ] && [ "$n1" = "$n0" ] &&
	pass "endpoint-independent, the guest's device gone: no-route +1, no flow made" ||
	fail "endpoint-independent, the guest's device gone: no-route +$((r1 - r0)) (want +1), flows $n0 -> $n1"
# save keeps the mode; load restores it
check "net set nat-filtering address" kvmbpf net set n nat-filtering address
kvmbpf save >"/tmp/$T.save"
check "save: nat-filtering" grep -q "^net add n .* nat-filtering address\$" "/tmp/$T.save"
check "reset and load" sh -c "\"$ROOT/build/kvmbpf\" --bpffs $BPFFS reset &&
	\"$ROOT/build/kvmbpf\" --bpffs $BPFFS load /tmp/$T.save"
check "load: the mode is back" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j net show n | grep -q '\"nat_filtering\":\"address\"'"

rm -f "$got" "$stop" /tmp/$T.srv* "/tmp/$T.save"
finish

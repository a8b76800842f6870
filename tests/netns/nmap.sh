#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# nmap from the WAN against a nat network's NAT address: a SYN scan
# (-sS) and a UDP scan (-sU) over forwarded and unforwarded ports.
#   - a forwarded port whose guest listens is open, one whose guest does
#     not is closed (the guest's RST / port unreachable, translated back);
#   - every unforwarded port is what the host itself says: closed (the
#     host's RST / port unreachable), open where the host listens;
#   - nothing of the scan reaches the guest on a port it was not
#     forwarded, though the guest listens there too.
#
#   root ns: $T-w 10.87.9.1/24 (WAN), a host listener on 10.87.9.1:9443
#   $T-wan ns: 10.87.9.2/24 (the scanner)
#   nat n: 192.168.88.0/24, g1 .11 listening on TCP 22 80 8443, UDP 5353 5355
#   forwards: tcp 2222->22, tcp 8081->80, tcp 7000 (no listener),
#             udp 5353, udp 5354 (no listener)
source "$(dirname "$0")/lib.sh"

command -v nmap >/dev/null || { fail "nmap: missing (scripts/deps.sh installs it)"; exit 1; }
scratch
behind "$T-w" "$T-wan" 10.87.9.2/24 10.87.9.1/24
check "net add nat" kvmbpf net add n type nat subnet 192.168.88.0/24 wan "$T-w" dhcp off
net_guest "$T-g1" n 192.168.88.11 192.168.88.1 || fail "attach g1"
# a forward needs the guest's MAC: its first frame tells it
check "g1 pings its gateway" ping4 "$T-g1" 192.168.88.1
check "forward tcp 2222 -> 22" kvmbpf forward add n proto tcp port 2222 to 192.168.88.11:22
check "forward tcp 8081 -> 80" kvmbpf forward add n proto tcp port 8081 to 192.168.88.11:80
check "forward tcp 7000 (no listener)" kvmbpf forward add n proto tcp port 7000 to 192.168.88.11
check "forward udp 5353" kvmbpf forward add n proto udp port 5353 to 192.168.88.11
check "forward udp 5354 (no listener)" kvmbpf forward add n proto udp port 5354 to 192.168.88.11

# the guest's services: TCP listeners, UDP that answers every datagram
bg_ns "$T-g1" "$PY" -c "
import socket, select, time
ss = []
for p in (22, 80, 8443):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', p)); s.listen(64); ss.append(s)
us = []
for p in (5353, 5355):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('0.0.0.0', p)); us.append(u)
end = time.time() + 120
while time.time() < end:
    r, _, _ = select.select(ss + us, [], [], 1)
    for s in r:
        if s in us:
            d, a = s.recvfrom(2048); s.sendto(b'pong', a)
        else:
            c, _ = s.accept(); c.close()"
# the host's own service on its WAN address
"$PY" -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('10.87.9.1', 9443)); s.listen(8); time.sleep(120)" &
BG_PIDS+=($!)
for i in $(seq 50); do
	in_ns "$T-g1" ss -Hlun | grep -q ':5355 ' && ss -Hltn | grep -q '10.87.9.1:9443 ' && break
	sleep 0.1
done
# what reaches the guest during the scans
bg_ns "$T-g1" tcpdump --immediate-mode -n -U -i eth0 -w "$TMP/g1.pcap" 'tcp or udp' 2>"$TMP/td.err"
tdpid=$BG_PID
for i in $(seq 50); do grep -q listening "$TMP/td.err" && break; sleep 0.1; done

# scan ARGS...: nmap's port states from the WAN, "PORT/STATE" a line
scan() {
	in_ns "$T-wan" timeout 60 nmap -n -Pn --max-retries 3 --host-timeout 50s -oG - "$@" 10.87.9.1 2>&1 |
		sed -n 's/.*Ports: //p' | tr ',' '\n' | awk -F/ '{gsub(/ /, "", $1); print $1 "/" $2}'
}
# state LIST PORT: the state nmap gave PORT
state() { awk -F/ -v p="$2" '$1 == p { print $2 }' <<<"$1"; }
# the host's word for an unforwarded port: open where it listens
host_tcp() { ss -Hltn "sport = :$1" | grep -Eq '(0\.0\.0\.0|10\.87\.9\.1|\*|\[::\]):' && echo open || echo closed; }
host_udp() { ss -Hlun "sport = :$1" | grep -Eq '(0\.0\.0\.0|10\.87\.9\.1|\*|\[::\]):' && echo open || echo closed; }

tcp=$(scan -sS -p 22,80,2222,7000,8081,8443,9443,9099)
for want in 2222=open 8081=open 7000=closed "22=$(host_tcp 22)" "80=$(host_tcp 80)" \
	"8443=$(host_tcp 8443)" "9099=$(host_tcp 9099)" 9443=open; do
	p=${want%=*} w=${want#*=}
	got=$(state "$tcp" "$p")
	[ "$got" = "$w" ] && pass "nmap -sS: tcp $p $got" || fail "nmap -sS: tcp $p '$got', want $w (scan: $(tr '\n' ' ' <<<"$tcp"))"
done
udp=$(scan -sU -p 5353,5354,5355,5356)
for want in 5353=open 5354=closed "5355=$(host_udp 5355)" "5356=$(host_udp 5356)"; do
	p=${want%=*} w=${want#*=}
	got=$(state "$udp" "$p")
	[ "$got" = "$w" ] && pass "nmap -sU: udp $p $got" || fail "nmap -sU: udp $p '$got', want $w (scan: $(tr '\n' ' ' <<<"$udp"))"
done
sleep 0.5
stop_bg "$tdpid"
seen=$(tcpdump -n -r "$TMP/g1.pcap" 2>/dev/null | grep -Eo '192\.168\.88\.11\.[0-9]+' | sort | uniq -c | tr '\n' ' ')
echo "# reached the guest: $seen"
[ "$(grep -Ec '\.(22|80|7000|5353|5354)$' <<<"$(tr -s ' ' '\n' <<<"$seen")")" = 5 ] &&
	pass "every forwarded port reached the guest" ||
	fail "the scan never reached the guest: '$seen'"
grep -Evq '\.(22|80|7000|5353|5354)$' <<<"$(tr -s ' ' '\n' <<<"$seen" | grep 192)" &&
	fail "unforwarded ports reached the guest: $seen" ||
	pass "no other port of the guest was reached"
finish

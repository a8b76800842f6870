#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# XDP on a nat network's WAN device (wan-xdp on): the replies of
# established flows are translated by XDP and redirected to the guest's
# tap; everything else is tc's, and behaves as with wan-xdp off.
#
#   root ns: $T-w 10.97.2.1/24 (WAN device)     $T-wan: eth0 10.97.2.2/24
#            $T-t (tap, the fabric's port) <-> vnettap relay <-> eth0, a
#            tap in $T-g: the guest's stack (192.168.77.11, MG), which
#            verifies every checksum of a frame whose virtio-net header
#            asks nothing (an XDP redirect's), as a virtio-net guest does
#
# The WAN host's veth has checksum offload off, so its frames are complete
# as a NIC's (with it on, they are CHECKSUM_PARTIAL, which only tc may
# translate: checked too). Which path a reply took is the WAN port's
# xdp-fwd counter. Both modes run the same exchanges with real sockets:
# ping, UDP echoes, TCP both ways with sha256, a port forward both ways;
# and what must go to tc does, with the same outcome: a new inbound
# connection without a forward (refused), a forward to a guest with ACLs
# (tc judges: allowed port through, another refused), a detached guest
# (its flow gone with it, its replies the host's), partial checksums.
source "$(dirname "$0")/lib.sh"

V=$ROOT/build/vnettap
[ -x "$V" ] || { fail "setup: $V missing (make all)"; exit 1; }
MG=52:54:00:77:00:11
scratch || { fail "setup: scratch"; exit 1; }
H=$TMP/h.py

cat >"$H" <<'EOP'
import hashlib, os, socket, sys, time
mode = sys.argv[1]

def recv_to(c, path):
    """everything c receives until the peer's FIN, into path"""
    with open(path, "wb") as f:
        while True:
            b = c.recv(65536)
            if not b:
                break
            f.write(b)

def tcp_server(addr, port, path, send):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    s.settimeout(30)
    print("listening", flush=True)
    c, _ = s.accept()
    c.settimeout(30)
    if send:
        c.sendall(open(path, "rb").read())
    else:
        recv_to(c, path)
    c.close()

def tcp_client(addr, port, path, send):
    c = socket.create_connection((addr, port), timeout=10)
    c.settimeout(30)
    if send:
        c.sendall(open(path, "rb").read())
        c.shutdown(socket.SHUT_WR)
        c.recv(1)
    else:
        recv_to(c, path)
    c.close()

if mode == "udp-echo":		# ADDR PORT COUNT [GOFILE LATE]
    addr, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    s.settimeout(20)
    print("listening", flush=True)
    for _ in range(n):
        b, peer = s.recvfrom(2048)
        s.sendto(b, peer)
    if len(sys.argv) > 6:	# then LATE datagrams to the same peer
        go, late = sys.argv[5], int(sys.argv[6])
        for _ in range(400):
            if os.path.exists(go):
                break
            time.sleep(0.05)
        for i in range(late):
            s.sendto(b"late", peer)
elif mode == "udp-client":	# DST PORT COUNT SPORT
    dst, port, n, sport = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", sport))
    s.settimeout(3)
    for i in range(n):
        b = bytes((i * 13 + j) & 255 for j in range(10 + (i * 97) % 1400))
        s.sendto(b, (dst, port))
        r, _ = s.recvfrom(2048)
        assert r == b, "echo %d differs" % i
elif mode == "tcp-serve-send":	# ADDR PORT FILE
    tcp_server(sys.argv[2], int(sys.argv[3]), sys.argv[4], True)
elif mode == "tcp-serve-recv":	# ADDR PORT FILE
    tcp_server(sys.argv[2], int(sys.argv[3]), sys.argv[4], False)
elif mode == "tcp-send":	# ADDR PORT FILE
    tcp_client(sys.argv[2], int(sys.argv[3]), sys.argv[4], True)
elif mode == "tcp-recv":	# ADDR PORT FILE
    tcp_client(sys.argv[2], int(sys.argv[3]), sys.argv[4], False)
elif mode == "tcp-connect":	# ADDR PORT: exit 0 when it connects
    socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=3).close()
EOP

# the WAN port's frames forwarded by XDP alone
fwd() { stat "$T-w" xdp_fwd; }

# delta NAME MODE D: D frames took the fast path; with wan-xdp on at least
# MIN (default 1) of them must have, with it off none
delta() {
	local name=$1 mode=$2 d=$3 min=${4:-1}
	if [ "$mode" = on ] && [ "$d" -ge "$min" ]; then
		pass "$name: $d frame(s) took the XDP fast path"
	elif [ "$mode" != on ] && [ "$d" = 0 ]; then
		pass "$name: tc's"
	else
		fail "$name: $d frame(s) took the XDP fast path (wan-xdp $mode)"
	fi
}

# the nat network's flows with PORT in them (ct show -j)
flows_of() {
	kvmbpf -j ct show net n | "$PY" -c '
import json, sys
print(sum(1 for f in json.load(sys.stdin) if sys.argv[1] in json.dumps(f)))' "$1"
}

# tc_only NAME D: none took the fast path, whatever the mode
tc_only() {
	[ "$2" = 0 ] && pass "$1: tc's" ||
		fail "$1: $2 frame(s) took the XDP fast path"
}

# wait_listen NS FILE: a helper started in NS printed "listening" into FILE
wait_listen() {
	local i
	for i in $(seq 100); do grep -q listening "$1" && return 0; sleep 0.05; done
	return 1
}

# xfer NAME SERVER_NS SERVER_MODE ADDR PORT CLIENT_NS CLIENT_MODE CADDR CPORT MIB:
# a TCP transfer of MIB MiB of random data, sha256 compared at both ends
xfer() {
	local name=$1 sns=$2 smode=$3 addr=$4 port=$5 cns=$6 cmode=$7 caddr=$8
	local cport=$9 mib=${10} src=$TMP/src dst=$TMP/dst log=$TMP/srv.log pid
	head -c "${mib}M" /dev/urandom >"$src"
	rm -f "$dst" "$log"
	if [ "$smode" = tcp-serve-send ]; then
		in_ns "$sns" "$PY" "$H" "$smode" "$addr" "$port" "$src" >"$log" 2>&1 &
	else
		in_ns "$sns" "$PY" "$H" "$smode" "$addr" "$port" "$dst" >"$log" 2>&1 &
	fi
	pid=$!
	wait_listen "$log" || { fail "$name: server did not start"; kill $pid; return; }
	if [ "$cmode" = tcp-recv ]; then
		in_ns "$cns" "$PY" "$H" "$cmode" "$caddr" "$cport" "$dst"
	else
		in_ns "$cns" "$PY" "$H" "$cmode" "$caddr" "$cport" "$src"
	fi
	wait $pid
	if [ -s "$dst" ] && [ "$(sha256sum <"$src")" = "$(sha256sum <"$dst")" ]; then
		pass "$name: $mib MiB, sha256 equal"
	else
		fail "$name: sha256 differs ($(stat -c %s "$dst" 2>/dev/null) bytes arrived)"
		dump_fabric "$T-g" "$T-w" "$T-t"
	fi
	rm -f "$src" "$dst"
}

# udp NAME COUNT SPORT: COUNT datagrams from the guest echoed by the WAN
udp() {
	local log=$TMP/udp.log pid
	in_ns "$T-wan" "$PY" "$H" udp-echo 10.97.2.2 7777 "$2" >"$log" 2>&1 &
	pid=$!
	wait_listen "$log" || { fail "$1: server did not start"; kill $pid; return; }
	if in_ns "$T-g" "$PY" "$H" udp-client 10.97.2.2 7777 "$2" "$3"; then
		pass "$1: $2 datagrams echoed intact"
	else
		fail "$1: echoes lost or changed"
	fi
	wait $pid
}

behind "$T-w" "$T-wan" 10.97.2.2/24 10.97.2.1/24 || { fail "setup: WAN"; exit 1; }
# complete frames, as from a NIC
in_ns "$T-wan" ethtool -K eth0 tx off >/dev/null || { fail "setup: ethtool"; exit 1; }
netns_add "$T-g" || { fail "setup: guest namespace"; exit 1; }
ip tuntap add dev "$T-t" mode tap vnet_hdr && LINK_LIST+=("$T-t") &&
	sysctl -qw net.ipv6.conf."$T-t".disable_ipv6=1 && ip link set "$T-t" up &&
	ip -n "$T-g" tuntap add dev eth0 mode tap vnet_hdr &&
	ip -n "$T-g" link set eth0 address $MG up &&
	ip -n "$T-g" addr add 192.168.77.11/24 dev eth0 &&
	ip -n "$T-g" route add default via 192.168.77.1 ||
	{ fail "setup: taps"; exit 1; }
"$V" relay "$T-t" "$T-g" eth0 >"$TMP/relay.log" 2>&1 &
BG_PIDS+=($!)
wait_listen "$TMP/relay.log" || grep -q ready "$TMP/relay.log" ||
	{ fail "setup: relay: $(cat "$TMP/relay.log")"; exit 1; }

for mode in ${WAN_XDP:-on off}; do
	m="wan-xdp $mode"
	# a new gateway interface: a new MAC the guest must learn again
	ip -n "$T-g" neigh flush all
	kvmbpf net add n type nat subnet 192.168.77.0/24 wan "$T-w" dhcp off \
		wan-xdp $mode &&
		kvmbpf attach "$T-t" net n mac $MG ip 192.168.77.11 ||
		{ fail "$m: set-up"; continue; }
	if [ "$mode" = on ]; then
		check "$m: XDP on the WAN device" sh -c "ip link show $T-w | grep -q xdp"
		check "$m: saved" sh -c "\"$ROOT/build/kvmbpf\" --bpffs $BPFFS save | grep -q 'wan $T-w wan-xdp on'"
	else
		check_not "$m: no XDP on the WAN device" sh -c "ip link show $T-w | grep -q xdp"
	fi

	f0=$(fwd)
	check "$m: ping the WAN (5)" in_ns "$T-g" ping -n -c 5 -i 0.2 -W 2 10.97.2.2
	delta "$m: echo replies" $mode $(($(fwd) - f0)) 4
	f0=$(fwd)
	udp "$m: UDP" 60 40001
	delta "$m: UDP echoes" $mode $(($(fwd) - f0)) 59
	# the flow's replies sent to another station's MAC (a switch's
	# flood, a forgery) are the host's to drop: neither tc nor XDP
	# takes them (t80); sent to the WAN device, they reach the guest
	np=$(kvmbpf -j ct show net n | "$PY" -c '
import json, sys
print(" ".join(str(f["nat_sport"]) for f in json.load(sys.stdin) if f["sport"] == 40001))')
	wm=$(ip -j link show "$T-w" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
	for dst in other own; do
		udp_heard "$T-g" 0.0.0.0 40001 3 >"$TMP/heard"
		hp=$BG_PID
		sleep 0.5
		f0=$(fwd)
		in_ns "$T-wan" "$PY" - "$dst" "$wm" "$np" <<'EOF'
import sys, time
from scapy.all import Ether, IP, UDP, sendp, get_if_hwaddr, conf
conf.verb = 0
dst = '02:00:00:00:ee:99' if sys.argv[1] == 'other' else sys.argv[2]
for i in range(3):
    sendp(Ether(src=get_if_hwaddr('eth0'), dst=dst) / IP(src='10.97.2.2', dst='10.97.2.1') /
          UDP(sport=7777, dport=int(sys.argv[3])) / b'reply', iface='eth0')
    time.sleep(0.05)
EOF
		wait "$hp"
		d=$(($(fwd) - f0))
		if [ "$dst" = other ]; then
			[ "$(cat "$TMP/heard")" = none ] && [ "$d" = 0 ] &&
				pass "$m: replies to another station's MAC: not the fabric's (the guest heard none, XDP took none)" ||
				fail "$m: replies to another station's MAC (NAT port '$np'): the guest heard '$(cat "$TMP/heard")', XDP took $d"
		else
			[ "$(cat "$TMP/heard")" = got ] &&
				pass "$m: the same replies to the WAN device's MAC reach the guest" ||
				fail "$m: replies to the WAN device's MAC (NAT port '$np'): the guest heard '$(cat "$TMP/heard")'"
			delta "$m: replies to the WAN device's MAC" $mode "$d"
		fi
	done
	f0=$(fwd)
	xfer "$m: TCP from the WAN" "$T-wan" tcp-serve-send 10.97.2.2 7001 \
		"$T-g" tcp-recv 10.97.2.2 7001 20
	delta "$m: TCP from the WAN" $mode $(($(fwd) - f0)) 10000
	f0=$(fwd)
	xfer "$m: TCP to the WAN" "$T-wan" tcp-serve-recv 10.97.2.2 7002 \
		"$T-g" tcp-send 10.97.2.2 7002 20
	delta "$m: TCP to the WAN (its ACKs)" $mode $(($(fwd) - f0)) 10
	# CHECKSUM_PARTIAL from the WAN host's stack: tc's
	in_ns "$T-wan" ethtool -K eth0 tx on >/dev/null
	f0=$(fwd)
	udp "$m: UDP, partial checksums" 20 40002
	xfer "$m: TCP from the WAN, partial checksums" "$T-wan" tcp-serve-send \
		10.97.2.2 7003 "$T-g" tcp-recv 10.97.2.2 7003 5
	tc_only "$m: partial checksums" $(($(fwd) - f0))
	in_ns "$T-wan" ethtool -K eth0 tx off >/dev/null

	# port forwards: established ones are the fast path's
	kvmbpf forward add n proto tcp port 8080-8081 to 192.168.77.11:80 ||
		fail "$m: forward add"
	f0=$(fwd)
	xfer "$m: forward, WAN to guest" "$T-g" tcp-serve-recv 0.0.0.0 80 \
		"$T-wan" tcp-send 10.97.2.1 8080 20
	delta "$m: forward, WAN to guest" $mode $(($(fwd) - f0)) 10000
	f0=$(fwd)
	xfer "$m: forward, guest to WAN" "$T-g" tcp-serve-send 0.0.0.0 80 \
		"$T-wan" tcp-recv 10.97.2.1 8080 20
	delta "$m: forward, guest to WAN (the WAN's ACKs)" $mode $(($(fwd) - f0)) 10
	# a new inbound connection without a forward: refused, as ever
	f0=$(fwd)
	check_not "$m: no forward, no way in" in_ns "$T-wan" "$PY" "$H" tcp-connect 10.97.2.1 8099
	tc_only "$m: no forward" $(($(fwd) - f0))
	# the guest's ACLs judge a forward's packets: tc's
	kvmbpf acl add web && kvmbpf acl rule add web ingress allow proto tcp dport 80 &&
		kvmbpf acl rule add web egress allow &&
		kvmbpf port set "$T-t" acl web || fail "$m: acl"
	f0=$(fwd)
	xfer "$m: forward to a guest with ACLs" "$T-g" tcp-serve-recv 0.0.0.0 80 \
		"$T-wan" tcp-send 10.97.2.1 8080 5
	tc_only "$m: forward to a guest with ACLs" $(($(fwd) - f0))
	kvmbpf forward add n proto tcp port 8082 to 192.168.77.11:81 || fail "$m: forward 8082"
	in_ns "$T-g" "$PY" "$H" tcp-serve-recv 0.0.0.0 81 "$TMP/81" >"$TMP/81.log" 2>&1 &
	p81=$!
	wait_listen "$TMP/81.log"
	check_not "$m: the guest's ACL refuses port 81" in_ns "$T-wan" "$PY" "$H" tcp-connect 10.97.2.1 8082
	kill $p81 2>/dev/null; wait $p81 2>/dev/null
	kvmbpf port set "$T-t" acl none && kvmbpf acl del web || fail "$m: acl del"

	# a detached guest's flow goes with it: its 5 late replies are the
	# host's (a host socket on the flow's NAT port gets all 5), none is
	# dropped as no-route, nothing reaches the guest
	f0=$(fwd)
	r0=$(stat "$T-w" no-route)
	in_ns "$T-wan" "$PY" "$H" udp-echo 10.97.2.2 7778 1 "$TMP/go" 5 >"$TMP/late.log" 2>&1 &
	pl=$!
	wait_listen "$TMP/late.log"
	in_ns "$T-g" "$PY" "$H" udp-client 10.97.2.2 7778 1 40003 || fail "$m: detach: first echo"
	had=$(flows_of 40003)
	np=$(kvmbpf -j ct show net n | "$PY" -c '
import json, sys
print(" ".join(str(f["nat_sport"]) for f in json.load(sys.stdin) if f["sport"] == 40003))')
	kvmbpf detach "$T-t" || fail "$m: detach"
	left=$(flows_of 40003)
	[ "$had" -ge 1 ] && [ "$left" = 0 ] && pass "$m: detached guest: its flow gone with it" ||
		fail "$m: detached guest: $left flow(s) of it left ($had before)"
	"$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('10.97.2.1', int('$np'))); s.settimeout(5)
print('listening', flush=True)
n = 0
try:
    while n < 5:
        n += s.recv(64) == b'late'
except OSError:
    pass
print('got', n)" >"$TMP/host.log" 2>&1 &
	ph=$!
	wait_listen "$TMP/host.log" || fail "$m: detached guest: host socket on port '$np'"
	touch "$TMP/go"
	wait $pl
	wait $ph
	r=$(($(stat "$T-w" no-route) - r0))
	grep -q "^got 5$" "$TMP/host.log" && [ "$r" = 0 ] &&
		pass "$m: detached guest: its flow's 5 replies the host's (its socket on NAT port $np got them), no-route +0" ||
		fail "$m: detached guest: the host's socket on NAT port '$np': $(tail -1 "$TMP/host.log"), want got 5; no-route +$r, want +0"
	tc_only "$m: detached guest (a new flow, then no port)" $(($(fwd) - f0))
	rm -f "$TMP/go"

	kvmbpf net del n >/dev/null || fail "$m: net del"
	check_not "$m: net del: no XDP on the WAN device" sh -c "ip link show $T-w | grep -q xdp"
done

# net set switches it in place; it needs `wan`; a shared WAN device keeps
# XDP while one of its networks asks for it
kvmbpf net add n type nat subnet 192.168.77.0/24 wan "$T-w" dhcp off >/dev/null
check "net set wan-xdp on" kvmbpf net set n wan-xdp on
check "net set wan-xdp on: XDP on the WAN device" sh -c "ip link show $T-w | grep -q xdp"
kvmbpf net add n2 type nat subnet 192.168.76.0/24 wan "$T-w" dhcp off >/dev/null
check "another network on the WAN device: XDP stays" sh -c "ip link show $T-w | grep -q xdp"
kvmbpf net del n2 >/dev/null
check "that network gone: XDP stays" sh -c "ip link show $T-w | grep -q xdp"
check "net set wan-xdp off" kvmbpf net set n wan-xdp off
check_not "net set wan-xdp off: no XDP" sh -c "ip link show $T-w | grep -q xdp"
kvmbpf net add n3 type nat subnet 192.168.75.0/24 dhcp off >/dev/null
check_not "net set wan-xdp on without wan" kvmbpf net set n3 wan-xdp on
check_not "net add wan-xdp on without wan" kvmbpf net add n4 type nat subnet 192.168.74.0/24 wan-xdp on
check_not "wan-xdp on a bridge" kvmbpf net add n5 type bridge wan-xdp on
exit $((FAILS > 0))

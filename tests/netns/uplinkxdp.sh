#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# XDP on a bridge's uplink (uplink-xdp on): a LAN host's frames to tap
# guests. The LAN is a namespace behind the uplink veth; the guests are
# taps read as QEMU reads them (tests/tools/vnettap.c: every frame's
# checksums verified once its virtio-net header is honoured).
#
#   root ns: $T-up (uplink, 10.84.0.1)    $T-a (tap, guest A, MA)
#                                          $T-b (tap, guest B, MB, ACLs)
#   $T-lan:  eth0 10.84.0.2, fd84::2 (ML)
#
# Which path each frame took is the uplink's xdp-fwd counter. With
# uplink-xdp on, complete TCP and UDP (IPv4, IPv6) written raw onto the LAN
# (AF_PACKET: no checksum offload) to guest A take the fast path and arrive
# intact; what tc must judge is passed to it, and arrives (or not) as tc
# decides: TCP and UDP from the LAN host's own stack (its veth offloads the
# checksum: CHECKSUM_PARTIAL, which a redirect would lose), broadcast,
# multicast, an unknown destination, a guest with ACLs, a VLAN-tagged
# frame (the tag in the frame, or in skb metadata as a VLAN device with
# tx-vlan-offload leaves it: only the uplink's device-bound program can
# know), a frame over the guest's MTU, the host's own traffic. A LAN host
# only XDP has seen is learnt on the uplink. With uplink-xdp off nothing
# takes the fast path and everything arrives the same.
source "$(dirname "$0")/lib.sh"

V=$ROOT/build/vnettap
S=$ROOT/build/sendraw
for b in "$V" "$S"; do
	[ -x "$b" ] || { fail "setup: $b missing (make all)"; exit 1; }
done
MA=52:54:00:84:00:11 MB=52:54:00:84:00:12 ML=52:54:00:84:00:02
MN=52:54:00:84:00:03	# a LAN host no one has heard of yet
MU=52:54:00:84:00:77	# nobody's

# frame KIND DMAC DST PORT [LEN [SMAC [VLAN]]]: hex of a frame from the LAN
# host: tcp4 udp4 tcp6 udp6, complete checksums, LEN payload bytes (100),
# from and to port PORT (vnettap's tag)
frame() {
	(cd "$ROOT/tests/tools" && "$PY" - "$@" "$ML" <<'EOP'
import socket, struct, sys
import craft
kind, dmac, dst, port = sys.argv[1:5]
n = int(sys.argv[5]) if len(sys.argv) > 6 else 100
smac = sys.argv[6] if len(sys.argv) > 7 else sys.argv[-1]
vlan = int(sys.argv[7]) if len(sys.argv) > 8 else 0
port = int(port)
v6 = kind.endswith("6")
src = "fd84::2" if v6 else "10.84.0.2"
fam = socket.AF_INET6 if v6 else socket.AF_INET
data = bytes((i * 7) & 255 for i in range(n))
proto = 6 if kind.startswith("tcp") else 17
if proto == 6:
    l4 = bytearray(struct.pack("!HHIIBBHHH", port, port, 1, 0, 5 << 4, 0x18,
                               65535, 0, 0) + data)
    at = 16
else:
    l4 = bytearray(struct.pack("!HHHH", port, port, 8 + n, 0) + data)
    at = 6
ph = socket.inet_pton(fam, src) + socket.inet_pton(fam, dst)
ph += struct.pack("!IxxxB", len(l4), proto) if v6 else struct.pack("!BBH", 0, proto, len(l4))
b = ph + bytes(l4) + b"\0" * (len(l4) % 2)
c = sum(struct.unpack("!%dH" % (len(b) // 2), b))
while c >> 16:
    c = (c & 0xffff) + (c >> 16)
c = (~c & 0xffff) or 0xffff
l4[at:at + 2] = struct.pack("!H", c)
if v6:
    pkt, et = craft.ip6(src, dst, proto, bytes(l4)), 0x86dd
else:
    pkt, et = bytearray(craft.ip4(src, dst, proto, bytes(l4))), 0x0800
    s = sum(struct.unpack("!10H", pkt[:20]))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    pkt[10:12] = struct.pack("!H", ~s & 0xffff)
    pkt = bytes(pkt)
if vlan:
    pkt, et = struct.pack("!HH", vlan, et) + pkt, 0x8100
print(craft.eth(craft.mac(dmac), craft.mac(smac), et, pkt).hex())
EOP
	)
}

raw() { in_ns "$T-lan" "$S" eth0 "$1"; }

# the uplink's frames forwarded by XDP alone
fwd() { stat "$T-up" xdp_fwd; }

# path NAME WANT CMD...: CMD sends; WANT frames must take the fast path
path() {
	local name=$1 want=$2 f0 got
	shift 2
	f0=$(fwd)
	"$@" >/dev/null || fail "$name: sending failed"
	got=$(($(fwd) - f0))
	if [ "$got" = "$want" ]; then
		pass "$name: $([ "$want" = 0 ] && echo "tc's" || echo "XDP fast path ($want)")"
	else
		fail "$name: $got frame(s) took the XDP fast path, want $want"
	fi
}

# From the LAN host's own stack, through its veth with checksum offload
# on: CHECKSUM_PARTIAL skbs. sock udp|tcp DST PORT
sock() {
	in_ns "$T-lan" "$PY" - "$@" <<'EOP'
import socket, sys
proto, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
if proto == "udp":
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind(("", port))
    s.sendto(bytes(100), (dst, port))
else:
    # one SYN: closed before its first retransmission
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind(("", port))
    s.setblocking(False)
    try:
        s.connect((dst, port))
    except BlockingIOError:
        pass
s.close()
EOP
}

# recv_start TAP: vnettap reading TAP into RECV_OUT[TAP]
declare -A RECV_OUT RECV_PID
recv_start() {
	local out i
	out=$(mktemp)
	timeout 30 "$V" recv "$1" 25 >"$out" 2>&1 &
	RECV_PID[$1]=$!
	RECV_OUT[$1]=$out
	for i in $(seq 100); do grep -q ready "$out" && break; sleep 0.05; done
}

# recv_end TAP DMAC DST: the end marker (tag 7999) through tc (flooded:
# broadcast MAC), which follows everything before it on one path
recv_end() {
	raw "$(frame udp4 ff:ff:ff:ff:ff:ff "$3" 7999)"
	wait "${RECV_PID[$1]}"
	grep -q '^frame 7999 .* ok' "${RECV_OUT[$1]}" ||
		fail "$1: the end marker never arrived"
}

# arrived NAME TAP TAG BYTES: the frames tagged TAG at TAP carried BYTES
# payload bytes in all, every checksum verifying (BYTES 0: none arrived);
# complete: and none needed completing (no NEEDS_CSUM)
arrived() {
	local name=$1 tap=$2 tag=$3 want=$4 how=${5:-} got bytes
	got=$(awk -v p="$tag" '$1 == "frame" && $2 == p' "${RECV_OUT[$tap]}")
	bytes=$(echo "$got" | sed -n 's/.* payload=\([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
	if [ "$want" = 0 ]; then
		[ -z "$got" ] && pass "$name: not delivered" ||
			fail "$name: delivered: $(echo "$got" | head -1)"
	elif [ -z "$got" ]; then
		fail "$name: nothing arrived"
	elif echo "$got" | grep -q ' bad'; then
		fail "$name: $(echo "$got" | grep ' bad' | head -1)"
	elif [ "$bytes" -lt "$want" ]; then
		fail "$name: $bytes payload bytes arrived, $want sent"
	elif [ "$how" = complete ] && echo "$got" | grep -vq ' flags=0 '; then
		fail "$name: arrived partial: $(echo "$got" | head -1)"
	else
		pass "$name: arrived, checksums verify ($(echo "$got" | head -1 | cut -d' ' -f4-7))"
	fi
}

behind "$T-up" "$T-lan" 10.84.0.2/24 10.84.0.1/24 || { fail "setup: LAN"; exit 1; }
ip -n "$T-lan" link set eth0 address $ML
ip -n "$T-lan" -6 addr add fd84::2/64 dev eth0 nodad
# the guests answer no ARP/ND (vnettap only reads)
ip -n "$T-lan" neigh replace 10.84.0.11 lladdr $MA dev eth0
ip -n "$T-lan" neigh replace fd84::11 lladdr $MA dev eth0
ip -n "$T-lan" neigh replace 10.84.0.12 lladdr $MB dev eth0
in_ns "$T-lan" tc qdisc add dev eth0 clsact
tap_add "$T-a" && tap_add "$T-b" || { fail "setup: taps"; exit 1; }

for mode in ${UPLINK_XDP:-on off}; do
	kvmbpf net add lan type bridge uplink "$T-up" uplink-xdp $mode &&
	kvmbpf attach "$T-a" net lan mac $MA ip 10.84.0.11 ip fd84::11 &&
	kvmbpf attach "$T-b" net lan mac $MB ip 10.84.0.12 &&
	kvmbpf acl add open && kvmbpf acl rule add open ingress allow &&
	kvmbpf acl rule add open egress allow &&
	kvmbpf port set "$T-b" acl open || { fail "uplink-xdp $mode: set-up"; continue; }
	n=0
	[ "$mode" = on ] && n=1
	if [ "$mode" = on ]; then
		check "uplink-xdp on: XDP on the uplink" sh -c "ip link show $T-up | grep -q xdp"
		check "uplink-xdp on: saved" sh -c "\"$ROOT/build/kvmbpf\" --bpffs $BPFFS save | grep -q 'uplink $T-up uplink-xdp on'"
	else
		check_not "uplink-xdp off: no XDP on the uplink" sh -c "ip link show $T-up | grep -q xdp"
	fi
	m="uplink-xdp $mode"

	recv_start "$T-a"
	recv_start "$T-b"
	# complete frames to A: the fast path
	i=0
	for k in tcp4 udp4 tcp6 udp6; do
		d=10.84.0.11
		[ "${k: -1}" = 6 ] && d=fd84::11
		path "$m: $k complete" $n raw "$(frame $k $MA $d $((7000 + i)))"
		i=$((i + 1))
	done
	path "$m: udp4 complete, 1400 bytes" $n raw "$(frame udp4 $MA 10.84.0.11 7004 1400)"
	# a LAN host only the fast path has seen is learnt on the uplink
	path "$m: udp4 from a new LAN host" $n raw "$(frame udp4 $MA 10.84.0.11 7005 100 $MN)"
	check "$m: the new LAN host learnt on the uplink" sh -c "
		\"\${0}\" --bpffs $BPFFS -j fdb show net lan | $PY -c '
import json, sys
e = [x for x in json.load(sys.stdin) if x[\"mac\"] == \"$MN\"]
assert e and e[0][\"dev\"] == \"$T-up\", e'" "$ROOT/build/kvmbpf"
	# the LAN host's own stack: partial checksums
	path "$m: udp4 from the LAN's stack (partial)" 0 sock udp 10.84.0.11 7010
	path "$m: udp6 from the LAN's stack (partial)" 0 sock udp fd84::11 7011
	path "$m: tcp4 SYN from the LAN's stack (partial)" 0 sock tcp 10.84.0.11 7012
	# destinations tc judges
	path "$m: broadcast" 0 raw "$(frame udp4 ff:ff:ff:ff:ff:ff 10.84.0.255 7020)"
	path "$m: multicast" 0 raw "$(frame udp4 01:00:5e:00:00:fb 224.0.0.251 7021)"
	path "$m: unknown destination" 0 raw "$(frame udp4 $MU 10.84.0.11 7022)"
	path "$m: to a guest with ACLs" 0 raw "$(frame udp4 $MB 10.84.0.12 7023)"
	path "$m: VLAN-tagged" 0 raw "$(frame udp4 $MA 10.84.0.11 7024 100 $ML 42)"
	# tagged as a VLAN device with tx-vlan-offload tags it: in the skb's
	# metadata, which the veth carries over, not in the frame
	in_ns "$T-lan" tc filter add dev eth0 egress bpf da obj "$ROOT/build/vlanpush.bpf.o" sec tc ||
		fail "$m: vlanpush"
	path "$m: VLAN tag in skb metadata" 0 raw "$(frame udp4 $MA 10.84.0.11 7026)"
	in_ns "$T-lan" tc filter del dev eth0 egress
	ip link set "$T-a" mtu 1000
	path "$m: over the guest's MTU" 0 raw "$(frame udp4 $MA 10.84.0.11 7025 1200)"
	ip link set "$T-a" mtu 1500
	path "$m: the host's own (ping the uplink's address)" 0 ping4 "$T-lan" 10.84.0.1
	recv_end "$T-a" ff:ff:ff:ff:ff:ff 10.84.0.255
	recv_end "$T-b" ff:ff:ff:ff:ff:ff 10.84.0.255

	arrived "$m: tcp4 complete" "$T-a" 7000 100 complete
	arrived "$m: udp4 complete" "$T-a" 7001 100 complete
	arrived "$m: tcp6 complete" "$T-a" 7002 100 complete
	arrived "$m: udp6 complete" "$T-a" 7003 100 complete
	arrived "$m: udp4 complete, 1400 bytes" "$T-a" 7004 1400 complete
	arrived "$m: udp4 from a new LAN host" "$T-a" 7005 100 complete
	arrived "$m: udp4 partial" "$T-a" 7010 100
	arrived "$m: udp6 partial" "$T-a" 7011 100
	grep -q '^frame 7012 ' "${RECV_OUT[$T-a]}" &&
		{ grep '^frame 7012 ' "${RECV_OUT[$T-a]}" | grep -q ' bad' &&
			fail "$m: tcp4 SYN partial: $(grep '^frame 7012 ' "${RECV_OUT[$T-a]}" | head -1)" ||
			pass "$m: tcp4 SYN partial: arrived, checksum verifies"; } ||
		fail "$m: tcp4 SYN partial: nothing arrived"
	arrived "$m: broadcast, at A" "$T-a" 7020 100
	arrived "$m: broadcast, at B" "$T-b" 7020 100
	arrived "$m: multicast, at A" "$T-a" 7021 100
	arrived "$m: unknown destination, flooded to A" "$T-a" 7022 100
	arrived "$m: to a guest with ACLs (allowed)" "$T-b" 7023 100
	arrived "$m: VLAN-tagged (not for guests)" "$T-a" 7024 0
	arrived "$m: VLAN tag in skb metadata (not for guests)" "$T-a" 7026 0
	rm -f "${RECV_OUT[$T-a]}" "${RECV_OUT[$T-b]}"

	kvmbpf net del lan >/dev/null && kvmbpf acl del open >/dev/null ||
		fail "$m: net del"
	check_not "$m: net del: no XDP on the uplink" sh -c "ip link show $T-up | grep -q xdp"
done

# net set switches it in place
kvmbpf net add lan type bridge uplink "$T-up" >/dev/null
check "net set uplink-xdp on" kvmbpf net set lan uplink-xdp on
check "net set uplink-xdp on: XDP on the uplink" sh -c "ip link show $T-up | grep -q xdp"
# an upgrade swaps the uplink's own (device-bound) program in place
kvmbpf attach "$T-a" net lan mac $MA ip 10.84.0.11 >/dev/null
check "upgrade with uplink-xdp on" kvmbpf upgrade force
path "after upgrade: udp4 complete" 1 raw "$(frame udp4 $MA 10.84.0.11 7030)"
check "net set uplink-xdp off" kvmbpf net set lan uplink-xdp off
check_not "net set uplink-xdp off: no XDP" sh -c "ip link show $T-up | grep -q xdp"
kvmbpf net add other type bridge >/dev/null
check_not "net set uplink-xdp on without an uplink" kvmbpf net set other uplink-xdp on
check_not "net add uplink-xdp on without an uplink" kvmbpf net add third type bridge uplink-xdp on
exit $((FAILS > 0))

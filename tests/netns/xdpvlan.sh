#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A VLAN tag XDP cannot see, from a guest on a veth (xdp on). A VLAN
# device over a device with tx-vlan-offload leaves the tag in the skb's
# metadata, and a veth carries it so to its peer: tc sees it
# (skb->vlan_present: dropped as vlan-tagged, its port is no VLAN trunk),
# XDP sees an untagged frame. The guest's complete UDP to a tap guest
# (written raw, so that XDP's fast path could take it) must take the fast
# path untagged, and tagged (the tag pushed into metadata by a tc program
# on the guest's side: tests/tools/vlanpush.bpf.c; this kernel has no
# 8021q module) must go to tc, be counted vlan-tagged and reach nobody.
# And the guest's own TCP, whose checksum its stack left partial, is
# completed by XDP and arrives verifying.
source "$(dirname "$0")/lib.sh"

V=$ROOT/build/vnettap
S=$ROOT/build/sendraw
for b in "$V" "$S" "$ROOT/build/vlanpush.bpf.o"; do
	[ -e "$b" ] || { fail "setup: $b missing (make all)"; exit 1; }
done
MA=52:54:00:86:00:11 MG=52:54:00:86:00:21

netns_add "$T-g" && guest_link "$T-g" "$T-g" || { fail "setup: veth guest"; exit 1; }
ip -n "$T-g" link set eth0 address $MG
ip -n "$T-g" addr add 10.86.0.21/24 dev eth0
ip tuntap add dev "$T-a" mode tap vnet_hdr && LINK_LIST+=("$T-a") &&
	ip link set "$T-a" up || { fail "setup: tap"; exit 1; }
kvmbpf net add lan type bridge >/dev/null &&
	kvmbpf attach "$T-g" net lan mac $MG ip 10.86.0.21 xdp on &&
	kvmbpf attach "$T-a" net lan mac $MA ip 10.86.0.11 ||
	{ fail "setup: fabric"; exit 1; }
in_ns "$T-g" tc qdisc add dev eth0 clsact

# complete UDP from the guest to A, port PORT, as hex
frame() {
	(cd "$ROOT/tests/tools" && "$PY" - "$1" "$MG" "$MA" <<'EOP'
import socket, struct, sys
import craft
port, smac, dmac = int(sys.argv[1]), sys.argv[2], sys.argv[3]
data = bytes(100)
s, d = socket.inet_aton("10.86.0.21"), socket.inet_aton("10.86.0.11")
u = bytearray(struct.pack("!HHHH", port, port, 8 + len(data), 0) + data)
b = s + d + struct.pack("!BBH", 0, 17, len(u)) + bytes(u)
c = sum(struct.unpack("!%dH" % (len(b) // 2), b))
while c >> 16:
    c = (c & 0xffff) + (c >> 16)
u[6:8] = struct.pack("!H", (~c & 0xffff) or 0xffff)
ip = bytearray(craft.ip4("10.86.0.21", "10.86.0.11", 17, bytes(u)))
h = sum(struct.unpack("!10H", ip[:20]))
while h >> 16:
    h = (h & 0xffff) + (h >> 16)
ip[10:12] = struct.pack("!H", ~h & 0xffff)
print(craft.eth(craft.mac(dmac), craft.mac(smac), 0x0800, bytes(ip)).hex())
EOP
	)
}

out=$(mktemp)
timeout 30 "$V" recv "$T-a" 25 >"$out" 2>&1 &
rp=$!
BG_PIDS+=("$rp")
for i in $(seq 100); do grep -q ready "$out" && break; sleep 0.05; done

f0=$(stat "$T-g" xdp_fwd)
in_ns "$T-g" "$S" eth0 "$(frame 7000)"
f1=$(stat "$T-g" xdp_fwd)
[ $((f1 - f0)) = 1 ] && pass "untagged: XDP fast path" ||
	fail "untagged: $((f1 - f0)) frame(s) took the fast path, want 1"

in_ns "$T-g" tc filter add dev eth0 egress bpf da obj "$ROOT/build/vlanpush.bpf.o" sec tc ||
	fail "vlanpush"
v0=$(stat "$T-g" vlan-tagged)
in_ns "$T-g" "$S" eth0 "$(frame 7001)"
f2=$(stat "$T-g" xdp_fwd)
v1=$(stat "$T-g" vlan-tagged)
[ $((f2 - f1)) = 0 ] && pass "tag in skb metadata: not XDP's" ||
	fail "tag in skb metadata: $((f2 - f1)) frame(s) took the fast path, want 0"
[ $((v1 - v0)) = 1 ] && pass "tag in skb metadata: counted vlan-tagged" ||
	fail "tag in skb metadata: vlan-tagged +$((v1 - v0)), want +1"
in_ns "$T-g" tc filter del dev eth0 egress
# The guest's own TCP (its stack's SYNs, checksum offload on: a partial
# checksum on the veth): XDP runs natively on a veth and its redirect
# drops the skb's checksum state, so XDP completes the checksum and the
# tap gets it complete (flags=0) and verifying.
in_ns "$T-g" ip neigh replace 10.86.0.11 lladdr $MA dev eth0
f3=$(stat "$T-g" xdp_fwd)
in_ns "$T-g" timeout 1.5 bash -c 'exec 3<>/dev/tcp/10.86.0.11/7002' 2>/dev/null
f4=$(stat "$T-g" xdp_fwd)
[ $((f4 - f3)) -ge 1 ] && pass "the guest's TCP (partial checksum): XDP fast path" ||
	fail "the guest's TCP (partial checksum): $((f4 - f3)) frame(s) took the fast path, want 1 or more"
# the end marker, untagged
in_ns "$T-g" "$S" eth0 "$(frame 7999)"
wait "$rp"
grep -q '^frame 7000 .* ok' "$out" && pass "untagged: arrived, checksum verifies" ||
	fail "untagged: did not arrive whole"
grep -q '^frame 7001 ' "$out" && fail "tag in skb metadata: delivered: $(grep '^frame 7001 ' "$out")" ||
	pass "tag in skb metadata: not delivered"
if grep -q '^frame 7002 .* bad' "$out" || ! grep -q '^frame 7002 .* flags=0 .* ok' "$out"; then
	fail "the guest's TCP: not arrived complete and verifying: $(grep '^frame 7002 ' "$out" | head -2)"
else
	pass "the guest's TCP: arrived complete, checksum verifies"
fi
grep -q '^frame 7999 ' "$out" || fail "the end marker never arrived"
rm -f "$out"
exit $((FAILS > 0))

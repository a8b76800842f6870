#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Guests' offloaded frames on every path. A guest's NIC is a tap written and
# read with virtio-net headers as QEMU does (tests/tools/vnettap.c): frames
# with VIRTIO_NET_HDR_F_NEEDS_CSUM (TCP and UDP, IPv4 and IPv6), TSO
# super-frames (TCPv4, TCPv6), complete ones, IPv4 UDP with checksum 0, and
# a VXLAN packet whose inner TCP checksum is partial (outer UDP checksum as
# local checksum offload leaves it, and 0). Each must reach the other side
# with checksums that verify once the receiving tap's virtio-net header is
# honoured (a partial checksum marked partial at the right offset, or a
# complete one), every byte there, through switching, routing and NAT (both
# directions), with XDP off, on (a blocking writer: tun runs every frame
# through generic XDP) and "native" (on, written non-blocking as QEMU
# writes: tun runs native XDP on frames without GSO that fit a page).
#
# And which path each frame took (the sender's xdp-fwd counter): in
# native XDP, switched frames with complete checksums (tcp-full,
# udp-full) take the XDP fast path (bpf/lib/xdpfwd.h), and so do partial
# TCP checksums (XDP completes them, as the redirect loses the skb's
# checksum state); in generic XDP (on) none does (a guest's frame there
# may be a GSO one, whose GSO fields the redirect would carry past tc's
# check: a hostile one of gso_size 1 is dropped in every mode, as
# gso-invalid, as are a frame the sender's ACL drops and one to an
# isolated guest, with nothing forwarded by XDP); every
# other kind and every routed or NATed frame is tc's.
source "$(dirname "$0")/lib.sh"

V=$ROOT/build/vnettap
[ -x "$V" ] || { fail "setup: $V missing (make all)"; exit 1; }
MA=52:54:00:81:00:11 MB=52:54:00:81:00:12 MW=52:54:00:81:00:99
KINDS4=(tcp-csum udp-csum tcp-gso tcp-full udp-full udp-zero vxlan-inner vxlan-inner0)
KINDS6=(tcp-csum udp-csum tcp-gso tcp-full udp-full)

gw_mac() {
	local gif
	gif=$(kvmbpf -j net show "$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
	cat /sys/class/net/"$gif"/address
}

# deliver NAME FROMTAP TOTAP SMAC DMAC SRC DST BASEPORT KIND...: the
# receiver on TOTAP first, then every KIND written into FROMTAP from and to
# port BASEPORT+i (the tag: NAT keeps one of the two), then an end marker;
# each kind must arrive whole (its payload bytes) with nothing failing to
# verify.
deliver() {
	local name=$1 from=$2 to=$3 smac=$4 dmac=$5 src=$6 dst=$7 base=$8
	shift 8
	local out i k want got bytes rp
	out=$(mktemp)
	timeout 30 "$V" recv "$to" 25 >"$out" 2>&1 &
	rp=$!
	for i in $(seq 100); do grep -q ready "$out" && break; sleep 0.05; done
	i=0
	local -A fast=()
	for k in "$@"; do
		local f0
		f0=$(xdp_fwd "$from")
		"$V" send "$from" "$k" "$smac" "$dmac" "$src" "$dst" $((base + i)) $((base + i)) ||
			fail "$name: vnettap send $k"
		fast[$k]=$(($(xdp_fwd "$from") - f0))
		i=$((i + 1))
	done
	# from a port of its own: a guest's tuple is one flow, whichever side
	# opened it
	"$V" send "$from" tcp-full "$smac" "$dmac" "$src" "$dst" $((base + 99)) 7999
	# the end marker arrives after everything before it (one path, in
	# order) and ends the receiver; the timeout only bounds a lost one
	wait "$rp"
	if ! grep -Eq "^frame ($((base + 99))|7999) .* ok" "$out"; then
		fail "$name: the end marker never arrived"
		sed 's/^/# /' "$out"
		kvmbpf -j stats | sed 's/^/# /'
		[ -n "${VNET_DEBUG:-}" ] && read -r -p "debug; enter to go on " _ </dev/tty
		rm -f "$out"
		return
	fi
	i=0
	for k in "$@"; do
		want=100
		[ "$k" = tcp-gso ] && want=3000
		got=$(awk -v p=$((base + i)) '$1 == "frame" && $2 == p' "$out")
		bytes=$(echo "$got" | sed -n 's/.* payload=\([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
		if [ -z "$got" ]; then
			fail "$name: $k: nothing arrived"
		elif echo "$got" | grep -q ' bad'; then
			fail "$name: $k: $(echo "$got" | grep ' bad' | head -1)"
		elif [ "$bytes" != "$want" ]; then
			fail "$name: $k: $bytes payload bytes arrived, $want sent"
		else
			pass "$name: $k ($(echo "$got" | wc -l) frame(s): $(echo "$got" | head -1 | cut -d' ' -f5-7))"
		fi
		want=0
		case " $FAST_KINDS " in *" $k "*) want=1 ;; esac
		if [ "${fast[$k]}" = "$want" ]; then
			pass "$name: $k: $([ "$want" = 1 ] && echo "XDP fast path" || echo "tc's")"
		else
			fail "$name: $k: ${fast[$k]} frame(s) took the XDP fast path, want $want"
		fi
		i=$((i + 1))
	done
	rm -f "$out"
}

# refused NAME KIND TAG REASON [CMD...]: one frame of KIND from a to b
# (ports TAG), which tc drops as REASON (counted on a): it never reaches
# b, and XDP forwarded nothing of a's; CMD (if any) runs before the end
# marker, which must reach b
refused() {
	local name=$1 kind=$2 tag=$3 why=$4 out rp d0 d1 f0 f1
	shift 4
	out=$(mktemp)
	timeout 20 "$V" recv "$T-b" 10 >"$out" 2>&1 &
	rp=$!
	for i in $(seq 100); do grep -q ready "$out" && break; sleep 0.05; done
	d0=$(stat "$T-a" "$why") f0=$(xdp_fwd "$T-a")
	"$V" send "$T-a" "$kind" $MA $MB 10.81.0.11 10.81.0.12 "$tag" "$tag" ||
		fail "$name: vnettap send $kind"
	d1=$(stat "$T-a" "$why") f1=$(xdp_fwd "$T-a")
	[ $# -gt 0 ] && "$@"
	"$V" send "$T-a" tcp-full $MA $MB 10.81.0.11 10.81.0.12 7999 7999
	wait "$rp"
	if ! grep -q "^frame 7999 " "$out"; then
		fail "$name: the end marker never arrived"
	elif grep -q "^frame $tag " "$out"; then
		fail "$name: reached the other guest: $(grep "^frame $tag " "$out" | head -1)"
	elif [ "$d1" != $((d0 + 1)) ] || [ "$f1" != "$f0" ]; then
		fail "$name: $why +$((d1 - d0)), xdp-fwd +$((f1 - f0)) (want +1, +0)"
	else
		pass "$name: dropped by tc ($why), not forwarded by XDP"
	fi
	rm -f "$out"
}

# the sender's frames forwarded by XDP alone
xdp_fwd() {
	kvmbpf -j stats | "$PY" -c "
import json, sys
print(sum(p['xdp_fwd'] for p in json.load(sys.stdin) if p['dev'] == '$1'))"
}

for mode in ${VNET_XDP:-off on native}; do
	xdp=on
	[ "$mode" = off ] && xdp=off
	export VNETTAP_NONBLOCK=0
	[ "$mode" = native ] && VNETTAP_NONBLOCK=1
	kvmbpf reset >/dev/null 2>&1
	for d in "$T-a" "$T-b" "$T-w"; do ip link del "$d" 2>/dev/null; done
	tap_add "$T-a" && tap_add "$T-b" && tap_add "$T-w" || { fail "setup: taps"; exit 1; }

	# switching
	kvmbpf net add lan type bridge >/dev/null &&
	kvmbpf attach "$T-a" net lan mac $MA ip 10.81.0.11 ip fd81::11 xdp $xdp &&
	kvmbpf attach "$T-b" net lan mac $MB ip 10.81.0.12 ip fd81::12 xdp $xdp ||
		fail "xdp $xdp: bridge set-up"
	# generic XDP (a blocking writer's frames) forwards nothing of a
	# guest's: its frames there could be GSO ones (see below)
	FAST_KINDS=""
	[ "$mode" = native ] && FAST_KINDS="tcp-full udp-full tcp-csum"
	deliver "xdp $mode: switched IPv4" "$T-a" "$T-b" $MA $MB 10.81.0.11 10.81.0.12 7000 "${KINDS4[@]}"
	deliver "xdp $mode: switched IPv6" "$T-a" "$T-b" $MA $MB fd81::11 fd81::12 7100 "${KINDS6[@]}"
	FAST_KINDS=""
	# a hostile GSO frame that fits the MTU, gso_size 1, its checksum
	# complete: tun takes it as GSO and runs generic XDP on it, whose
	# redirect would keep its GSO fields; tc drops it (gso-invalid), and the
	# other guest never sees it, in every mode
	refused "xdp $mode: a GSO frame of gso_size 1" tcp-gso-tiny 7050 gso-invalid
	# what tc refuses between two guests, XDP does not forward either
	# (native XDP's fast path would take these frames but for the rule):
	# the sender's ACL, the receiver isolated
	kvmbpf acl add vx >/dev/null &&
	kvmbpf acl rule add vx egress drop proto tcp dport 7051 >/dev/null &&
	kvmbpf acl rule add vx egress allow >/dev/null &&
	kvmbpf acl rule add vx ingress allow >/dev/null &&
	kvmbpf port set "$T-a" acl vx || fail "xdp $mode: acl vx on $T-a"
	refused "xdp $mode: the sender's ACL drops TCP 7051" tcp-full 7051 acl-drop
	kvmbpf port set "$T-a" acl none && kvmbpf acl del vx >/dev/null ||
		fail "xdp $mode: acl vx off"
	kvmbpf port set "$T-b" isolated on || fail "xdp $mode: $T-b isolated"
	refused "xdp $mode: to an isolated guest" tcp-full 7052 isolated \
		kvmbpf port set "$T-b" isolated off
	kvmbpf net del lan >/dev/null || fail "xdp $xdp: net del lan"

	# routed between two peered networks
	kvmbpf net add r1 type routed subnet 10.82.1.0/24 subnet fd82:1::/64 >/dev/null &&
	kvmbpf net add r2 type routed subnet 10.82.2.0/24 subnet fd82:2::/64 >/dev/null &&
	kvmbpf net peer r1 r2 &&
	kvmbpf attach "$T-a" net r1 mac $MA ip 10.82.1.11 ip fd82:1::11 xdp $xdp &&
	kvmbpf attach "$T-b" net r2 mac $MB ip 10.82.2.11 ip fd82:2::11 xdp $xdp ||
		fail "xdp $xdp: routed set-up"
	g=$(gw_mac r1)
	# the receiver answers no ARP/ND: the host's neighbour entry for it
	gif=$(kvmbpf -j net show r2 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
	ip neigh replace 10.82.2.11 lladdr $MB dev "$gif"
	ip neigh replace fd82:2::11 lladdr $MB dev "$gif"
	deliver "xdp $mode: routed IPv4" "$T-a" "$T-b" $MA "$g" 10.82.1.11 10.82.2.11 7200 "${KINDS4[@]}"
	deliver "xdp $mode: routed IPv6" "$T-a" "$T-b" $MA "$g" fd82:1::11 fd82:2::11 7300 "${KINDS6[@]}"
	kvmbpf net del r1 >/dev/null && kvmbpf net del r2 >/dev/null || fail "xdp $xdp: net del r1 r2"

	# NAT: out through the WAN tap (the host's NIC), in by port forwards
	ip addr add 10.83.0.1/24 dev "$T-w"
	ip neigh replace 10.83.0.2 lladdr $MW dev "$T-w"
	kvmbpf net add n type nat subnet 192.168.83.0/24 wan "$T-w" dhcp off >/dev/null &&
	kvmbpf attach "$T-a" net n mac $MA ip 192.168.83.11 xdp $xdp ||
		fail "xdp $xdp: nat set-up"
	g=$(gw_mac n)
	deliver "xdp $mode: NAT out" "$T-a" "$T-w" $MA "$g" 192.168.83.11 10.83.0.2 7400 "${KINDS4[@]}"
	# the tags 7500-7509, 4789 (VXLAN), 7999 (the end marker)
	kvmbpf forward add n proto tcp port 7500-7509 to 192.168.83.11 &&
	kvmbpf forward add n proto udp port 7500-7509 to 192.168.83.11 &&
	kvmbpf forward add n proto udp port 4789 to 192.168.83.11 &&
	kvmbpf forward add n proto tcp port 7999 to 192.168.83.11 ||
		fail "xdp $xdp: forward add"
	hm=$(cat /sys/class/net/"$T-w"/address)
	deliver "xdp $mode: NAT in (forward)" "$T-w" "$T-a" $MW "$hm" 10.83.0.2 10.83.0.1 7500 "${KINDS4[@]}"
	kvmbpf net del n >/dev/null || fail "xdp $xdp: net del n"
done
exit $((FAILS > 0))

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two QEMU guests (virtio-net, the guest kernel's offloads on) on two
# "hosts" (network namespaces, each with its own fabric) joined by a
# bridge network that spans them (vni 100 over the kernel's VXLAN device):
# ping, then 20 MiB by TCP guest to guest across the overlay, sha256
# checked, and TSO super-frames from the guest tunnelled as they are.
source "$(dirname "$0")/../netns/lib.sh"
source "$(dirname "$0")/lib.sh"

MIB=20
U=$T-u
hns() { echo "/run/netns/$T-h$1"; }
bpffs() { echo "${BPFFS}_h$1"; }
kv() { local h=$1; shift; nsenter --net="$(hns "$h")" "$ROOT/build/kvmbpf" --bpffs "$(bpffs "$h")" "$@"; }
teardown() {
	local h p
	for p in "${GUEST_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${GUEST_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for h in 1 2; do
		[ -d "$(bpffs "$h")" ] && kv "$h" reset >/dev/null 2>&1
		rm -rf "$(bpffs "$h")"
	done
	rm -rf "$GUEST_LOGDIR"
	cleanup
}
trap teardown EXIT

netns_add "$U" || { fail "setup: netns"; finish; }
ip -n "$U" link add br0 type bridge && ip -n "$U" link set br0 up
for h in 1 2; do
	netns_add "$T-h$h" &&
		ip -n "$U" link add "u$h" type veth peer name ul netns "$T-h$h" &&
		ip -n "$U" link set "u$h" master br0 && ip -n "$U" link set "u$h" up &&
		ip -n "$T-h$h" addr add "10.93.9.$h/24" dev ul && ip -n "$T-h$h" link set ul up &&
		ip -n "$T-h$h" tuntap add dev tap0 mode tap vnet_hdr &&
		ip -n "$T-h$h" link set tap0 up || fail "setup: host $h"
done
check "h1: net add lan vni 100 vtep 10.93.9.2" kv 1 net add lan type bridge vni 100 vtep 10.93.9.2
check "h2: net add lan vni 100 vtep 10.93.9.1" kv 2 net add lan type bridge vni 100 vtep 10.93.9.1
check "h1: attach the guest's tap" kv 1 attach tap0 net lan mac 52:54:00:93:00:21
check "h2: attach the guest's tap" kv 2 attach tap0 net lan mac 52:54:00:93:00:22

# QEMU in its host's namespace (the tap is there); ip netns exec execs it,
# so the PID is QEMU's own
boot() { # NAME HOST MAC SCRIPT
	ip netns exec "$T-h$2" qemu-system-x86_64 -accel tcg -cpu max -m 512 -smp 1 \
		-nodefaults -no-user-config -display none -no-reboot \
		-serial "file:$GUEST_LOGDIR/$1.log" \
		-kernel "$GUEST_CACHE/vmlinuz" -initrd "$GUEST_CACHE/initrd.img" \
		-append "console=ttyS0 quiet panic=-1 kvb.run=$(printf '%s' "$4" | base64 -w0)" \
		-netdev "tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off" \
		-device "virtio-net-pci,netdev=n0,mac=$3" \
		</dev/null >"$GUEST_LOGDIR/$1.qemu" 2>&1 &
	GUEST_PIDS+=($!)
}
[ -s "$GUEST_CACHE/vmlinuz" ] || { fail "guest image missing: run scripts/guest-image.sh (deps.sh does)"; finish; }

# the network's MTU is the underlay's less VXLAN's 50 bytes
COMMON="$GUEST_DIAG"'
t() { cut -d" " -f1 /proc/uptime; }
ip link set eth0 mtu 1450; ip addr add $ME/24 dev eth0; ip link set eth0 up
waitfor() { i=0; while [ $i -lt 90 ]; do ping -c1 -W1 $1 >/dev/null 2>&1 && return 0; i=$((i+1)); done; return 1; }
'
A="ME=10.93.0.21; $COMMON"'
dd if=/dev/urandom of=/tmp/f bs=1048576 count='$MIB' 2>/dev/null
echo "KVB sent $(sha256sum </tmp/f | cut -c1-64) $(t)"
waitfor 10.93.0.22 && echo "KVB ping ok $(t)"
i=0; while [ $i -lt 60 ]; do nc 10.93.0.22 5003 </tmp/f && break; sleep 1; i=$((i+1)); done
echo "KVB to_guest sent $(t)"'
B="ME=10.93.0.22; $COMMON"'
printf "#!/bin/sh\ncat >/tmp/g\n" >/tmp/recv.sh; chmod +x /tmp/recv.sh
nc -l -p 5003 -e /tmp/recv.sh
echo "KVB from_guest $(sha256sum </tmp/g | cut -c1-64) $(t)"'
boot a 1 52:54:00:93:00:21 "$A"
boot b 2 52:54:00:93:00:22 "$B"

if ! guest_wait_all 300 a b; then
	fail "guests did not finish"
	guest_console a
	guest_console b
fi
[ "$(guest_result a ping)" = ok ] && pass "guest: ping across hosts" || fail "guest: ping across hosts"
sa=$(guest_result a sent)
[ -n "$sa" ] && [ "$(guest_result b from_guest)" = "$sa" ] &&
	pass "guest: TCP $MIB MiB guest on h1 to guest on h2 over VXLAN, sha256" ||
	fail "guest: sha256 '$(guest_result b from_guest)' want '$sa'"
rxp=$(kv 1 -j stats tap0 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["rx_packets"])')
rxb=$(kv 1 -j stats tap0 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["rx_bytes"])')
[ "$rxp" -gt 0 ] && [ $((rxb / rxp)) -gt 1514 ] &&
	pass "guest: TSO super-frames went into the tunnel (avg $((rxb / rxp)) bytes)" ||
	fail "guest: no GSO frames from the guest ($rxb bytes in $rxp packets)"
finish

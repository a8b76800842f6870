#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A QEMU guest whose tap QEMU itself creates and hands to scripts/qemu-ifup
# (and qemu-ifdown on exit), as an operator would run it. The guest reaches
# the LAN from its own address; from a forged one it gets nothing through,
# and the counters say why. When QEMU exits, nothing of the port remains.
source "$(dirname "$0")/../netns/lib.sh"
source "$(dirname "$0")/lib.sh"

behind "$T-up" "$T-lan" 10.92.1.2/24
kvmbpf net add lan type bridge uplink "$T-up" || fail "net add"

MAC=52:54:00:92:01:21
S='ip addr add 10.92.1.21/24 dev eth0; ip link set eth0 up
i=0; ok=no; while [ $i -lt 60 ]; do ping -c1 -W1 10.92.1.2 >/dev/null 2>&1 && { ok=yes; break; }; i=$((i+1)); done
echo "KVB own $ok"
ip addr add 10.92.1.99/24 dev eth0
if ping -c2 -W1 -I 10.92.1.99 10.92.1.2 >/dev/null 2>&1; then echo "KVB forged through"; else echo "KVB forged blocked"; fi
ip link set eth0 address 52:54:00:92:01:ee
if ping -c2 -W1 10.92.1.2 >/dev/null 2>&1; then echo "KVB mac through"; else echo "KVB mac blocked"; fi
sleep 5	# the host reads the counters while the port still exists'

export KVMBPF="$ROOT/build/kvmbpf" KVMBPF_BPFFS="$BPFFS" KVMBPF_NET=lan
export KVMBPF_ATTACH_ARGS="mac $MAC ip 10.92.1.21"
guest_boot_netdev q "tap,id=n0,ifname=$T-q,script=$ROOT/scripts/qemu-ifup,downscript=$ROOT/scripts/qemu-ifdown,vhost=off" $MAC "$S"
guest_wait_key q mac 180 || fail "guest did not finish"
spoof_ip=$(stat "$T-q" spoof-ip) spoof_mac=$(stat "$T-q" spoof-mac)
guest_wait q 30 || fail "guest did not power off"
guest_exit q || fail "QEMU did not exit"

[ "$(guest_result q own)" = yes ] && pass "guest: reaches the LAN from its address" ||
	fail "guest: own address: '$(guest_result q own)'"
[ "$(guest_result q forged)" = blocked ] && pass "guest: forged IP gets nothing through" ||
	fail "guest: forged IP: '$(guest_result q forged)'"
[ "${spoof_ip:-0}" -gt 0 ] && pass "guest: spoof-ip counted ($spoof_ip)" ||
	fail "guest: spoof-ip not counted"
[ "$(guest_result q mac)" = blocked ] && pass "guest: forged MAC gets nothing through" ||
	fail "guest: forged MAC: '$(guest_result q mac)'"
[ "${spoof_mac:-0}" -gt 0 ] && pass "guest: spoof-mac counted ($spoof_mac)" ||
	fail "guest: spoof-mac not counted"
check_not "qemu-ifdown detached the port" kvmbpf port show "$T-q"
check_not "the tap is gone with QEMU" ip link show "$T-q"
check "no stale port left in the fabric" sh -c \
	"[ \"\$(bpftool -j map dump pinned $BPFFS/kvb_port | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 1 ]"
finish

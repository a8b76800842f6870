#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Boot with a late WAN: `load` of a saved nat network whose WAN device
# exists but has no IPv4 address yet succeeds; once the address appears
# (no kvmbpf command in between), the guest's new flows are translated to
# it. The systemd unit orders itself after network-online.target.
source "$(dirname "$0")/lib.sh"

scratch
# a process that runs (an exited one may linger as a zombie where PID 1
# does not reap)
alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

behind "$T-w" "$T-wan" 10.82.9.2/24 10.82.9.1/24
netns_add "$T-g1"
guest_link "$T-g1" "$T-g1"
in_ns "$T-g1" ip addr add 192.168.82.11/24 dev eth0
in_ns "$T-g1" ip route add default via 192.168.82.1
kvmbpf net add n type nat subnet 192.168.82.0/24 wan "$T-w" dhcp off || fail "net add"
kvmbpf attach "$T-g1" net n ip 192.168.82.11 || fail "attach"
kvmbpf save >"$TMP/saved" || fail "save"
kvmbpf reset || fail "reset"

# "boot": the WAN device is there, its address is not
ip addr flush dev "$T-w"
out=$("$ROOT/build/kvmbpf" --bpffs "$BPFFS" load "$TMP/saved" 2>&1)
rc=$?
[ $rc -eq 0 ] && pass "load with an address-less WAN succeeds" || fail "load: rc $rc: $out"
grep -q "wan $T-w has no IPv4 address yet" <<<"$out" && pass "load says the WAN has no address yet" ||
	fail "load's message: $out"
check "net show -j: no nat_address yet" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j net show n | grep -q '\"nat_address\":null'"
check_not "no way out before the WAN has an address" ping4 "$T-g1" 10.82.9.2
gw_if=$(kvmbpf -j net show n | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
wpid=$(cut -d" " -f1 "/run/kvmbpf/$gw_if.wanwait" 2>/dev/null)

# the address comes (DHCP on the WAN, say); no kvmbpf command runs
ip addr add 10.82.9.1/24 dev "$T-w"
ok=no
for i in $(seq 30); do
	ping4 "$T-g1" 10.82.9.2 >/dev/null 2>&1 && { ok=yes; break; }
done
[ $ok = yes ] && pass "the guest reaches the WAN once it has an address" ||
	fail "the guest does not reach the WAN after the address came"
seen=$(seen_from "$T-wan" 10.82.9.2 8082 "$T-g1")
[ "$seen" = 10.82.9.1 ] && pass "new flows are translated to the WAN's new address" ||
	fail "the WAN saw '$seen', not 10.82.9.1"
check "net show -j: nat_address is the WAN's" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j net show n | grep -q '\"nat_address\":\"10.82.9.1\"'"
# the watcher noticed the address by itself (rtnetlink), and stays: the
# WAN's next address (a DHCP renewal that changes it) is followed too,
# with no command
[ -n "$wpid" ] && alive "$wpid" && pass "the watcher ($wpid) stays with the network" ||
	fail "watcher: '$wpid' is not running"
ip addr flush dev "$T-w"
ip addr add 10.82.9.3/24 dev "$T-w"
ok=no
for i in $(seq 40); do
	"$ROOT/build/kvmbpf" --bpffs "$BPFFS" -j net show n |
		grep -q '"nat_address":"10.82.9.3"' && { ok=yes; break; }
	sleep 0.25
done
[ $ok = yes ] && pass "with no command, nat_address follows the WAN's new address" ||
	fail "nat_address did not follow the WAN to 10.82.9.3"

# a network deleted while it waits takes its waiter along
ip link add "$T-w2" type veth peer name "$T-w2p" && LINK_LIST+=("$T-w2") && ip link set "$T-w2" up
kvmbpf net add m type nat subnet 192.168.83.0/24 wan "$T-w2" dhcp off || fail "net add m"
m_if=$(kvmbpf -j net show m | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
mpid=$(cut -d" " -f1 "/run/kvmbpf/$m_if.wanwait" 2>/dev/null)
alive "$mpid" && pass "net add m: a waiter runs ($mpid)" ||
	fail "net add m: no waiter"
kvmbpf net del m || fail "net del m"
for i in $(seq 40); do alive "$mpid" || break; sleep 0.05; done
check_not "net del m: its waiter is gone" alive "$mpid"
check_not "net del m: no state left" test -e "/run/kvmbpf/$m_if.wanwait"

unit=$ROOT/scripts/kvmbpf.service
check "systemd unit: after network-online.target" grep -qx 'After=network-online.target' "$unit"
check "systemd unit: wants network-online.target" grep -qx 'Wants=network-online.target' "$unit"
check "systemd unit: stop kills no daemon of the fabric's" grep -qx 'KillMode=process' "$unit"
finish

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One NIC for both, libvirt's usual pair: a bridge network on the host's
# NIC and nat networks out through that same NIC (one without `wan`, one
# naming it). The bridge's uplink is then the nat networks' way out too
# (KVB_PORT_F_NAT_WAN); when the bridge goes, the NIC becomes their WAN
# port; when the nat networks go, nothing of theirs stays on it.
#
#   root ns: $T-up 10.92.0.1/24 (the host's NIC, the bridge's uplink)
#   $T-lan:  eth0 10.92.0.2/24 (the LAN)
#   bridge "lan": $T-b1 10.92.0.11    nat "n": $T-n1 192.168.79.11
#                                     nat "m" (wan $T-up): $T-m1 192.168.81.11
source "$(dirname "$0")/lib.sh"

# nic_left_clean WHEN: no program of the fabric on the NIC, and the host
# reaches the LAN through it
nic_left_clean() {
	check_not "$1: nothing of the fabric left on the NIC" sh -c \
		"tc filter show dev $T-up ingress 2>/dev/null | grep -q bpf"
	check "$1: the host reaches the LAN" ping -n -c 1 -W 2 10.92.0.2
}

behind "$T-up" "$T-lan" 10.92.0.2/24 10.92.0.1/24
check "net add lan type bridge uplink (the host's NIC)" \
	kvmbpf net add lan type bridge uplink "$T-up"
netns_add "$T-b1"
guest_link "$T-b1" "$T-b1"
ip -n "$T-b1" addr add 10.92.0.11/24 dev eth0
check "attach a bridge guest" kvmbpf attach "$T-b1" net lan ip 10.92.0.11
check "net add n type nat (any route), through the bridge's uplink" \
	kvmbpf net add n type nat subnet 192.168.79.0/24
net_guest "$T-n1" n 192.168.79.11 192.168.79.1 || fail "attach n1"
check "net add m type nat wan (the bridge's uplink) wan-xdp on" \
	kvmbpf net add m type nat subnet 192.168.81.0/24 wan "$T-up" wan-xdp on
net_guest "$T-m1" m 192.168.81.11 192.168.81.1 || fail "attach m1"

check "net show -j n: the bridge's uplink is one of its WAN devices" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j net show n | grep -q '\"wan_devices\":\[[^]]*\"$T-up\"'"
check "the bridge guest reaches the LAN" ping4 "$T-b1" 10.92.0.2
check "the host reaches the LAN" ping -n -c 1 -W 2 10.92.0.2
check "nat guest n1 reaches the LAN through the bridge's uplink" ping4 "$T-n1" 10.92.0.2
check "nat guest m1 (wan the uplink) reaches the LAN" ping4 "$T-m1" 10.92.0.2
check "TCP 20 MiB n1 to the LAN, sha256" tcp_sha "$T-n1" "$T-lan" 10.92.0.2 20
# a bridged VM (a router VM, say) answers a nat guest through the host's
# MAC: its replies come back into the uplink as the fabric's own frames
check "nat guest n1 reaches the bridge guest b1" ping4 "$T-n1" 10.92.0.11
check "TCP 5 MiB n1 to the bridge guest b1, sha256" tcp_sha "$T-n1" "$T-b1" 10.92.0.11 5
peer=$(seen_from "$T-lan" 10.92.0.2 8092 "$T-n1")
[ "$peer" = 10.92.0.1 ] && pass "the LAN sees n1 as the host's address" ||
	fail "the LAN saw n1 as '$peer'"
check "the host's own TCP to the LAN still works" sh -c "
	ip netns exec $T-lan timeout 5 nc -l -p 8093 > /tmp/$T.tcp &
	sleep 0.3; echo host-tcp | nc -w 2 10.92.0.2 8093; wait
	grep -q host-tcp /tmp/$T.tcp; r=\$?; rm -f /tmp/$T.tcp; exit \$r"
check "the bridge guest and the LAN still talk (TCP 5 MiB, sha256)" tcp_sha "$T-b1" "$T-lan" 10.92.0.2 5
check_not "the LAN cannot reach a nat guest" ping4 "$T-lan" 192.168.79.11

# The NIC deleted and made again under its name (a driver reloaded): the
# next upkeep hooks it again, as the nat network's WAN (m names it) and
# the bridge's uplink (t119), and everything reaches the LAN again
# (the LAN as it was: its station keeps its MAC)
lanmac=$(ip -n "$T-lan" -br link show eth0 | awk '{print $3}')
ip link del "$T-up"
kvmbpf gc >/dev/null 2>&1
ip link add "$T-up" type veth peer name eth0 netns "$T-lan" &&
	ip -n "$T-lan" link set eth0 address "$lanmac" &&
	ip addr add 10.92.0.1/24 dev "$T-up" && ip link set "$T-up" up &&
	ip -n "$T-lan" link set eth0 up && ip -n "$T-lan" addr add 10.92.0.2/24 dev eth0 ||
	fail "the NIC made again"
out=$(kvmbpf gc 2>&1 >/dev/null)
grep -q "network lan: its uplink $T-up is back" <<<"$out" &&
	pass "gc: the NIC made again is the bridge's uplink again, said" ||
	fail "gc after the NIC was made again: '$out'"
check "... the bridge guest reaches the LAN again" ping4 "$T-b1" 10.92.0.2
check "... nat guest n1 reaches the LAN again" ping4 "$T-n1" 10.92.0.2
check "... nat guest m1 (wan the NIC) reaches the LAN again" ping4 "$T-m1" 10.92.0.2
check "... the host reaches the LAN" ping -n -c 1 -W 2 10.92.0.2
check "... a second gc changes nothing" sh -c "[ -z \"\$(\"$ROOT/build/kvmbpf\" --bpffs $BPFFS gc 2>&1 >/dev/null)\" ]"

# The bridge goes: the NIC becomes the nat networks' WAN port.
check "net del lan" kvmbpf net del lan
check "after the bridge: the NIC, m's WAN port, has m's XDP (wan-xdp on)" sh -c \
	"ip -d link show $T-up | grep -q 'prog/xdp'"
check "after the bridge: n1 still reaches the LAN" ping4 "$T-n1" 10.92.0.2
check "after the bridge: m1 still reaches the LAN" ping4 "$T-m1" 10.92.0.2
check "after the bridge: the host reaches the LAN" ping -n -c 1 -W 2 10.92.0.2
check "net del m" kvmbpf net del m
check "net del n" kvmbpf net del n
nic_left_clean "after the first round"

# The other way round: the nat network first (its WAN port on the NIC),
# the bridge after (the WAN port becomes its uplink, NAT's way out still).
check "net add n again (any route): the NIC is its WAN port" \
	kvmbpf net add n type nat subnet 192.168.79.0/24
kvmbpf attach "$T-n1" net n ip 192.168.79.11 || fail "attach n1 again"
# the new gateway interface has another MAC than the old one's
ip -n "$T-n1" neigh flush all
check "n1 reaches the LAN through the WAN port" ping4 "$T-n1" 10.92.0.2
check "net add lan again: the nat network's WAN port becomes the bridge's uplink" \
	kvmbpf net add lan type bridge uplink "$T-up"
check "attach the bridge guest again" kvmbpf attach "$T-b1" net lan ip 10.92.0.11
check "n1 still reaches the LAN" ping4 "$T-n1" 10.92.0.2
check "the bridge guest reaches the LAN" ping4 "$T-b1" 10.92.0.2
check "the host reaches the LAN" ping -n -c 1 -W 2 10.92.0.2
check "net del n" kvmbpf net del n
check "net del lan" kvmbpf net del lan
nic_left_clean "at the end"
finish

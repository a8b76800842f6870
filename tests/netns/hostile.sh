#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Hostile traffic: crafted frames written into a tap behind a virtio-net
# header (as QEMU would), and into a veth, by a guest with spoofcheck on.
# For every frame the verdict is asserted through the fabric's counters:
# dropped under the named reason and delivered nowhere, or delivered to the
# victim and nowhere else. Legitimate traffic must flow afterwards.
#
#   lan (bridge): uplink $T-up -> namespace $T-lan (10.93.0.2), host 10.93.0.1
#                 $T-atk  tap, attacker, 52:54:00:93:00:10, 10.93.0.10, fd93::10
#                 $T-vic  tap, victim,   52:54:00:93:00:11, 10.93.0.11,
#                         fd93::11 (no reader)
#                 $T-av   veth attacker (namespace $T-av, same identity rules)
#                 $T-vg   veth guest with a real stack (namespace $T-vg)
#   other (bridge): $T-oth tap 52:54:00:93:00:99
source "$(dirname "$0")/lib.sh"

AM=52:54:00:93:00:10 VM=52:54:00:93:00:11 OM=52:54:00:93:00:99
AVM=52:54:00:93:00:20

# No IPv6 anywhere but in the crafted frames: router solicitations, MLD and
# DAD would otherwise be flooded to the victim and blur its counter.
quiet() { in_ns "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; }
netns_add "$T-lan" && quiet "$T-lan"
ip link add "$T-up" type veth peer name eth0 netns "$T-lan"
sysctl -qw net.ipv6.conf."$T-up".disable_ipv6=1
LINK_LIST+=("$T-up")
ip link set "$T-up" up
ip -n "$T-lan" link set eth0 up
ip -n "$T-lan" addr add 10.93.0.2/24 dev eth0
ip addr add 10.93.0.1/24 dev "$T-up"
kvmbpf net add lan type bridge uplink "$T-up" || fail "net add lan"
kvmbpf net add other type bridge || fail "net add other"
for t in atk vic oth; do
	ip tuntap add dev "$T-$t" mode tap vnet_hdr && LINK_LIST+=("$T-$t")
	ip link set "$T-$t" up
done
kvmbpf attach "$T-atk" net lan mac $AM ip 10.93.0.10 ip fd93::10 || fail "attach atk"
kvmbpf attach "$T-vic" net lan mac $VM ip 10.93.0.11 ip fd93::11 || fail "attach vic"
kvmbpf attach "$T-oth" net other mac $OM || fail "attach oth"
netns_add "$T-av" && quiet "$T-av"
guest_link "$T-av" "$T-av"
ip link set "$T-av" mtu 3000
in_ns "$T-av" ip link set eth0 mtu 3000 address $AVM
kvmbpf attach "$T-av" net lan mac $AVM ip 10.93.0.20 ip fd93::20 || fail "attach av"
netns_add "$T-vg" && quiet "$T-vg"
guest_link "$T-vg" "$T-vg"
in_ns "$T-vg" ip addr add 10.93.0.30/24 dev eth0
kvmbpf attach "$T-vg" net lan || fail "attach vg"
# Quiet victims: no stack behind the taps, so every counted delivery is ours.
# Teach the fabric where the victim lives (a frame from it).
"$ROOT/build/sendraw" --tap "$T-vic" "ffffffffffff$(echo $VM | tr -d :)88b5$(printf '00%.0s' {1..46})"

check "legit before: guest to LAN" ping4 "$T-vg" 10.93.0.2

barrage() { # HOW PORT MAC IP4 IP6
	KVMBPF="${K[*]}" SENDRAW="$ROOT/build/sendraw" "$PY" \
		"$ROOT/tests/tools/barrage.py" "$1" "$2" "$3" "$4" "$5" \
		"$T-vic" $VM "$T-oth" $OM "$T-up"
}

barrage tap "$T-atk" $AM 10.93.0.10 fd93::10
barrage veth "$T-av" $AVM 10.93.0.20 fd93::20

# A zero-length frame never enters: the tap refuses it.
check_not "tap: zero-length frame refused by the tap" \
	"$ROOT/build/sendraw" --tap "$T-atk" "" 1

# Still working, for the real stack and for the attacker's own identity.
check "legit after: guest to LAN" ping4 "$T-vg" 10.93.0.2
check "legit after: host to guest" ping -n -c 1 -W 2 10.93.0.30
v0=$(stat "$T-vic" tx_packets)
"$ROOT/build/sendraw" --tap "$T-atk" "$(cd "$ROOT/tests/tools" &&
	"$PY" -c "import craft; print(craft.legit('$AM', '10.93.0.10', '$VM').hex())")"
v1=$(stat "$T-vic" tx_packets)
[ $((v1 - v0)) = 1 ] && pass "legit after: attacker's own frame delivered" ||
	fail "legit after: victim +$((v1 - v0))"
check "stats -j carries spoof reasons" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j stats $T-atk | grep -q '\"spoof-mac\":1'"
finish

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# XDP asked for on a device whose driver has no native XDP: `net set NAME
# wan-xdp on` (a nat network's WAN) and `net set NAME uplink-xdp on` (a
# bridge network's uplink), each a Linux bridge device holding the host's
# address (a bridge has no native XDP, and the program XDP runs there is
# bound to its device, which the kernel runs in native mode only); and
# `port set DEV ... xdp on` on a guest port that is a macvlan. The
# command fails in one line naming the device, its driver and why; the
# network is exactly as it was (its other settings given on the same
# line not applied, a vtep added on that line not taken into kvb_vtep,
# `net show -j` and `save` the same, no XDP on the device) and still
# works: the guest's flows through the NAT go on, a new one is made, the
# LAN is reached through the uplink. (The message was the kernel's
# bare "Operation not supported", or "Invalid argument" where the device
# was asked in generic mode.)
#
#   root ns: $T-bw (bridge, 10.96.2.1/24) -- $T-wv (its port) <-> eth0 of
#            $T-wan 10.96.2.2/24; nat network n (192.168.96.0/24, wan
#            $T-bw), guest $T-g1 192.168.96.11 on port $T-p1
#            $T-bu (bridge, no address) -- $T-uv <-> eth0 of $T-lan
#            10.96.3.2/24; bridge network b (uplink $T-bu), guest $T-g2
#            10.96.3.11 on port $T-p2
source "$(dirname "$0")/lib.sh"

MG1=52:54:00:96:00:11
MG2=52:54:00:96:00:12

# bridge DEV: a Linux bridge, up, LINK_LIST'd
bridge_dev() {
	ip link add "$1" type bridge && LINK_LIST+=("$1") &&
		ip link set "$1" type bridge stp_state 0 forward_delay 0 &&
		ip link set "$1" up
}

setup() {
	bridge_dev "$T-bw" && ip addr add 10.96.2.1/24 dev "$T-bw" &&
		behind "$T-wv" "$T-wan" 10.96.2.2/24 &&
		ip link set "$T-wv" master "$T-bw" &&
		in_ns "$T-wan" ip route add default via 10.96.2.1 &&
		bridge_dev "$T-bu" &&
		behind "$T-uv" "$T-lan" 10.96.3.2/24 &&
		ip link set "$T-uv" master "$T-bu" &&
		netns_add "$T-g1" && guest_link "$T-g1" "$T-p1" &&
		in_ns "$T-g1" ip link set eth0 address $MG1 &&
		in_ns "$T-g1" ip addr add 192.168.96.11/24 dev eth0 &&
		in_ns "$T-g1" ip route add default via 192.168.96.1 &&
		netns_add "$T-g2" && guest_link "$T-g2" "$T-p2" &&
		in_ns "$T-g2" ip link set eth0 address $MG2 &&
		in_ns "$T-g2" ip addr add 10.96.3.11/24 dev eth0 &&
		kvmbpf net add n type nat subnet 192.168.96.0/24 wan "$T-bw" \
			dhcp off vni 96 vtep 10.96.9.9 &&
		kvmbpf attach "$T-p1" net n mac $MG1 ip 192.168.96.11 &&
		kvmbpf net add b type bridge uplink "$T-bu" &&
		kvmbpf attach "$T-p2" net b mac $MG2
}
setup >/dev/null 2>&1 || { fail "setup"; exit 1; }

# xdp_on DEV: the device runs an XDP program
xdp_on() { ip -d link show dev "$1" | grep -q 'prog/xdp'; }

# the hosts the overlay takes frames from (kvb_vtep), one a line
vteps() {
	bpftool -j map dump pinned "$BPFFS/kvb_vtep" | "$PY" -c '
import json, sys
print(sorted(json.dumps(e.get("formatted", e)["key"], sort_keys=True)
             for e in json.load(sys.stdin)))'
}

# refused NAME NET SETTING DEV EXTRA...: `net set NET EXTRA... SETTING on`
# fails naming DEV, its driver and the cause, and changes nothing
refused() {
	local name=$1 net=$2 setting=$3 dev=$4 out rc show0 show1 save0 save1
	shift 4
	show0=$(kvmbpf -j net show "$net") save0=$(kvmbpf save) vt0=$(vteps)
	out=$(kvmbpf net set "$net" "$@" "$setting" on 2>&1)
	rc=$?
	show1=$(kvmbpf -j net show "$net") save1=$(kvmbpf save) vt1=$(vteps)
	[ $rc -ne 0 ] && pass "$name: refused" ||
		fail "$name: net set succeeded: $out"
	case $out in
	"kvmbpf: net set: $net: $setting on: device $dev: its driver (bridge) has no native XDP support"*)
		pass "$name: the message names the device, its driver and why" ;;
	*) fail "$name: message: $out" ;;
	esac
	[ "$(printf '%s' "$out" | wc -l)" -eq 0 ] &&
		pass "$name: one line" || fail "$name: more than one line: $out"
	[ "$show0" = "$show1" ] && pass "$name: net show -j unchanged" ||
		fail "$name: net show -j changed: $show0 -> $show1"
	[ "$save0" = "$save1" ] && pass "$name: save unchanged" ||
		fail "$name: save changed: $(diff <(echo "$save0") <(echo "$save1"))"
	[ "$vt0" = "$vt1" ] && pass "$name: the overlay's vteps unchanged" ||
		fail "$name: kvb_vtep changed: $vt0 -> $vt1"
	xdp_on "$dev" && fail "$name: XDP left on $dev" ||
		pass "$name: no XDP on $dev"
}

# --- wan-xdp on a nat network whose WAN is a Linux bridge
check "nat: guest reaches the WAN" ping4 "$T-g1" 10.96.2.2
flows0=$(kvmbpf -j ct show net n | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
refused "wan-xdp" n wan-xdp "$T-bw" ct-max 5 vtep-add 10.96.9.8
[ "$(kvmbpf -j net show n | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["ct_max"])')" != 5 ] &&
	pass "wan-xdp: ct-max of the failed command not applied" ||
	fail "wan-xdp: ct-max 5 applied by a failed net set"
flows1=$(kvmbpf -j ct show net n | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$flows0" -ge 1 ] && [ "$flows0" = "$flows1" ] &&
	pass "wan-xdp: the network's flows kept ($flows1)" ||
	fail "wan-xdp: flows $flows0 before, $flows1 after"
check "wan-xdp: the guest still reaches the WAN" ping4 "$T-g1" 10.96.2.2
src=$(seen_from "$T-wan" 10.96.2.2 7701 "$T-g1")
[ "$src" = 10.96.2.1 ] && pass "wan-xdp: a new TCP flow translated" ||
	fail "wan-xdp: the WAN saw '$src', want 10.96.2.1"
check "wan-xdp off is accepted" kvmbpf net set n wan-xdp off

# net add with wan-xdp on there: refused as net set is, nothing made
links0=$(ip -o link show | wc -l)
out=$(kvmbpf net add d type nat subnet 192.168.97.0/24 wan "$T-bw" dhcp off \
	wan-xdp on 2>&1)
rc=$?
case "$rc $out" in
"1 kvmbpf: net add: device $T-bw: its driver (bridge) has no native XDP support"*)
	pass "net add wan-xdp on: refused, the device and its driver named" ;;
*) fail "net add wan-xdp on: exit $rc: $out" ;;
esac
check_not "net add wan-xdp on: no network d" kvmbpf net show d
[ "$(ip -o link show | wc -l)" = "$links0" ] &&
	pass "net add wan-xdp on: no device left" ||
	fail "net add wan-xdp on: devices $links0 -> $(ip -o link show | wc -l)"

# --- uplink-xdp on a bridge network whose uplink is a Linux bridge
check "bridge: guest reaches the LAN" ping4 "$T-g2" 10.96.3.2
refused "uplink-xdp" b uplink-xdp "$T-bu" acl-ct-max 77
check "uplink-xdp: the guest still reaches the LAN" ping4 "$T-g2" 10.96.3.2
check "uplink-xdp off is accepted" kvmbpf net set b uplink-xdp off

# --- a macvlan or macvtap is no guest's port: its guest sends straight
# out of the lower device, past the port's tc ingress (every check)
ip link add "$T-ml" type veth peer name "$T-mp" && LINK_LIST+=("$T-ml") &&
	ip link set "$T-ml" up && ip link set "$T-mp" up &&
	ip link add "$T-mv" link "$T-mp" type macvlan mode bridge &&
	LINK_LIST+=("$T-mv") && ip link set "$T-mv" up ||
	fail "setup: a macvlan"
for kind in macvlan macvtap; do
	dev=$T-mv
	[ $kind = macvtap ] && { ip link add link "$T-mp" name "$T-mt" type macvtap &&
		LINK_LIST+=("$T-mt") && ip link set "$T-mt" up; dev=$T-mt; }
	out=$(kvmbpf attach "$dev" net b mac 52:54:00:96:00:23 2>&1) &&
		fail "attach of a $kind: accepted" ||
		case $out in
		"kvmbpf: attach: $dev is a $kind device: a guest's port is a tap"*"past every check)")
			pass "attach of a $kind: refused, and says why" ;;
		*) fail "attach of a $kind: message: $out" ;;
		esac
	check_not "... and it is no port" kvmbpf port show "$dev"
done
ip link del "$T-mt" 2>/dev/null
ip link del "$T-mv"

# --- port set ... xdp on, a guest port XDP cannot take (a veth whose MTU
# is above a page): the command's other settings (a new MAC, an address)
# not applied either
MV=52:54:00:96:00:21
ip link set "$T-ml" mtu 9000 && ip link set "$T-mp" mtu 9000 &&
	kvmbpf attach "$T-ml" net b mac $MV >/dev/null ||
	fail "setup: a guest port with MTU 9000"
# the port's identity, and the MAC table's entries naming it, without ages
ident() {
	kvmbpf -j port show "$T-ml" | "$PY" -c 'import json, sys
p = json.load(sys.stdin)
print(json.dumps({k: v for k, v in p.items() if "age" not in k}, sort_keys=True))'
	kvmbpf -j fdb show net b | "$PY" -c 'import json, sys
print(sorted(e["mac"] for e in json.load(sys.stdin) if e.get("dev") == sys.argv[1]))' "$T-ml"
}
id0=$(ident)
out=$(kvmbpf port set "$T-ml" mac 52:54:00:96:00:22 ip 10.96.3.22 xdp on 2>&1)
rc=$?
id1=$(ident)
[ $rc -ne 0 ] && pass "port set xdp on: refused" ||
	fail "port set xdp on: succeeded: $out"
case $out in
"kvmbpf: port set: device $T-ml: its MTU (or its peer's) is too large for XDP"*)
	pass "port set xdp on: the message names the device and why" ;;
*) fail "port set xdp on: message: $out" ;;
esac
[ "$id0" = "$id1" ] && pass "port set xdp on: the port and its MAC entries unchanged" ||
	fail "port set xdp on: changed: $id0 -> $id1"
xdp_on "$T-ml" && fail "port set xdp on: XDP left on $T-ml" ||
	pass "port set xdp on: no XDP on $T-ml"
check "port set: the guest still reaches the LAN" ping4 "$T-g2" 10.96.3.2

finish

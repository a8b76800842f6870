#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The host is safe from the fabric: a nat or routed subnet that overlaps
# an address or a route of the host (or another fabric's network) is
# refused unless 'force' is given; attach refuses what is not a guest's
# device (loopback, bridges, enslaved devices, the fabric's own
# interfaces, a device holding the host's address, a non-Ethernet tun,
# a device with a plain ingress qdisc or a VLAN or macvlan on top);
# detach restores every setting attach changed; a port address outside
# its nat or routed network is refused. The host's addresses and routes
# here come from documentation ranges no other test uses.
source "$(dirname "$0")/lib.sh"

# A second fabric (another pin directory), reset on exit like the first.
BPFFS2=${BPFFS}_2
K2=("$ROOT/build/kvmbpf" --bpffs "$BPFFS2")
kvmbpf2() { "${K2[@]}" "$@"; }
LO6=$(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6)
# (a blackhole route has no device that takes it along: removed here)
trap 'sysctl -qw net.ipv6.conf.lo.disable_ipv6=$LO6; ip route del blackhole 198.18.64.0/20 2>/dev/null; [ -d "$BPFFS2" ] && "${K2[@]}" reset >/dev/null 2>&1; rm -rf "$BPFFS2"; cleanup' EXIT

# The host's side: a LAN on $T-h (198.51.100.254/24, 2001:db8:15::fe/64),
# networks routed through it (203.0.113.0/24, 2001:db8:150::/48), an
# address on a device that is down (198.18.15.1/24: no connected route),
# and a WAN for the nat networks.
behind "$T-h" "$T-lan" 198.51.100.2/24 198.51.100.254/24
ip -6 addr add 2001:db8:15::fe/64 dev "$T-h" nodad
ip -n "$T-lan" -6 addr add 2001:db8:15::2/64 dev eth0 nodad
ip route add 203.0.113.0/24 via 198.51.100.2
ip -6 route add 2001:db8:150::/48 via 2001:db8:15::2
ip link add "$T-d" type veth peer name "$T-dp"
LINK_LIST+=("$T-d")
ip addr add 198.18.15.1/24 dev "$T-d"
behind "$T-w" "$T-wan" 10.99.15.2/24 10.99.15.1/24

# --- overlap with the host's addresses and routes -----------------------
expect_err "nat over a connected IPv4 route: refused, names the interface" \
	"subnet 198.51.100.0/24 overlaps 198.51.100.0/24 on $T-h (use 'force'" \
	kvmbpf net add o1 type nat subnet 198.51.100.0/24 wan "$T-w"
expect_err "routed inside a connected route: refused" \
	"overlaps 198.51.100.0/24 on $T-h" \
	kvmbpf net add o2 type routed subnet 198.51.100.128/25
expect_err "routed around a connected route: refused" \
	"overlaps .* on $T-h" \
	kvmbpf net add o3 type routed subnet 198.51.0.0/16
expect_err "routed over a connected IPv6 route: refused" \
	"subnet 2001:db8:15::/64 overlaps 2001:db8:15::/64 on $T-h" \
	kvmbpf net add o4 type routed subnet 10.15.8.0/24 subnet 2001:db8:15::/64
expect_err "IPv6 inside a route via a gateway: refused" \
	"overlaps 2001:db8:150::/48 on $T-h" \
	kvmbpf net add o5 type routed subnet 2001:db8:150:1::/64
expect_err "nat inside a route via a gateway: refused" \
	"overlaps 203.0.113.0/24 on $T-h" \
	kvmbpf net add o6 type nat subnet 203.0.113.0/25 wan "$T-w"
expect_err "an address on a device that is down: refused" \
	"overlaps 198.18.15.1/32 on $T-d" \
	kvmbpf net add o7 type routed subnet 198.18.15.0/24
ip route add blackhole 198.18.64.0/20
expect_err "inside a blackhole route (an IPAM block, an aggregate): refused" \
	"overlaps 198.18.64.0/20" \
	kvmbpf net add o8 type routed subnet 198.18.65.0/24
ip route add 198.18.80.0/24 via 198.18.90.1 dev "$T-h" onlink
expect_err "a subnet that holds a route's gateway (onlink): refused" \
	"overlaps 198.18.90.1/32 on $T-h" \
	kvmbpf net add o9 type nat subnet 198.18.90.0/24 wan "$T-w"
# an ECMP route's every next hop counts (IPv4 and IPv6), and a nexthop
# object's (`ip nexthop`, a route's nhid): before, only a route's single
# gateway did, and a default route over two onlink next hops lost one
ip route add 198.18.81.0/24 nexthop via 198.18.91.1 dev "$T-h" onlink \
	nexthop via 198.18.92.1 dev "$T-w" onlink
expect_err "a subnet that holds an ECMP route's second next hop: refused" \
	"overlaps 198.18.92.1/32 on $T-w" \
	kvmbpf net add o10 type routed subnet 198.18.92.0/24
ip -6 route add 2001:db8:160::/48 nexthop via 2001:db8:16::1 dev "$T-h" onlink \
	nexthop via 2001:db8:17::1 dev "$T-w" onlink
expect_err "an IPv6 subnet that holds an ECMP route's next hop: refused" \
	"overlaps 2001:db8:17::1/128 on $T-w" \
	kvmbpf net add o11 type routed subnet 2001:db8:17::/64
nhid=$((20000 + $$ % 10000))
ip nexthop add id "$nhid" via 198.18.93.1 dev "$T-h" onlink
expect_err "a subnet that holds a nexthop object's gateway: refused" \
	"overlaps 198.18.93.1/32 on $T-h" \
	kvmbpf net add o12 type routed subnet 198.18.93.0/24
ip nexthop del id "$nhid"
check_not "nothing of the refused networks is left" sh -c \
	"'$ROOT/build/kvmbpf' --bpffs '$BPFFS' net show | grep -q ."
check "a subnet the host does not use: accepted" \
	kvmbpf net add n type nat subnet 192.168.15.0/24 wan "$T-w" dhcp off
check "a routed network next to it: accepted" \
	kvmbpf net add r type routed subnet 10.15.1.0/24 subnet fd15:1::/64
expect_err "the same fabric: overlap named by network" "overlaps network n" \
	kvmbpf net add n2 type nat subnet 192.168.15.0/25 wan "$T-w"
gh=$(kvmbpf -j net show n | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
expect_err "another fabric's nat network: refused, names its gateway" \
	"overlaps 192.168.15.0/24 on $gh" \
	kvmbpf2 net add n type nat subnet 192.168.15.0/24 wan "$T-w"
expect_err "another fabric's IPv6 routed subnet: refused" \
	"overlaps fd15:1::/64 on " \
	kvmbpf2 net add r type routed subnet fd15:1::/64
check "force: an overlapping routed network is created" \
	kvmbpf net add f type routed subnet 198.51.100.128/25 \
	subnet 2001:db8:15:0:8000::/65 force
check "force: net show says so" sh -c "
	'$ROOT/build/kvmbpf' --bpffs '$BPFFS' -j net show f | grep -q '\"force\":true'"
check "force: save keeps the word, load takes it back" sh -c "
	s=\$(mktemp); K='$ROOT/build/kvmbpf --bpffs $BPFFS'
	\$K save >\$s && grep -q '^net add f type routed .* force$' \$s &&
	\$K net del f && \$K load \$s >/dev/null && \$K net show f >/dev/null;
	r=\$?; rm -f \$s; exit \$r"
check "force: a nat network too" \
	kvmbpf net add fn type nat subnet 203.0.113.128/25 wan "$T-w" dhcp off force
expect_err "force is for nat and routed networks" "force is for nat and routed" \
	kvmbpf net add fb type bridge force

# --- what attach must not take -------------------------------------------
kvmbpf net add b type bridge || fail "net add b"
lo6=$LO6
expect_err "attach lo: refused" "loopback" kvmbpf attach lo net b
[ "$(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6)" = "$lo6" ] &&
	ip -6 addr show dev lo | grep -q '::1/128' &&
	pass "attach lo: the host's IPv6 on lo is untouched" ||
	fail "attach lo: lo's IPv6 changed"
# without the fix lo is a port now: give the host its IPv6 back at once
kvmbpf detach lo >/dev/null 2>&1
sysctl -qw net.ipv6.conf.lo.disable_ipv6="$lo6"
ip link add "$T-br" type bridge && LINK_LIST+=("$T-br")
ip link add "$T-s" type veth peer name "$T-sp" && LINK_LIST+=("$T-s")
ip link set "$T-s" master "$T-br"
expect_err "attach a bridge: refused" "$T-br is a bridge device" \
	kvmbpf attach "$T-br" net b
expect_err "attach a bridge's port: refused" "$T-s is enslaved to $T-br" \
	kvmbpf attach "$T-s" net b
expect_err "a bridge's port as an uplink: refused" "$T-s is enslaved to $T-br" \
	kvmbpf net add u type bridge uplink "$T-s"
expect_err "lo as an uplink: refused" "loopback" \
	kvmbpf net add u type bridge uplink lo
expect_err "lo as a WAN: refused" "wan lo is the loopback" \
	kvmbpf net add u type routed subnet 10.15.9.0/24 wan lo
expect_err "a bridge's port as a WAN: refused" "wan $T-s is enslaved" \
	kvmbpf net add u type routed subnet 10.15.9.0/24 wan "$T-s"
if ip link add "$T-bo" type bond 2>/dev/null; then
	LINK_LIST+=("$T-bo")
	expect_err "attach a bond: refused" "$T-bo is a bond device" \
		kvmbpf attach "$T-bo" net b
else
	echo "NOTE hostsafety: this kernel has no bonding (ip link add type bond fails): bonds untested, bridges stand for masters"
fi
gp=$(kvmbpf -j port show | "$PY" -c '
import json, sys
print([p["dev"] for p in json.load(sys.stdin) if p["role"] == "gateway" and p["net"] == "n"][0])')
expect_err "attach a gateway interface (host end): refused" \
	"$gh is the gateway interface of network n" kvmbpf attach "$gh" net b
expect_err "attach a gateway port: refused" "$gp is the gateway port of network n" \
	kvmbpf attach "$gp" net b
expect_err "attach a WAN device: refused" "$T-w is the WAN device of network n" \
	kvmbpf attach "$T-w" net b
expect_err "another fabric's gateway interface: refused" \
	"$gh is a kvmbpf gateway interface" \
	kvmbpf2 net add u type bridge uplink "$gh"
expect_err "a device holding the host's address: refused" \
	"$T-h holds the host's address 198.51.100.254/24" kvmbpf attach "$T-h" net b
ip tuntap add "$T-tun" mode tun && LINK_LIST+=("$T-tun")
expect_err "a tun (not a tap) device: refused" "$T-tun is not an Ethernet device" \
	kvmbpf attach "$T-tun" net b
check "a tun device as a nat network's WAN: accepted (a layer-3 WAN, natl3.sh)" \
	kvmbpf net add nt type nat subnet 192.168.251.0/24 wan "$T-tun"
check "net del of it" kvmbpf net del nt
check_not "nothing of the fabric left on the tun" sh -c \
	"tc filter show dev $T-tun ingress 2>/dev/null | grep -q bpf"
# a plain ingress qdisc (libvirt's for a <bandwidth> inbound limit) has
# one block: kvmbpf's egress program would replace its ingress one there
ip link add "$T-iq" type veth peer name "$T-iqp" && LINK_LIST+=("$T-iq")
ip link set "$T-iq" up
tc qdisc add dev "$T-iq" ingress
# (libvirt's filter polices; this kernel may have no act_police)
tc filter add dev "$T-iq" parent ffff: protocol all prio 49 u32 match u32 0 0 \
	classid 1:1
expect_err "a tap with an ingress qdisc: refused, names it" \
	"$T-iq has an 'ingress' qdisc (tc qdisc show dev $T-iq); kvmbpf needs clsact" \
	kvmbpf attach "$T-iq" net b
check_not "... no kvmbpf program in its ingress qdisc" sh -c \
	"tc filter show dev $T-iq ingress | grep -q kvb_"
check "... the admin's filter stays" sh -c \
	"tc filter show dev $T-iq ingress | grep -q 'pref 49 u32'"
check_not "... and it is no port" kvmbpf port show "$T-iq"
expect_err "an uplink with an ingress qdisc: refused" \
	"$T-iq has an 'ingress' qdisc" kvmbpf net add iq type bridge uplink "$T-iq"
check_not "... no network left" kvmbpf net show iq
# a WAN has an ingress program only: at home in the ingress qdisc
check "a WAN with an ingress qdisc: accepted" \
	kvmbpf net add iq type routed subnet 10.15.9.0/24 wan "$T-iq"
check "... its one program in the ingress qdisc" sh -c \
	"tc filter show dev $T-iq ingress | grep -q kvb_tc_ingress"
check_not "... no egress program there" sh -c \
	"tc filter show dev $T-iq ingress | grep -q kvb_tc_egress"
check "net del iq" kvmbpf net del iq
check_not "... nothing of kvmbpf left on the device" sh -c \
	"tc filter show dev $T-iq ingress | grep -q kvb_"
check "... the ingress qdisc and its filter stay" sh -c \
	"tc filter show dev $T-iq ingress | grep -q 'pref 49 u32'"
# an operator's filter of another kind at tc preference 1, which
# kvmbpf's program needs: refused, the filter and what to do named (t94:
# a bare "Invalid argument")
ip link add "$T-p1" type veth peer name "$T-p1p" && LINK_LIST+=("$T-p1")
ip link set "$T-p1" up
tc qdisc add dev "$T-p1" clsact
tc filter add dev "$T-p1" ingress pref 1 protocol ip u32 match u32 0 0 classid 1:1
expect_err "a tap with another filter at tc preference 1: refused, names it" \
	"another filter (not bpf) holds tc preference 1 there.*tc filter show dev $T-p1 ingress.*preference 2 or later" \
	kvmbpf attach "$T-p1" net b
check "... the operator's filter stays" sh -c \
	"tc filter show dev $T-p1 ingress | grep -q 'pref 1 u32'"
check_not "... and it is no port" kvmbpf port show "$T-p1"
expect_err "as a WAN: refused likewise" "holds tc preference 1 there" \
	kvmbpf net add p1 type routed subnet 10.15.8.0/24 wan "$T-p1"
check_not "... no network left" kvmbpf net show p1
tc filter del dev "$T-p1" ingress pref 1
tc filter add dev "$T-p1" ingress pref 2 protocol ip u32 match u32 0 0 classid 1:1
check "the operator's filter at preference 2: attach takes 1 beside it" kvmbpf attach "$T-p1" net b
check "... both there" sh -c \
	"tc filter show dev $T-p1 ingress | grep -q 'pref 2 u32' && tc filter show dev $T-p1 ingress | grep -q 'pref 1 bpf'"
check "detach" kvmbpf detach "$T-p1"
# tc ingress runs before the VLAN demux and macvlan's rx_handler: a guest
# port's program would take the host's traffic on the devices on top
ip link add "$T-mv" type veth peer name "$T-mvp" && LINK_LIST+=("$T-mv")
ip link set "$T-mv" up
ip link add "$T-mvc" link "$T-mv" type macvlan mode bridge
ip addr add 198.18.16.1/24 dev "$T-mvc"
ip link set "$T-mvc" up
expect_err "a device with a macvlan on top: refused, names it" \
	"$T-mv has the macvlan device $T-mvc on top of it" \
	kvmbpf attach "$T-mv" net b
ip link del "$T-mvc"
# (another VM's macvtap: no address of the host, still not the guest's)
ip link add link "$T-mv" name "$T-mvt" type macvtap
expect_err "a device with a macvtap on top (no address): refused" \
	"$T-mv has the macvtap device $T-mvt on top of it" \
	kvmbpf attach "$T-mv" net b
check_not "... and it is no port" kvmbpf port show "$T-mv"
check_not "... no kvmbpf program on it" sh -c \
	"tc filter show dev $T-mv ingress 2>/dev/null | grep -q kvb_"
ip link del "$T-mvt"
if ip link add link "$T-mv" name "$T-mv.7" type vlan id 7 2>/dev/null; then
	expect_err "a device with a VLAN on top: refused" \
		"$T-mv has the vlan device $T-mv.7 on top of it" \
		kvmbpf attach "$T-mv" net b
	check "the host's NIC with a VLAN on top as an uplink: accepted" \
		kvmbpf net add mv type bridge uplink "$T-mv"
	check "net del of it" kvmbpf net del mv
	ip link del "$T-mv.7"
else
	echo "NOTE hostsafety: this kernel has no 8021q (ip link add type vlan fails): VLANs on top untested, macvlan and macvtap stand for them"
fi
ip link add "$T-mvc" link "$T-mv" type macvlan mode bridge
check "the host's NIC with a macvlan on top as an uplink: accepted" \
	kvmbpf net add mv type bridge uplink "$T-mv"
check "net del of it" kvmbpf net del mv
ip link del "$T-mvc"
check "the device with nothing on top any more: attach accepted" \
	kvmbpf attach "$T-mv" net b
kvmbpf detach "$T-mv"
netns_add "$T-g1"
guest_link "$T-g1" "$T-g1"
kvmbpf attach "$T-g1" net b || fail "attach g1"
kvmbpf2 net add b type bridge || fail "fabric 2: net add b"
expect_err "another fabric's port: refused" "carries another kvmbpf fabric's program" \
	kvmbpf2 attach "$T-g1" net b
check "a bridge as an uplink (often the host's NIC): accepted" \
	kvmbpf net add ub type bridge uplink "$T-br"
check "net del of it" kvmbpf net del ub

# --- detach restores what attach changed ---------------------------------
# snap DEV: every setting of DEV that attach could touch
snap() {
	local d=$1 f
	ip -d link show dev "$d" | sed 1s/^[0-9]*://
	tc qdisc show dev "$d"
	tc filter show dev "$d" ingress; tc filter show dev "$d" egress
	ethtool -k "$d" 2>&1
	for f in /proc/sys/net/ipv4/conf/"$d"/* /proc/sys/net/ipv6/conf/"$d"/*; do
		echo "$f $(cat "$f" 2>/dev/null)"
	done
}
netns_add "$T-g2"
ip link add "$T-g2" type veth peer name eth0 netns "$T-g2" && LINK_LIST+=("$T-g2")
ip link set "$T-g2" up
sysctl -qw net.ipv6.conf."$T-g2".disable_ipv6=0
before=$(snap "$T-g2")
kvmbpf attach "$T-g2" net b || fail "attach g2"
[ "$(cat /proc/sys/net/ipv6/conf/"$T-g2"/disable_ipv6)" = 1 ] &&
	pass "attach: the host's IPv6 is off on the port" ||
	fail "attach: disable_ipv6 not set"
kvmbpf detach "$T-g2" || fail "detach g2"
after=$(snap "$T-g2")
[ "$(cat /proc/sys/net/ipv6/conf/"$T-g2"/disable_ipv6)" = 0 ] &&
	pass "detach: disable_ipv6 back to 0" || fail "detach: disable_ipv6 left at 1"
[ "$before" = "$after" ] && pass "detach: every setting as before attach" ||
	fail "detach: settings differ: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ')"
# already off before attach: stays off after detach
sysctl -qw net.ipv6.conf."$T-g2".disable_ipv6=1
kvmbpf attach "$T-g2" net b && kvmbpf detach "$T-g2" || fail "attach/detach g2"
[ "$(cat /proc/sys/net/ipv6/conf/"$T-g2"/disable_ipv6)" = 1 ] &&
	pass "detach: a device whose IPv6 was off stays off" ||
	fail "detach: turned IPv6 on on a device that had it off"
# an uplink: promiscuity and every other setting back as before
ip link add "$T-u" type veth peer name "$T-up2" && LINK_LIST+=("$T-u")
ip link set "$T-u" up
before=$(snap "$T-u")
kvmbpf net add up type bridge uplink "$T-u" || fail "net add up"
kvmbpf net del up || fail "net del up"
after=$(snap "$T-u")
[ "$before" = "$after" ] && pass "uplink: every setting as before net add" ||
	fail "uplink: settings differ: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ')"
# another's tc filter on the clsact kvmbpf created (an admin's, another
# tool's, added after attach): detach takes kvmbpf's filter, not the
# clsact with theirs
kvmbpf attach "$T-g2" net b || fail "attach g2 (foreign filter)"
tc filter add dev "$T-g2" egress prio 20 bpf obj "$ROOT/build/vlanpush.bpf.o" \
	sec tc da || fail "setup: a foreign tc filter"
kvmbpf detach "$T-g2" || fail "detach g2 (foreign filter)"
check "detach: another's tc filter on the clsact kvmbpf made stays" sh -c \
	"tc filter show dev $T-g2 egress | grep -q vlanpush"
check_not "detach: kvmbpf's own filter is gone" sh -c \
	"tc filter show dev $T-g2 ingress | grep -q kvb_tc"
tc qdisc del dev "$T-g2" clsact

# --- a port's address belongs to its network ----------------------------
expect_err "nat: an address outside the subnet: refused" \
	"ip 10.50.0.5 is outside network n (192.168.15.0/24)" \
	kvmbpf attach "$T-g2" net n ip 10.50.0.5
expect_err "nat: the gateway's address: refused" "ip 192.168.15.1 is the gateway" \
	kvmbpf attach "$T-g2" net n ip 192.168.15.1
expect_err "nat: the broadcast address: refused" "not a host address" \
	kvmbpf attach "$T-g2" net n ip 192.168.15.255
expect_err "nat: an IPv6 address (the network has none): refused" \
	"ip 2001:db8::5 is outside network n (it has no IPv6 subnet)" \
	kvmbpf attach "$T-g2" net n ip 2001:db8::5
expect_err "routed: IPv4 outside: refused" "ip 10.15.2.5 is outside network r" \
	kvmbpf attach "$T-g2" net r ip 10.15.2.5
expect_err "routed: IPv6 outside: refused" "ip fd15:2::5 is outside network r (fd15:1::/64)" \
	kvmbpf attach "$T-g2" net r ip fd15:2::5
rgw=$(kvmbpf -j net show r | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
rll=$(ip -6 -br addr show dev "$rgw" scope link | awk '{print $3}' | cut -d/ -f1)
expect_err "routed: the gateway's link-local: refused" "ip $rll is the gateway's link-local" \
	kvmbpf attach "$T-g2" net r ip "$rll"
check_not "nothing of the refused attaches is left" kvmbpf port show "$T-g2"
check "routed: addresses inside, and a link-local: accepted" \
	kvmbpf attach "$T-g2" net r ip 10.15.1.5 ip fd15:1::5 ip fe80::5
expect_err "port set: an address outside: refused" "ip 10.50.0.6 is outside" \
	kvmbpf port set "$T-g2" ip 10.50.0.6
check "port set: an address inside: accepted" kvmbpf port set "$T-g2" ip 10.15.1.6
kvmbpf detach "$T-g2"
check "nat: an address inside: accepted" kvmbpf attach "$T-g2" net n ip 192.168.15.20
kvmbpf detach "$T-g2"
check "bridge (no subnet): any address" kvmbpf attach "$T-g2" net b ip 10.50.0.5

# --- the host's own addresses on a bridge's uplink are no guest's --------
# A guest (spoofcheck, no address given) announcing the host's IPv6 (its
# global and its link-local: an unsolicited NA with the guest's MAC) or
# its IPv4 (a gratuitous ARP) would take the host's traffic from the
# LAN's router: refused, and nothing of them bound to the guest
behind "$T-hu" "$T-hl" 100.64.15.2/24 100.64.15.1/24
behind6 "$T-hu" "$T-hl" 2001:db8:f5::1 2001:db8:f5::2
# a link-local that is no MAC's EUI-64 (NetworkManager's stable-privacy)
ll=fe80::5eed:f5
ip addr add "$ll/64" dev "$T-hu" nodad
# the host's routes through the LAN's router ($T-hl): its next hop is the
# host's too, and no guest's to announce
ip route add 203.0.113.16/28 via 100.64.15.2 dev "$T-hu"
check "net add hb: the host's NIC as a bridge's uplink" \
	kvmbpf net add hb type bridge uplink "$T-hu"
netns_add "$T-hg"
guest_link "$T-hg" "$T-hg"
in_ns "$T-hg" sysctl -qw net.ipv6.conf.eth0.accept_ra=0 net.ipv6.conf.eth0.accept_dad=0
ip -n "$T-hg" link set eth0 address 52:54:00:f5:00:01
check "attach hg (spoofcheck, no address)" kvmbpf attach "$T-hg" net hb mac 52:54:00:f5:00:01
refused() { echo $(( $(stat "$T-hg" savi-conflict) + $(stat "$T-hg" spoof-nd) + $(stat "$T-hg" spoof-arp) + $(stat "$T-hg" spoof-ip) )); }
r0=$(refused)
# una NS MAC R ADDR...: an unsolicited NA for each ADDR from MAC (R: the
# router flag)
una() {
	local ns=$1 mac=$2 r=$3
	shift 3
	in_ns "$ns" "$PY" - "$mac" "$r" "$@" <<'EOP'
import sys
from scapy.all import Ether, IPv6, ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, sendp, conf
conf.verb = 0
me, r = sys.argv[1], int(sys.argv[2])
for a in sys.argv[3:]:
    sendp(Ether(src=me, dst='33:33:00:00:00:01') /
          IPv6(src=a, dst='ff02::1', hlim=255) /
          ICMPv6ND_NA(tgt=a, R=r, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=me),
          iface='eth0')
EOP
}
una "$T-hg" 52:54:00:f5:00:01 0 2001:db8:f5::1 "$ll" 2>/dev/null
in_ns "$T-hg" "$PY" -c "
from scapy.all import Ether, ARP, sendp, conf
conf.verb = 0
me = '52:54:00:f5:00:01'
sendp(Ether(src=me, dst='ff:ff:ff:ff:ff:ff') /
      ARP(op=2, hwsrc=me, psrc='100.64.15.1', hwdst='ff:ff:ff:ff:ff:ff',
          pdst='100.64.15.1'), iface='eth0')" 2>/dev/null
r1=$(refused)
[ $((r1 - r0)) -ge 3 ] && pass "the host's IPv6 (global, link-local $ll) and IPv4 announced by a guest: refused ($((r1 - r0)))" ||
	fail "the host's addresses announced by a guest: $((r1 - r0)) refused of 3"
b=$(kvmbpf -j port show "$T-hg" | "$PY" -c 'import json,sys; print(" ".join(a["ip"] for a in json.load(sys.stdin)["addresses"]))')
case " $b " in
*" 2001:db8:f5::1 "*|*" $ll "*|*" 100.64.15.1 "*) fail "the guest holds a host address: $b" ;;
*) pass "no address of the host is bound to the guest ($b)" ;;
esac
# the host's router on the LAN (the next hop of its routes through the
# uplink): a gratuitous ARP and an unsolicited NA for it from the guest
# would draw the other guests' (and the host's) traffic for it. Held by
# a changing command once the host has resolved it on the LAN (its MAC
# learned behind the uplink)
garp() { # NS MAC ADDR: a gratuitous ARP reply
	in_ns "$1" "$PY" -c "
from scapy.all import Ether, ARP, sendp, conf
conf.verb = 0
sendp(Ether(src='$2', dst='ff:ff:ff:ff:ff:ff') /
      ARP(op=2, hwsrc='$2', psrc='$3', hwdst='ff:ff:ff:ff:ff:ff', pdst='$3'),
      iface='eth0')" 2>/dev/null
}
check "the host reaches its router on the LAN" ping -n -c 1 -W 2 100.64.15.2
check "gc (the upkeep step) holds the router" kvmbpf gc
r0=$(refused)
garp "$T-hg" 52:54:00:f5:00:01 100.64.15.2
r1=$(refused)
[ $((r1 - r0)) -ge 1 ] && pass "the host's router (next hop of its routes via the uplink) announced by a guest: refused ($((r1 - r0)))" ||
	fail "the host's router announced by a guest: $((r1 - r0)) refused of 1"
# the same for IPv6 next hops the host was given statically (no router
# advertisement teaches them): a global one (of a multipath route, as
# ECMP has it) and a link-local one
ip -n "$T-hl" addr add fe80::f5:2/64 dev eth0 nodad
ip -6 route add 2001:db8:f6::/48 nexthop via 2001:db8:f5::2 dev "$T-hu" \
	nexthop via 2001:db8:f5::3 dev "$T-hu"
ip -6 route add 2001:db8:f7::/48 via fe80::f5:2 dev "$T-hu"
check "the host reaches its IPv6 router (global)" ping -6 -n -c 1 -W 2 2001:db8:f5::2
check "the host reaches its IPv6 router (link-local)" ping -6 -n -c 1 -W 2 "fe80::f5:2%$T-hu"
check "gc (the upkeep step) holds the IPv6 routers" kvmbpf gc
r0=$(refused)
una "$T-hg" 52:54:00:f5:00:01 1 2001:db8:f5::2 fe80::f5:2 2>/dev/null
r1=$(refused)
[ $((r1 - r0)) -ge 2 ] && pass "the host's IPv6 next hops via the uplink (global, link-local) announced by a guest: refused ($((r1 - r0)))" ||
	fail "the host's IPv6 next hops announced by a guest: $((r1 - r0)) refused of 2"
# ... but a router VM on the bridge that the host routes through is a
# guest, not the LAN: a next hop a guest port holds (its ip), or whose
# MAC the host's ARP entry gives as a guest's, stays the guest's to
# announce (held for the uplink, the router VM could not answer for it)
netns_add "$T-hr"
guest_link "$T-hr" "$T-hr"
ip -n "$T-hr" link set eth0 address 52:54:00:f5:00:02
check "attach hr (a router VM: ip 100.64.15.60)" \
	kvmbpf attach "$T-hr" net hb mac 52:54:00:f5:00:02 ip 100.64.15.60
ip -n "$T-hr" addr add 100.64.15.60/24 dev eth0
ip route add 203.0.113.32/28 via 100.64.15.60 dev "$T-hu"
check "the host resolves its router VM" ping -n -c 1 -W 2 100.64.15.60
ip neigh replace 100.64.15.61 lladdr 52:54:00:f5:00:01 dev "$T-hu" nud permanent
ip route add 203.0.113.48/28 via 100.64.15.61 dev "$T-hu"
check "gc (the upkeep step) with routes via two guests" kvmbpf gc
# (the holds are owner entries of kvb_addr, which port show does not
# list: judged by what the guests may announce)
h0=$(stat "$T-hr" spoof-arp)
garp "$T-hr" 52:54:00:f5:00:02 100.64.15.60
[ "$(stat "$T-hr" spoof-arp)" = "$h0" ] &&
	pass "a router VM the host routes through (resolved) announces its own address" ||
	fail "the router VM's own address refused: spoof-arp $h0 -> $(stat "$T-hr" spoof-arp)"
r0=$(refused)
garp "$T-hg" 52:54:00:f5:00:01 100.64.15.2
[ "$(refused)" -gt "$r0" ] && pass "... and the LAN's router is still held after that upkeep" ||
	fail "the LAN's router no longer held after the second upkeep"
r0=$(refused)
garp "$T-hg" 52:54:00:f5:00:01 100.64.15.61
r1=$(refused)
[ "$r1" = "$r0" ] && pass "a guest that is the host's next hop (by its MAC) announces its address" ||
	fail "the host's next hop guest refused announcing it ($r0 -> $r1)"
ip route del 203.0.113.48/28 via 100.64.15.61 dev "$T-hu"
ip neigh del 100.64.15.61 dev "$T-hu"
in_ns "$T-hg" ip addr add 100.64.15.50/24 dev eth0
check "the guest's own address on the LAN still works" ping4 "$T-hg" 100.64.15.2

# --- the host takes no routing word from a guest: a gateway interface has
# no IPv6 on a network without it, and takes no RA, SLAAC or redirect on
# one with it (a guest without spoofcheck, as a router VM, sent a
# high-preference RA: the host routed its IPv6 through the guest)
check "net add ra4 (nat, IPv4 only)" kvmbpf net add ra4 type nat subnet 10.97.40.0/24 dhcp off
check "net add ra6 (nat, IPv4 and IPv6)" kvmbpf net add ra6 type nat subnet 10.97.41.0/24 subnet fd97:41::/64 dhcp off
g4=$(kvmbpf -j net show ra4 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
g6=$(kvmbpf -j net show ra6 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
knob() { cat "/proc/sys/net/$1/conf/$2/$3" 2>/dev/null; }
[ "$(knob ipv6 "$g4" disable_ipv6)" = 1 ] && [ -z "$(ip -6 addr show dev "$g4")" ] &&
	pass "an IPv4-only network's gateway interface has no IPv6" ||
	fail "$g4: disable_ipv6 '$(knob ipv6 "$g4" disable_ipv6)', addresses: $(ip -6 -br addr show dev "$g4")"
k6="$(knob ipv6 "$g6" accept_ra)$(knob ipv6 "$g6" autoconf)$(knob ipv6 "$g6" accept_redirects)"
k4="$(knob ipv4 "$g4" accept_redirects)$(knob ipv4 "$g6" accept_redirects)"
[ "$k6" = 000 ] && [ "$k4" = 00 ] &&
	pass "gateway interfaces take no RA, SLAAC or redirect" ||
	fail "gateway knobs: IPv6 accept_ra/autoconf/accept_redirects '$k6', IPv4 accept_redirects '$k4'"
netns_add "$T-rv"
guest_link "$T-rv" "$T-rv"
check "attach a router VM to ra4 (spoofcheck off)" kvmbpf attach "$T-rv" net ra4 spoofcheck off
in_ns "$T-rv" "$PY" - "$(cat /sys/class/net/"$g4"/address)" <<'EOP'
import sys
from scapy.all import (Ether, IPv6, ICMPv6ND_RA, ICMPv6NDOptPrefixInfo,
                       ICMPv6NDOptSrcLLAddr, sendp, conf, get_if_hwaddr)
conf.verb = 0
me = get_if_hwaddr('eth0')
ra = (Ether(src=me, dst='33:33:00:00:00:01') /
      IPv6(src='fe80::bad:1', dst='ff02::1', hlim=255) /
      ICMPv6ND_RA(routerlifetime=1800, prf=1) /
      ICMPv6NDOptSrcLLAddr(lladdr=me) /
      ICMPv6NDOptPrefixInfo(prefix='fd97:66::', prefixlen=64, L=1, A=1,
                            validlifetime=86400, preferredlifetime=14400))
for _ in range(3):	# to all nodes, and to the gateway's MAC
    sendp(ra, iface='eth0')
    sendp(Ether(src=me, dst=sys.argv[1]) / ra[IPv6], iface='eth0')
EOP
sleep 1
check_not "... its RA gave the host no route through it" sh -c \
	"ip -6 route show table all | grep -q 'fe80::bad:1\|fd97:66'"
check_not "... nor an address" sh -c "ip -6 addr show | grep -q 'fd97:66'"
kvmbpf detach "$T-rv" >/dev/null
kvmbpf net del ra4 >/dev/null
kvmbpf net del ra6 >/dev/null
finish

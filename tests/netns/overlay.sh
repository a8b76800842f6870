#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Networks that span hosts (issue 19): three "hosts", each a network
# namespace with its own fabric (its own bpffs directory, entered with
# nsenter: `ip netns exec` would hide the pins), joined by an underlay
# (a Linux bridge in a namespace of its own standing in for the
# physical network). Each host runs the same overlay networks over the
# kernel's VXLAN device; guests are namespaces behind veths.
#
#   underlay 10.90.0.0/24: h1 .1, h2 .2, h3 .3, a stranger x .9
#   b  bridge   vni 100   b1 (h1) b2 (h2) b3 (h3)   10.1.0.0/24 fd01::/64
#   i  internal vni 200   i1 (h1) i2 (h2)           10.1.0.0/24 (the same),
#                         over the underlay's IPv6 (vteps fd90::N, mtu 1430)
#   r  routed   vni 300   r1 (h1) r2 (h2)           10.3.0.0/24 fd03::/64,
#                         gateway 10.3.0.1 / fd03::1 on every host
#   n  nat      vni 400   n1 (h1) n2 (h2)           192.168.40.0/24, dhcp off,
#                         gateway .1 on both; the outside: w 10.90.0.100
#   m  a guest of b that migrates from h1 to h3      10.1.0.50
source "$(dirname "$0")/lib.sh"

U=$T-u
HOSTS=(1 2 3)
hns() { echo "/run/netns/$T-h$1"; }
bpffs() { echo "${BPFFS}_h$1"; }
# kv N ARGS: kvmbpf on host N
kv() { local h=$1; shift; nsenter --net="$(hns "$h")" "$ROOT/build/kvmbpf" --bpffs "$(bpffs "$h")" "$@"; }
in_h() { local h=$1; shift; ip netns exec "$T-h$h" "$@"; }
teardown() {
	local h
	for h in "${HOSTS[@]}"; do
		[ -d "$(bpffs "$h")" ] && kv "$h" reset >/dev/null 2>&1
		rm -rf "$(bpffs "$h")"
	done
	cleanup
}
trap teardown EXIT

# --- the underlay and the hosts --------------------------------------------
netns_add "$U" || { fail "setup: netns"; finish; }
ip -n "$U" link add br0 type bridge && ip -n "$U" link set br0 up
underlay() { # NS ADDR: NS's eth "ul" on the underlay bridge
	ip -n "$U" link add "u$2" type veth peer name ul netns "$1" &&
		ip -n "$U" link set "u$2" master br0 && ip -n "$U" link set "u$2" up &&
		ip -n "$1" addr add "10.90.0.$2/24" dev ul &&
		ip -n "$1" addr add "fd90::$2/64" dev ul nodad &&
		ip -n "$1" link set ul up
}
for h in "${HOSTS[@]}"; do
	netns_add "$T-h$h" && underlay "$T-h$h" "$h" || fail "setup: host $h"
done
# guest NS HOST DEV ADDR4/LEN [ADDR6/LEN] [MAC]: guest NS behind veth DEV of host HOST
guest() {
	local ns=$1 h=$2 dev=$3 a4=$4 a6=${5:-} mac=${6:-}
	netns_add "$ns" || return 1
	ip -n "$T-h$h" link add "$dev" type veth peer name eth0 netns "$ns" || return 1
	in_h "$h" sysctl -qw net.ipv6.conf."$dev".disable_ipv6=1
	[ -n "$mac" ] && ip -n "$ns" link set eth0 address "$mac"
	ip -n "$ns" link set eth0 mtu 1450
	ip -n "$T-h$h" link set "$dev" up && ip -n "$ns" link set eth0 up &&
		ip -n "$ns" addr add "$a4" dev eth0 || return 1
	[ -z "$a6" ] || ip -n "$ns" addr add "$a6" dev eth0 nodad
}
guest "$T-b1" 1 b1 10.1.0.1/24 fd01::1/64 || fail "setup: b1"
guest "$T-b2" 2 b2 10.1.0.2/24 fd01::2/64 || fail "setup: b2"
guest "$T-b3" 3 b3 10.1.0.3/24 fd01::3/64 || fail "setup: b3"
guest "$T-i1" 1 i1 10.1.0.1/24 || fail "setup: i1"
guest "$T-i2" 2 i2 10.1.0.2/24 || fail "setup: i2"
guest "$T-r1" 1 r1 10.3.0.11/24 fd03::11/64 || fail "setup: r1"
guest "$T-r2" 2 r2 10.3.0.12/24 fd03::12/64 || fail "setup: r2"
MM=52:54:00:19:00:50
guest "$T-m" 1 m1 10.1.0.50/24 "" $MM || fail "setup: m"
for g in r1 r2; do ip -n "$T-$g" route add default via 10.3.0.1; done
for g in i1 i2; do ip -n "$T-$g" link set eth0 mtu 1430; done

# the same networks on every host, each listing the other two as vteps
vteps() { local h o; for o in "${HOSTS[@]}"; do [ "$o" = "$1" ] || echo -n " vtep 10.90.0.$o"; done; }
vteps6() { local h o; for o in "${HOSTS[@]}"; do [ "$o" = "$1" ] || echo -n " vtep fd90::$o"; done; }
for h in "${HOSTS[@]}"; do
	# shellcheck disable=SC2046
	check "host $h: net add bridge b vni 100$(vteps "$h")" kv "$h" net add b type bridge vni 100 $(vteps "$h")
	# shellcheck disable=SC2046
	check "host $h: net add internal i vni 200, IPv6 vteps" kv "$h" net add i type internal vni 200 $(vteps6 "$h")
	# shellcheck disable=SC2046
	check "host $h: net add routed r vni 300" kv "$h" net add r type routed subnet 10.3.0.0/24 \
		subnet fd03::/64 vni 300 $(vteps "$h")
done
check "attach b1" kv 1 attach b1 net b ip 10.1.0.1 ip fd01::1
check "attach b2" kv 2 attach b2 net b ip 10.1.0.2 ip fd01::2
check "attach b3" kv 3 attach b3 net b ip 10.1.0.3 ip fd01::3
check "attach i1" kv 1 attach i1 net i
check "attach i2" kv 2 attach i2 net i
check "attach r1" kv 1 attach r1 net r ip 10.3.0.11 ip fd03::11
check "attach r2" kv 2 attach r2 net r ip 10.3.0.12 ip fd03::12
check "attach m (on h1)" kv 1 attach m1 net b mac $MM ip 10.1.0.50

VX=$(kv 1 -j net show b | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["overlay_device"])')
netj() { kv "$1" -j net show "$2" | "$PY" -c 'import json,sys; v=json.load(sys.stdin)[sys.argv[1]]; print(" ".join(map(str,v)) if isinstance(v,list) else v)' "$3"; }
[ "$(netj 1 b mtu)" = 1450 ] && pass "mtu derived from the underlay: 1500 - 50" ||
	fail "mtu derived: $(netj 1 b mtu)"
[ "$(netj 1 i mtu)" = 1430 ] && pass "mtu derived over an IPv6 underlay: 1500 - 70" ||
	fail "mtu derived (IPv6 vteps): $(netj 1 i mtu)"
[ "$(netj 1 b vteps)" = "10.90.0.2 10.90.0.3" ] && pass "net show -j: vteps" ||
	fail "net show -j: vteps '$(netj 1 b vteps)'"
check "one VXLAN device, external, dstport 4789" sh -c \
	"ip -n $T-h1 -d link show $VX | grep -q 'external' && ip -n $T-h1 -d link show $VX | grep -q 'dstport 4789'"
check_not "mtu larger than the underlay carries is refused" kv 1 net add big type bridge vni 999 vtep 10.90.0.2 mtu 1500
check_not "a nat network with DHCP does not span hosts (refused)" kv 1 net add n9 type nat subnet 192.168.99.0/24 vni 998
check_not "a VNI is one network's" kv 1 net add b9 type bridge vni 100
# a bridge network made without a vni joins the overlay by net set, and
# takes what the underlay carries (t112: refused, naming an mtu nobody
# gave); then an IPv6 vtep lowers it again
check "h1: net add lb (bridge, no vni)" kv 1 net add lb type bridge
out=$(kv 1 net set lb vni 150 vtep 10.90.0.2 2>&1) && grep -q "mtu 1500 -> 1450" <<<"$out" &&
	[ "$(netj 1 lb mtu)" = 1450 ] && pass "net set vni on a bridge network: joins, mtu 1450, said" ||
	fail "net set lb vni 150 vtep 10.90.0.2: '$out', mtu $(netj 1 lb mtu)"
check "... and an IPv6 vtep added" kv 1 net set lb vtep-add fd90::2
[ "$(netj 1 lb mtu)" = 1430 ] && pass "... lowers its mtu to 1430" || fail "mtu after an IPv6 vtep: $(netj 1 lb mtu)"
check "h1: net del lb" kv 1 net del lb

# drops DEV REASON / rx DEV on host H
drop() { kv "$1" -j stats "$2" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["drop_reasons"].get(sys.argv[1],0))' "$3"; }

# --- bridge, internal, routed across hosts -------------------------------
check "bridge: b1 (h1) pings b2 (h2), ARP over the overlay" ping4 "$T-b1" 10.1.0.2
check "bridge: b1 (h1) pings b3 (h3)" ping4 "$T-b1" 10.1.0.3
check "bridge: b3 (h3) pings b2 (h2)" ping4 "$T-b3" 10.1.0.2
check "bridge: IPv6, ND over the overlay (b1 -> b2)" ping6 "$T-b1" fd01::2
check "bridge: IPv6 b2 -> b3" ping6 "$T-b2" fd01::3
check "internal (IPv6 underlay): i1 (h1) pings i2 (h2)" ping4 "$T-i1" 10.1.0.2
check "routed: r1 pings its gateway (h1's)" ping4 "$T-r1" 10.3.0.1
check "routed: r2 pings the same gateway address (h2's: anycast)" ping4 "$T-r2" 10.3.0.1
check "routed: r1 (h1) pings r2 (h2)" ping4 "$T-r1" 10.3.0.12
check "routed: IPv6 r1 -> r2" ping6 "$T-r1" fd03::12
check "routed: IPv6 gateway from r2" ping6 "$T-r2" fd03::1

# claim NS IPV4 LLSRC ROUTER TARGET6...: the guest in NS announces IPV4
# (a gratuitous ARP reply) and each TARGET6 (an unsolicited NA with
# override, from LLSRC, router flag ROUTER) as its own, three times
claim() {
	local ns=$1
	shift
	in_ns "$ns" "$PY" - "$@" <<'EOP'
import sys
from scapy.all import (Ether, ARP, IPv6, ICMPv6ND_NA, ICMPv6NDOptDstLLAddr,
                       sendp, get_if_hwaddr, conf)
conf.verb = 0
a4, src, router, targets = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
me = get_if_hwaddr('eth0')
for _ in range(3):
    sendp(Ether(src=me, dst='ff:ff:ff:ff:ff:ff') /
          ARP(op=2, hwsrc=me, psrc=a4, hwdst='ff:ff:ff:ff:ff:ff',
              pdst=a4), iface='eth0')
    for tgt in targets:
        sendp(Ether(src=me, dst='33:33:00:00:00:01') /
              IPv6(src=src, dst='ff02::1', hlim=255) /
              ICMPv6ND_NA(tgt=tgt, R=router, S=0, O=1) /
              ICMPv6NDOptDstLLAddr(lladdr=me), iface='eth0')
EOP
}
# neigh_mac NS ADDR: the MAC NS's neighbour entry for ADDR names
neigh_mac() {
	ip -n "$1" neigh show "$2" | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}'
}
# a guest on h2 without an address of its own (spoofcheck) announcing
# b1's addresses (b1 is on h1): h2 cannot know they are held, h1 does:
# refused on h1's VXLAN device (spoof-arp, spoof-nd), before any of
# h1's guests hears them; b2 announcing its own still passes
guest "$T-bx" 2 bx 10.1.0.99/24 || fail "setup: bx"
check "attach bx (h2, no ip)" kv 2 attach bx net b
a0=$(drop 1 "$VX" spoof-arp) n0=$(drop 1 "$VX" spoof-nd)
claim "$T-bx" 10.1.0.1 fe80::99 0 fd01::1
a1=$(drop 1 "$VX" spoof-arp) n1=$(drop 1 "$VX" spoof-nd)
[ $((a1 - a0)) -ge 1 ] && [ $((n1 - n0)) -ge 1 ] &&
	pass "a guest on h2 claiming h1's guest's addresses: refused on h1 (spoof-arp +$((a1 - a0)), spoof-nd +$((n1 - n0)))" ||
	fail "a guest on h2 claiming h1's guest's addresses: spoof-arp +$((a1 - a0)), spoof-nd +$((n1 - n0))"
in_ns "$T-b2" "$PY" - <<'EOP'
from scapy.all import Ether, ARP, sendp, get_if_hwaddr, conf
conf.verb = 0
me = get_if_hwaddr('eth0')
sendp(Ether(src=me, dst='ff:ff:ff:ff:ff:ff') /
      ARP(op=2, hwsrc=me, psrc='10.1.0.2', hwdst='ff:ff:ff:ff:ff:ff',
          pdst='10.1.0.2'), iface='eth0')
EOP
[ "$(drop 1 "$VX" spoof-arp)" = "$a1" ] &&
	pass "... b2 (h2) announcing its own address is not refused on h1" ||
	fail "... b2's announcement of its own address refused on h1 (spoof-arp $a1 -> $(drop 1 "$VX" spoof-arp))"
# bx's claim made fd01::1 bx's on h2 (first come, h2 knows no better):
# a first claim is no hold against another host, so b1's own neighbour
# discovery (and DAD defence) still reaches h2's guests
ip -n "$T-b2" neigh flush all
check "... b2 (h2) still resolves and reaches b1 at fd01::1 (h2's first-come claim is no hold)" \
	ping6 "$T-b2" fd01::1
# a guest on h2 with spoofcheck off sending as b1 (b1's MAC; b1 is on
# h1): h1 refuses it from the tunnel as it would from a port of its own
# (spoof-mac on the VXLAN device), b1's MAC stays b1's port's (before,
# the frames reached h1's guests as b1's, b1 itself included)
b1mac=$(ip -n "$T-b1" -br link show eth0 | awk '{print $3}')
check "port set bx spoofcheck off (h2)" kv 2 port set bx spoofcheck off
m0=$(drop 1 "$VX" spoof-mac)
in_ns "$T-bx" "$PY" - "$b1mac" <<'EOP'
import sys
from scapy.all import Ether, IP, UDP, sendp, conf
conf.verb = 0
for _ in range(3):
    sendp(Ether(src=sys.argv[1], dst='ff:ff:ff:ff:ff:ff') /
          IP(src='10.1.0.1', dst='10.1.0.255') / UDP(sport=9, dport=9),
          iface='eth0')
EOP
m1=$(drop 1 "$VX" spoof-mac)
expect "bx (h2) sending with b1's MAC: refused on h1 (spoof-mac)" 3 $((m1 - m0))
check "... b1's MAC stays on b1's port on h1" sh -c \
	"nsenter --net=$(hns 1) $ROOT/build/kvmbpf --bpffs $(bpffs 1) fdb show net b | grep -q '$b1mac .*b1'"
check "port set bx spoofcheck on (h2)" kv 2 port set bx spoofcheck on
check "... and b1's own frames still reach h2's guests" ping4 "$T-b1" 10.1.0.2
# probes (RFC 5227's ARP probe from 0.0.0.0, a DAD probe from ::) for
# b1's addresses from bx on h2: h1 refuses them before b1 hears them (its
# DHCP client would decline its lease, its DAD give the address up);
# a probe for an address no port of h1 holds still passes
# probe NS TARGET4 TARGET6: one ARP probe and one DAD probe from NS; prints
# the answers NS heard within 3 s: "arp=MAC na=MAC" (the ARP reply's
# sender MAC for TARGET4, the NA's target link-layer address for TARGET6,
# override set, to all nodes; - for none)
probe() {
	in_ns "$1" "$PY" - "$2" "$3" <<'EOP'
import sys, time
from socket import AF_INET6, inet_pton, inet_ntop
from scapy.all import (Ether, ARP, IPv6, ICMPv6ND_NS, ICMPv6ND_NA,
                       ICMPv6NDOptDstLLAddr, in6_getnsma, in6_getnsmac,
                       sendp, get_if_hwaddr, conf, AsyncSniffer)
conf.verb = 0
t4, t6 = sys.argv[1], sys.argv[2]
me = get_if_hwaddr('eth0')
sn = AsyncSniffer(iface='eth0', filter='arp or icmp6')
sn.start()
time.sleep(0.5)
sendp(Ether(src=me, dst='ff:ff:ff:ff:ff:ff') /
      ARP(op=1, hwsrc=me, psrc='0.0.0.0', hwdst='00:00:00:00:00:00',
          pdst=t4), iface='eth0')
nsma = in6_getnsma(inet_pton(AF_INET6, t6))
sendp(Ether(src=me, dst=in6_getnsmac(nsma)) /
      IPv6(src='::', dst=inet_ntop(AF_INET6, nsma), hlim=255) /
      ICMPv6ND_NS(tgt=t6), iface='eth0')
time.sleep(3)
arp = na = '-'
for p in sn.stop():
    if ARP in p and p[ARP].op == 2 and p[ARP].psrc == t4 and p[Ether].dst == me:
        arp = p[ARP].hwsrc
    if (ICMPv6ND_NA in p and p[ICMPv6ND_NA].tgt == t6 and p[ICMPv6ND_NA].O
            and p[IPv6].dst == 'ff02::1' and ICMPv6NDOptDstLLAddr in p):
        na = p[ICMPv6NDOptDstLLAddr].lladdr
print('arp=%s na=%s' % (arp, na))
EOP
}
# since t115 h1 answers them for b1, into the tunnel: bx hears b1's MAC
# (an ARP reply, an NA to all nodes with override) and would not take
# the address (its DHCP client declines it, its DAD fails)
B1MAC=$(ip -n "$T-b1" -br link show eth0 | awk '{print $3}')
a0=$(drop 1 "$VX" spoof-arp) n0=$(drop 1 "$VX" spoof-nd)
heard=$(probe "$T-bx" 10.1.0.1 fd01::1) || fail "probe: the sender failed"
a1=$(drop 1 "$VX" spoof-arp) n1=$(drop 1 "$VX" spoof-nd)
[ $((a1 - a0)) -eq 1 ] && [ $((n1 - n0)) -eq 1 ] &&
	pass "probes from h2 for h1's guest's addresses: refused on h1 (spoof-arp +1, spoof-nd +1)" ||
	fail "probes from h2 for h1's guest's addresses: spoof-arp +$((a1 - a0)), spoof-nd +$((n1 - n0)), want +1 each"
[ "$heard" = "arp=$B1MAC na=$B1MAC" ] &&
	pass "... and answered for b1 into the tunnel: the prober on h2 hears b1's MAC ($heard)" ||
	fail "... the prober on h2 heard '$heard', want arp=$B1MAC na=$B1MAC (t115)"
heard=$(probe "$T-bx" 10.1.0.77 fd01::77) || fail "probe: the sender failed"
[ "$(drop 1 "$VX" spoof-arp)" = "$a1" ] && [ "$(drop 1 "$VX" spoof-nd)" = "$n1" ] &&
	[ "$heard" = "arp=- na=-" ] &&
	pass "... probes for addresses nobody holds on h1 pass, unanswered" ||
	fail "... probes for free addresses refused or answered on h1 (spoof-arp $a1 -> $(drop 1 "$VX" spoof-arp), spoof-nd $n1 -> $(drop 1 "$VX" spoof-nd), heard '$heard')"
# a real client: bx's kernel taking b1's address with DAD (RFC 4862) hears
# h1's answer for b1 and marks it dadfailed
ip -n "$T-bx" addr add fd01::1/64 dev eth0
for _ in $(seq 40); do
	ip -n "$T-bx" -6 addr show dev eth0 | grep -q 'fd01::1/64.*tentative' || break
	sleep 0.25
done
dad=$(ip -n "$T-bx" -6 addr show dev eth0 | grep 'fd01::1/64')
grep -q dadfailed <<<"$dad" &&
	pass "... bx's own DAD for b1's fd01::1 (h2's kernel) fails: dadfailed" ||
	fail "... bx's own DAD for b1's fd01::1: '$dad', want dadfailed (t115)"
ip -n "$T-bx" addr del fd01::1/64 dev eth0 2>/dev/null
check "detach bx" kv 2 detach bx
# the gateway's addresses are no port's binding, and the gateway is
# anycast: a guest on h2 without spoofcheck (an appliance, trusted on its
# own host) announcing the routed network's gateway (10.3.0.1, fd03::1,
# its link-local) from its own MAC is refused on h1 before r1 hears it,
# so r1's off-subnet traffic never goes to that guest through the tunnel
guest "$T-rx" 2 rx 10.3.0.98/24 || fail "setup: rx"
check "attach rx (h2, spoofcheck off)" kv 2 attach rx net r spoofcheck off
gdev=$(ip -n "$T-h1" -br link | awk '/g3@/ {sub(/@.*/, "", $1); print $1}')
gwll=$(ip -n "$T-h1" -6 -br addr show dev "$gdev" 2>/dev/null | grep -o 'fe80::[0-9a-f:]*')
in_ns "$T-r1" ping -c 1 -W 2 10.3.0.1 >/dev/null
gm0=$(neigh_mac "$T-r1" 10.3.0.1)
a0=$(drop 1 "$VX" spoof-arp) n0=$(drop 1 "$VX" spoof-nd)
claim "$T-rx" 10.3.0.1 fe80::98 1 fd03::1 $gwll
a1=$(drop 1 "$VX" spoof-arp) n1=$(drop 1 "$VX" spoof-nd)
gm1=$(neigh_mac "$T-r1" 10.3.0.1)
[ -n "$gwll" ] && [ $((a1 - a0)) -ge 3 ] && [ $((n1 - n0)) -ge 6 ] &&
	pass "a guest on h2 announcing the routed gateway's addresses: refused on h1 (spoof-arp +$((a1 - a0)), spoof-nd +$((n1 - n0)))" ||
	fail "a guest on h2 announcing the routed gateway's addresses ($gwll): spoof-arp +$((a1 - a0)), spoof-nd +$((n1 - n0))"
[ -n "$gm0" ] && [ "$gm1" = "$gm0" ] &&
	pass "... r1 still has the gateway at its own MAC ($gm1)" ||
	fail "... r1's gateway neighbour: '$gm0' -> '$gm1'"
check "... r1 still reaches r2 through its gateway's subnet" ping4 "$T-r1" 10.3.0.12
# ... and with the gateway's own MAC, which passes from the tunnel as
# every host's gateway's: an RA with router lifetime 0 and a redirect
# from the gateway's link-local, an IPv4 redirect from its address. No
# host's gateway sends these through the tunnel (each speaks to its own
# guests): refused on h1, counted (bb24: r1 lost its IPv6 default
# route, and sent a redirected destination's traffic to rx on h2)
for _ in $(seq 50); do
	[ -n "$(ip -n "$T-r1" -6 route show default)" ] && break; sleep 0.1
done
# the route, its lifetime left aside
dflt6() { ip -n "$T-r1" -6 route show default | sed 's/ expires [0-9]*sec//'; }
dr0=$(dflt6)
[ -n "$dr0" ] || fail "setup: r1 has no IPv6 default route from its gateway's RA"
in_ns "$T-r1" sysctl -qw net.ipv6.conf.eth0.accept_redirects=1
n0=$(drop 1 "$VX" spoof-nd) i0=$(drop 1 "$VX" spoof-ip)
in_ns "$T-rx" "$PY" - "$gm0" "$gwll" "$(ip -n "$T-r1" -br link show eth0 | awk '{print $3}')" <<'EOP'
import sys
from scapy.all import (Ether, IP, ICMP, IPv6, ICMPv6ND_RA, ICMPv6ND_Redirect,
                       ICMPv6NDOptSrcLLAddr, ICMPv6NDOptDstLLAddr,
                       ICMPv6NDOptRedirectedHdr, ICMPv6EchoRequest, raw,
                       sendp, get_if_hwaddr, conf)
conf.verb = 0
gm, gll, r1 = sys.argv[1], sys.argv[2], sys.argv[3]
me = get_if_hwaddr('eth0')
inner6 = IPv6(src='fd03::11', dst='fd09::9') / ICMPv6EchoRequest()
inner4 = IP(src='10.3.0.11', dst='10.9.9.9') / ICMP()
for _ in range(2):
    sendp(Ether(src=gm, dst=r1) / IPv6(src=gll, dst='fd03::11', hlim=255) /
          ICMPv6ND_Redirect(tgt='fe80::98', dst='fd09::9') /
          ICMPv6NDOptDstLLAddr(lladdr=me) /
          ICMPv6NDOptRedirectedHdr(pkt=raw(inner6)), iface='eth0')
    sendp(Ether(src=gm, dst=r1) / IP(src='10.3.0.1', dst='10.3.0.11') /
          ICMP(type=5, code=1, gw='10.3.0.98') / raw(inner4)[:28],
          iface='eth0')
EOP
sleep 0.5
rd6=$(ip -n "$T-r1" -6 route get fd09::9 2>&1)
in_ns "$T-rx" "$PY" - "$gm0" "$gwll" <<'EOP'
import sys
from scapy.all import (Ether, IPv6, ICMPv6ND_RA, ICMPv6NDOptSrcLLAddr,
                       sendp, conf)
conf.verb = 0
gm, gll = sys.argv[1], sys.argv[2]
for _ in range(2):
    sendp(Ether(src=gm, dst='33:33:00:00:00:01') /
          IPv6(src=gll, dst='ff02::1', hlim=255) /
          ICMPv6ND_RA(routerlifetime=0) / ICMPv6NDOptSrcLLAddr(lladdr=gm),
          iface='eth0')
EOP
sleep 0.5
n1=$(drop 1 "$VX" spoof-nd) i1=$(drop 1 "$VX" spoof-ip)
[ $((n1 - n0)) -ge 4 ] && [ $((i1 - i0)) -ge 2 ] &&
	pass "a guest on h2 sending RAs and redirects as the routed gateway (its MAC): refused on h1 (spoof-nd +$((n1 - n0)), spoof-ip +$((i1 - i0)))" ||
	fail "RAs and redirects as the gateway from h2: spoof-nd +$((n1 - n0)) (want 4), spoof-ip +$((i1 - i0)) (want 2)"
expect "... r1 keeps its IPv6 default route" "$dr0" "$(dflt6)"
check_not "... r1 took no IPv6 redirect" grep -q fe80::98 <<<"$rd6"
check "detach rx" kv 2 detach rx
g1=$(ip -n "$T-h1" -br link | awk '/g3@/ {print $3}')
g2=$(ip -n "$T-h2" -br link | awk '/g3@/ {print $3}')
[ -n "$g1" ] && [ "$g1" = "$g2" ] && pass "routed: the gateway's MAC is the same on both hosts ($g2)" ||
	fail "routed: gateway MACs '$g1' '$g2'"
rm1=$(ip -n "$T-r1" -br link show eth0 | awk '{print $3}')
check "fdb show on h2: r1's MAC behind host 10.90.0.1" sh -c \
	"nsenter --net=$(hns 2) $ROOT/build/kvmbpf --bpffs $(bpffs 2) fdb show net r | grep -q '$rm1 .*remote 10.90.0.1'"
check "fdb show -j: remote is a key" sh -c \
	"nsenter --net=$(hns 2) $ROOT/build/kvmbpf --bpffs $(bpffs 2) -j fdb show net r | grep -q '\"remote\":\"10.90.0.1\"'"

# offloads stay on: the guests' veths do TSO and checksum offload
check "offloads on (b1 eth0 tso)" sh -c "ip netns exec $T-b1 ethtool -k eth0 | grep -q 'tcp-segmentation-offload: on'"
# (KVB_OVL_MIB: smaller transfers, for quick runs of a changed datapath)
MIB=${KVB_OVL_MIB:-100}
if tcp_sha "$T-b1" "$T-b2" 10.1.0.2 "$MIB"; then pass "bridge: $MIB MiB TCP b1 (h1) -> b2 (h2), sha256"
else fail "bridge: $MIB MiB TCP b1 -> b2"; fi
if tcp_sha "$T-i2" "$T-i1" 10.1.0.1 "$MIB"; then pass "internal: $MIB MiB TCP i2 (h2) -> i1 (h1) over the IPv6 underlay, sha256"
else fail "internal: $MIB MiB TCP i2 -> i1"; fi
if tcp_sha "$T-r1" "$T-r2" 10.3.0.12 "$MIB"; then pass "routed: $MIB MiB TCP r1 (h1) -> r2 (h2), sha256"
else fail "routed: $MIB MiB TCP r1 -> r2"; fi
# a routed guest whose link is longer than its overlay network (1500,
# the network's 1450, no DHCP to say so): a packet too big for the
# network to a guest on the other host is answered from the gateway,
# fragmentation needed with 1450 (IPv6: packet too big), and TCP goes on
# in smaller segments both ways (bb24 repro2: TCP between two such
# guests stalled for good, counted mtu-exceeded)
ip -n "$T-r1" link set eth0 mtu 1500
ip -n "$T-r2" link set eth0 mtu 1500	# its MSS no smaller either
tb0=$(drop 1 r1 too-big)
out=$(in_ns "$T-r1" ping -M do -s 1472 -c 1 -W 2 10.3.0.12 2>&1)
grep -q "mtu = 1450" <<<"$out" &&
	pass "routed, guest at 1500 over the overlay's 1450: 1500 bytes to r2 (h2) answered, fragmentation needed, mtu 1450" ||
	fail "routed, guest at 1500: ping -M do -s 1472 r2 said '$out'"
out=$(in_ns "$T-r1" ping -6 -M do -s 1452 -c 1 -W 2 fd03::12 2>&1)
grep -q "mtu=1450\|mtu = 1450" <<<"$out" &&
	pass "... IPv6: packet too big, mtu 1450" ||
	fail "... IPv6: ping -M do -s 1452 r2 said '$out'"
[ $(( $(drop 1 r1 too-big) - tb0 )) -ge 2 ] &&
	pass "... counted too-big on r1's port" ||
	fail "... too-big on r1's port: $tb0 -> $(drop 1 r1 too-big)"
in_ns "$T-r1" ip route flush cache
in_ns "$T-r1" ip -6 route flush cache
if tcp_sha "$T-r1" "$T-r2" 10.3.0.12 4; then pass "... 4 MiB TCP r1 -> r2, both at 1500, sha256 (the segments made smaller)"
else fail "... 4 MiB TCP r1 -> r2 with r1 at 1500"; fi
ip -n "$T-r1" link set eth0 mtu 1450
ip -n "$T-r2" link set eth0 mtu 1450

# --- two overlay networks, same subnets: never a leak ---------------------
# b3 (bridge) holds 10.1.0.3; network i has no .3: nothing answers there
check_not "internal: i1 does not reach b3's 10.1.0.3 (other network)" ping4 "$T-i1" 10.1.0.3
check_not "bridge: b1's ARP for 10.1.0.3 never answered from i" sh -c \
	"ip -n $T-i1 neigh show 10.1.0.3 | grep -q lladdr"
i2mac=$(ip -n "$T-i2" -br link show eth0 | awk '{print $3}')
b2mac=$(ip -n "$T-b2" -br link show eth0 | awk '{print $3}')
lladdr() { ip -n "$1" neigh show "$2" | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }'; }
n1=$(lladdr "$T-b1" 10.1.0.2)
n2=$(lladdr "$T-i1" 10.1.0.2)
[ "$n1" = "$b2mac" ] && [ "$n2" = "$i2mac" ] &&
	pass "10.1.0.2 is b2 for b1 and i2 for i1 (same subnet, two networks)" ||
	fail "neighbours of 10.1.0.2: b1 '$n1' (b2 $b2mac), i1 '$n2' (i2 $i2mac)"

# --- trust: a stranger on the underlay, and an unknown VNI ---------------
netns_add "$T-x" && underlay "$T-x" 9
stranger() { # VNI: a kernel VXLAN device of the stranger, sending to h1
	ip -n "$T-x" link del vx 2>/dev/null
	ip -n "$T-x" link add vx type vxlan id "$1" remote 10.90.0.1 dstport 4789 local 10.90.0.9 &&
		ip -n "$T-x" addr add 10.1.0.99/24 dev vx && ip -n "$T-x" link set vx up &&
		in_ns "$T-x" ping -n -c 3 -i 0.2 -W 1 10.1.0.1 >/dev/null 2>&1
	true
}
p0=$(drop 1 "$VX" overlay-unknown-peer)
stranger 100
p1=$(drop 1 "$VX" overlay-unknown-peer)
[ "$p1" -ge $((p0 + 3)) ] && pass "a non-peer's frames on vni 100 dropped, counted overlay-unknown-peer ($p0 -> $p1)" ||
	fail "non-peer: overlay-unknown-peer $p0 -> $p1"
check_not "the stranger reached nobody" sh -c "ip -n $T-x neigh show 10.1.0.1 | grep -q lladdr"
v0=$(drop 1 "$VX" overlay-unknown-vni)
stranger 4242
v1=$(drop 1 "$VX" overlay-unknown-vni)
[ "$v1" -ge $((v0 + 3)) ] && pass "an unknown VNI dropped, counted overlay-unknown-vni ($v0 -> $v1)" ||
	fail "unknown VNI: overlay-unknown-vni $v0 -> $v1"

# --- vtep-del: no more flooding to that host -----------------------------
# bcast FROM: 5 UDP broadcasts (a marker) from FROM; listen NS: got one?
listen() {
	in_ns "$1" timeout 4 "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 9999)); s.settimeout(3)
try:
    while True:
        d, a = s.recvfrom(100)
        if d == b'kvb-flood-$T':
            print('got'); break
except socket.timeout:
    pass" >"$2" &
}
bcast() {
	sleep 0.5
	in_ns "$1" "$PY" -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
for i in range(5):
    s.sendto(b'kvb-flood-$T', ('10.1.0.255', 9999)); time.sleep(0.1)"
}
f2=$(mktemp) f3=$(mktemp)
listen "$T-b2" "$f2"; listen "$T-b3" "$f3"; bcast "$T-b1"; wait
[ -s "$f2" ] && [ -s "$f3" ] && pass "a flood from b1 reaches h2 and h3" ||
	fail "flood before vtep-del: b2 '$(cat "$f2")' b3 '$(cat "$f3")'"
check "h1: net set b vtep-del 10.90.0.3" kv 1 net set b vtep-del 10.90.0.3
[ "$(netj 1 b vteps)" = "10.90.0.2" ] && pass "net show: vtep 10.90.0.3 gone" || fail "vteps '$(netj 1 b vteps)'"
listen "$T-b2" "$f2"; listen "$T-b3" "$f3"; bcast "$T-b1"; wait
[ -s "$f2" ] && [ ! -s "$f3" ] && pass "after vtep-del h1 floods to h2 only" ||
	fail "flood after vtep-del: b2 '$(cat "$f2")' b3 '$(cat "$f3")'"
u0=$(drop 1 "$VX" overlay-unknown-peer)
listen "$T-b1" "$f2"; bcast "$T-b3"; wait
u1=$(drop 1 "$VX" overlay-unknown-peer)
[ ! -s "$f2" ] && [ "$u1" -gt "$u0" ] && pass "h3 is no peer of h1 any more: its frames dropped, counted" ||
	fail "h3 to h1 after vtep-del: b1 '$(cat "$f2")', unknown-peer $u0 -> $u1"
check "h1: net set b vtep-add 10.90.0.3" kv 1 net set b vtep-add 10.90.0.3
listen "$T-b3" "$f3"; bcast "$T-b1"; wait
[ -s "$f3" ] && pass "after vtep-add h3 gets the flood again" || fail "flood after vtep-add"
check "h3 pings b1 again" ping4 "$T-b3" 10.1.0.1

# --- MTU: a frame the underlay no longer carries is counted --------------
ip -n "$T-h1" link set ul mtu 1400
ip -n "$U" link set u1 mtu 1400
check "h1: gc re-reads the underlay" kv 1 gc
[ "$(netj 1 b overlay_mtu)" = 1350 ] && pass "overlay_mtu follows the underlay (1400 - 50)" ||
	fail "overlay_mtu '$(netj 1 b overlay_mtu)'"
t0=$(drop 1 b1 overlay-too-big)
check_not "a 1428-byte packet from b1 does not fit" in_ns "$T-b1" ping -n -c 2 -i 0.2 -W 1 -s 1400 -M do 10.1.0.2
t1=$(drop 1 b1 overlay-too-big)
[ "$t1" -ge $((t0 + 2)) ] && pass "oversized frames counted overlay-too-big ($t0 -> $t1)" ||
	fail "overlay-too-big $t0 -> $t1"
check "a 1300-byte packet still fits" in_ns "$T-b1" ping -n -c 1 -W 2 -s 1300 -M do 10.1.0.2
ip -n "$T-h1" link set ul mtu 1500
ip -n "$U" link set u1 mtu 1500
kv 1 gc >/dev/null

# migrate_m FROM TO: m's NIC (m1) goes from host FROM's namespace to host
# TO's, up there, attached to b on TO, and announces its MAC (RARP, as
# QEMU's announce does)
migrate_m() {
	ip -n "$T-h$1" link set m1 netns "$T-h$2"
	ip -n "$T-h$2" link set m1 up
	in_h "$2" sysctl -qw net.ipv6.conf.m1.disable_ipv6=1
	kv "$2" attach m1 net b mac $MM ip 10.1.0.50 >/dev/null
	in_ns "$T-m" "$PY" -c "
import socket, struct
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('eth0', 0))
mac = bytes.fromhex('${MM//:/}')
rarp = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 3, mac, bytes(4), mac, bytes(4))
s.send(b'\xff' * 6 + mac + struct.pack('!H', 0x8035) + rarp)"
}

# --- migration: m moves from h1 to h3, b2 pings it all along -------------
check "b2 pings m on h1" ping4 "$T-b2" 10.1.0.50
pf=$(mktemp)
in_ns "$T-b2" ping -n -i 0.05 -c 100 -W 1 10.1.0.50 >"$pf" 2>&1 &
ppid=$!
sleep 1.5
# QEMU's migration: the port goes on h1, the same NIC comes up on h3 and
# announces its MAC (RARP, as QEMU's announce does)
kv 1 detach m1 >/dev/null
migrate_m 1 3
wait "$ppid"
sent=$(awk '/transmitted/ {print $1}' "$pf") got=$(awk '/transmitted/ {print $4}' "$pf")
lost=$((sent - got))
# 20 pings a second: at most one second's worth lost
[ "$sent" -eq 100 ] && [ "$lost" -le 20 ] && pass "migration: b2's ping stream lost $lost of $sent (<= 1 s)" ||
	fail "migration: lost $lost of $sent: $(tail -2 "$pf" | tr '\n' ' ')"
check "h2 has m behind h3 now" sh -c \
	"nsenter --net=$(hns 2) $ROOT/build/kvmbpf --bpffs $(bpffs 2) fdb show net b | grep -q '$MM .*remote 10.90.0.3'"
check "b1 (on the old host) reaches m on h3" ping4 "$T-b1" 10.1.0.50
check "h1's entry for m is h3's, not a stale local one" sh -c \
	"nsenter --net=$(hns 1) $ROOT/build/kvmbpf --bpffs $(bpffs 1) fdb show net b | grep -q '$MM .*remote 10.90.0.3'"

# and back to h1, with no detach on h3 (its QEMU went: the device is gone,
# the port and its static MAC entry still there until a command's gc):
# the announcement from h1 still moves the MAC on h3
migrate_m 3 1
check "h3 (port gone, not detached): m's entry moves to h1 on the announcement" sh -c \
	"nsenter --net=$(hns 3) $ROOT/build/kvmbpf --bpffs $(bpffs 3) fdb show net b | grep -q '$MM .*remote 10.90.0.1'"
check "b3 (on h3) reaches m back on h1" ping4 "$T-b3" 10.1.0.50

# --- nat across hosts: each host translates its own guests ---------------
netns_add "$T-w" && underlay "$T-w" 100
guest "$T-n1" 1 n1 192.168.40.11/24 || fail "setup: n1"
guest "$T-n2" 2 n2 192.168.40.12/24 || fail "setup: n2"
for g in n1 n2; do ip -n "$T-$g" route add default via 192.168.40.1; done
expect_err "h1: net add routed with dhcp on and a vni: refused (every host would lease the same addresses)" \
	"spans hosts with 'dhcp off' only" kv 1 net add rd type routed subnet 10.4.0.0/24 dhcp on vni 410 vtep 10.90.0.2
check_not "... and not made" kv 1 net show rd
check "h1: net add nat n vni 400 (dhcp off)" kv 1 net add n type nat subnet 192.168.40.0/24 dhcp off vni 400 vtep 10.90.0.2
check "h2: net add nat n vni 400 (dhcp off)" kv 2 net add n type nat subnet 192.168.40.0/24 dhcp off vni 400 vtep 10.90.0.1
check "attach n1 (h1)" kv 1 attach n1 net n ip 192.168.40.11
check "attach n2 (h2)" kv 2 attach n2 net n ip 192.168.40.12
check "nat: n1 (h1) pings n2 (h2) across the overlay" ping4 "$T-n1" 192.168.40.12
check "nat: n2 pings the gateway (its own host's)" ping4 "$T-n2" 192.168.40.1
check "nat: n1 reaches the outside" ping4 "$T-n1" 10.90.0.100
check "nat: n2 reaches the outside" ping4 "$T-n2" 10.90.0.100
s1=$(seen_from "$T-w" 10.90.0.100 7001 "$T-n1")
s2=$(seen_from "$T-w" 10.90.0.100 7002 "$T-n2")
[ "$s1" = 10.90.0.1 ] && [ "$s2" = 10.90.0.2 ] &&
	pass "nat: each host translates its own guests (the outside sees h1 for n1, h2 for n2)" ||
	fail "nat: the outside saw '$s1' for n1, '$s2' for n2"
# a nat guest's VXLAN packet to another host's vtep port: translated to
# its host's address (h1's, a vtep of h2's networks), it would pass there
# as h1's own tunnel traffic, into any overlay network (here b, which n1
# is not on): refused (nat-vtep), nothing of it reaches h2's network b
vxlan_from_n1() { # DST: a VXLAN packet for network b (vni 100), a frame
	# from an invented MAC to b2
	in_ns "$T-n1" "$PY" - "$1" <<'EOP'
import sys
from scapy.all import Ether, IP, UDP, ICMP, sendp, getmacbyip, conf
from scapy.layers.vxlan import VXLAN
conf.verb = 0
sendp(Ether(dst=getmacbyip('192.168.40.1')) /
      IP(src='192.168.40.11', dst=sys.argv[1]) /
      UDP(sport=40000, dport=4789) / VXLAN(vni=100, flags=8) /
      Ether(src='02:66:66:66:66:66', dst='ff:ff:ff:ff:ff:ff') /
      IP(src='10.1.0.66', dst='10.1.0.2') / ICMP(), iface='eth0')
EOP
}
v0=$(kv 1 -j stats n1 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["drop_reasons"]["nat-vtep"])')
vxlan_from_n1 10.90.0.2
sleep 0.5
v1=$(kv 1 -j stats n1 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["drop_reasons"]["nat-vtep"])')
[ $((v1 - v0)) -ge 1 ] && pass "nat: a guest's VXLAN packet to a vtep is refused (nat-vtep +$((v1 - v0)))" ||
	fail "nat: a guest's VXLAN packet to a vtep: nat-vtep +$((v1 - v0))"
# the host's ephemeral range, changed after net add, is followed by the
# next changing command (h1 is a namespace: its range is its own)
in_h 1 sysctl -qw net.ipv4.ip_local_port_range="20000 40000"
kv 1 gc >/dev/null
hp=$(kv 1 -j net show n | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["host_ports"])')
[ "$hp" = 20000-40000 ] && pass "nat: gc follows the host's new ephemeral range ($hp)" ||
	fail "nat: host ports after the range changed: $hp"
in_h 1 sysctl -qw net.ipv4.ip_local_port_range="32768 60999"
kv 1 gc >/dev/null
if out=$(kv 1 forward add n proto udp port 4780-4790 to 192.168.40.11:4780 2>&1); then
	fail "nat: a forward over UDP 4789 (the overlay's port) was accepted while h1 tunnels"
elif grep -q "udp port 4789 is the overlay's" <<<"$out"; then
	pass "nat: a forward over UDP 4789 (the overlay's port) is refused while h1 tunnels"
else
	fail "nat: a forward over UDP 4789: refused for another reason: $out"
fi
check_not "... and h2's network b never learns its frame's MAC" sh -c \
	"nsenter --net=$(hns 2) $ROOT/build/kvmbpf --bpffs $(bpffs 2) fdb show net b | grep -q 02:66:66:66:66:66"

# --- the VXLAN device deleted behind the fabric's back: gc makes it again -
vx2=$(kv 2 -j net show b | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["overlay_device"])')
ip -n "$T-h2" link del "$vx2"
check_not "h2's VXLAN device deleted: b1 cannot reach b2" ping4 "$T-b1" 10.1.0.2
check "h2: gc" kv 2 gc
check "... makes it again: b1 pings b2" ping4 "$T-b1" 10.1.0.2

# --- reset on one host leaves the others working -------------------------
check "h3: reset" kv 3 reset
check_not "h3: no VXLAN device left" sh -c "ip -n $T-h3 -d link show | grep -q vxlan"
check "b1 (h1) still pings b2 (h2)" ping4 "$T-b1" 10.1.0.2
check "r2 (h2) still pings r1 (h1)" ping4 "$T-r2" 10.3.0.11
check "h2: net del of every overlay network removes the device" sh -c \
	"nsenter --net=$(hns 2) $ROOT/build/kvmbpf --bpffs $(bpffs 2) net del b && nsenter --net=$(hns 2) $ROOT/build/kvmbpf --bpffs $(bpffs 2) net del i && nsenter --net=$(hns 2) $ROOT/build/kvmbpf --bpffs $(bpffs 2) net del r && nsenter --net=$(hns 2) $ROOT/build/kvmbpf --bpffs $(bpffs 2) net del n && ! ip -n $T-h2 -d link show | grep -q vxlan"

rm -f "$f2" "$f3" "$pf"
finish

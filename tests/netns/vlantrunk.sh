#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VLAN trunks on a bridge network, as a Linux bridge without
# vlan_filtering carries them (a router VM with VLAN interfaces on a
# bridged trunk): a guest port with spoofcheck off and no ACLs (r1, r2)
# and the uplink carry 802.1Q/802.1ad-tagged frames by destination MAC;
# a port with spoofcheck on (s1) sends none (vlan-tagged, counted) and
# receives none. This kernel has no 8021q module: the tagged frames are
# written and captured raw (scapy, tcpdump, which sees the tag the
# kernel keeps beside the frame).
#
#   $T-h (the fabric's namespace): up0 -- $T-lan eth0 (the LAN)
#   bridge lan, uplink up0: r1, r2 (spoofcheck off), s1 (spoofcheck on)
source "$(dirname "$0")/lib.sh"

fabric_netns "$T-h" || { fail "setup: netns"; finish; }
MR1=52:54:00:97:00:11 MR2=52:54:00:97:00:12 MS1=52:54:00:97:00:13
ML=52:54:00:97:00:02
guest() { # NS DEV MAC ADDR
	netns_add "$1"
	ip -n "$H" link add "$2" type veth peer name eth0 netns "$1"
	in_h sysctl -qw net.ipv6.conf."$2".disable_ipv6=1
	ip -n "$1" link set eth0 address "$3"
	ip -n "$1" addr add "$4/24" dev eth0
	ip -n "$H" link set "$2" up
	ip -n "$1" link set eth0 up
}
guest "$T-r1" r1 $MR1 10.97.0.11
guest "$T-r2" r2 $MR2 10.97.0.12
guest "$T-s1" s1 $MS1 10.97.0.13
guest "$T-lan" up0 $ML 10.97.0.2
ip -n "$H" addr add 10.97.0.1/24 dev up0

check "net add lan type bridge uplink up0" kvmbpf net add lan type bridge uplink up0
check "attach r1 spoofcheck off (a trunk)" kvmbpf attach r1 net lan spoofcheck off
check "attach r2 spoofcheck off (a trunk)" kvmbpf attach r2 net lan spoofcheck off
check "attach s1 (spoofcheck on)" kvmbpf attach s1 net lan mac $MS1 ip 10.97.0.13
check "untagged: r1 reaches the LAN" ping4 "$T-r1" 10.97.0.2
check "untagged: s1 reaches the LAN" ping4 "$T-s1" 10.97.0.2

# tagged FROM_NS DST_MAC SRC_MAC TAGS MARK: a UDP datagram to port 9999
# carrying MARK, in 802.1Q VLAN 10 (TAGS q), or 802.1ad 100 over 10 (ad)
tagged() {
	in_ns "$1" "$PY" -c "
from scapy.all import Ether, Dot1Q, Dot1AD, IP, UDP, Raw, sendp, conf
conf.verb = 0
tag = Dot1Q(vlan=10) if '$4' == 'q' else Dot1AD(vlan=100) / Dot1Q(vlan=10)
sendp(Ether(dst='$2', src='$3') / tag /
      IP(src='10.97.10.99', dst='10.97.10.255') / UDP(sport=9999, dport=9999) /
      Raw(b'$5'), iface='eth0')"
}
# capture NS...: what each NS's eth0 receives for the next 4 s, into
# $TMPDIR/NS.cap (every frame: the filters' vlan keyword is unsure of
# tags the kernel keeps beside the frame); wait_caps: until they end
capture() {
	local ns
	for ns in "$@"; do
		bg_ns "$ns" timeout 4 tcpdump --immediate-mode -nn -A \
			-i eth0 >"$TMPDIR/$ns.cap" 2>/dev/null
	done
	sleep 1
}
wait_caps() { sleep 3.2; }

capture "$T-r2" "$T-lan" "$T-s1"
tagged "$T-r1" ff:ff:ff:ff:ff:ff $MR1 q bcast-from-r1
wait_caps
check "a tagged broadcast from trunk r1 reaches trunk r2" grep -q bcast-from-r1 "$TMPDIR/$T-r2.cap"
check "... and the LAN, through the uplink" grep -q bcast-from-r1 "$TMPDIR/$T-lan.cap"
check_not "... and not s1 (spoofcheck on)" grep -q bcast-from-r1 "$TMPDIR/$T-s1.cap"

capture "$T-r1" "$T-r2" "$T-s1"
tagged "$T-lan" ff:ff:ff:ff:ff:ff $ML q bcast-from-lan
wait_caps
check "a tagged broadcast from the LAN reaches trunk r1" grep -q bcast-from-lan "$TMPDIR/$T-r1.cap"
check "... and trunk r2" grep -q bcast-from-lan "$TMPDIR/$T-r2.cap"
check_not "... and not s1" grep -q bcast-from-lan "$TMPDIR/$T-s1.cap"

capture "$T-r1" "$T-s1"
tagged "$T-r2" $MR1 $MR2 q ucast-r2-to-r1
wait_caps
check "a tagged unicast from r2 reaches r1 (its learnt MAC)" grep -q ucast-r2-to-r1 "$TMPDIR/$T-r1.cap"
check_not "... and nobody else" grep -q ucast-r2-to-r1 "$TMPDIR/$T-s1.cap"

capture "$T-r2" "$T-lan"
tagged "$T-r1" ff:ff:ff:ff:ff:ff $MR1 ad qinq-from-r1
wait_caps
check "an 802.1ad (QinQ) broadcast from r1 reaches r2" grep -q qinq-from-r1 "$TMPDIR/$T-r2.cap"
check "... and the LAN" grep -q qinq-from-r1 "$TMPDIR/$T-lan.cap"

# s1 learnt as MS1 (its pings above): a trunk's tagged unicast to it
v0=$(stat r1 vlan-tagged)
capture "$T-s1"
tagged "$T-r1" $MS1 $MR1 q ucast-r1-to-s1
wait_caps
check_not "a tagged unicast from r1 to s1 (spoofcheck on) does not reach it" \
	grep -q ucast-r1-to-s1 "$TMPDIR/$T-s1.cap"
check "... refused, counted vlan-tagged on r1" test "$(stat r1 vlan-tagged)" -gt "$v0"

v0=$(stat s1 vlan-tagged)
capture "$T-r1" "$T-lan"
tagged "$T-s1" ff:ff:ff:ff:ff:ff $MS1 q bcast-from-s1
wait_caps
check_not "s1 (spoofcheck on) sends no tagged frame to r1" grep -q bcast-from-s1 "$TMPDIR/$T-r1.cap"
check_not "... nor to the LAN" grep -q bcast-from-s1 "$TMPDIR/$T-lan.cap"
check "... refused, counted vlan-tagged on s1" test "$(stat s1 vlan-tagged)" -gt "$v0"

check "port set r1 spoofcheck on: no longer a trunk" kvmbpf port set r1 spoofcheck on mac $MR1 ip 10.97.0.11
v0=$(stat r1 vlan-tagged)
capture "$T-r2"
tagged "$T-r1" ff:ff:ff:ff:ff:ff $MR1 q bcast-after-set
wait_caps
check_not "... its tagged broadcast reaches nobody" grep -q bcast-after-set "$TMPDIR/$T-r2.cap"
check "... counted vlan-tagged" test "$(stat r1 vlan-tagged)" -gt "$v0"
check "untagged: r2 still reaches the LAN" ping4 "$T-r2" 10.97.0.2

check "net del lan" kvmbpf net del lan
check_not "nothing of the fabric left on up0" sh -c \
	"tc -n $H filter show dev up0 ingress 2>/dev/null | grep -q bpf"
finish

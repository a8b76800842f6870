#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Port identity end to end with real stacks: spoofcheck (IP, MAC), port set,
# port isolation, DHCP snooping on a bridge whose LAN runs the DHCP server,
# and an internal network in the same subnet that reaches nothing but itself.
#
#   lan (bridge, uplink $T-up -> $T-lan 10.94.0.2, host 10.94.0.1):
#       $T-g1 10.94.0.61 (ip given), $T-g2 10.94.0.62, $T-d (DHCP client)
#   iso (internal): $T-i1 10.94.0.51, $T-i2 10.94.0.52 (+ fd94::51/52)
source "$(dirname "$0")/lib.sh"

behind "$T-up" "$T-lan" 10.94.0.2/24 10.94.0.1/24
kvmbpf net add lan type bridge uplink "$T-up" || fail "net add lan"
kvmbpf net add iso type internal || fail "net add iso"

G1MAC=52:54:00:94:00:61
for g in g1 g2 d i1 i2; do
	netns_add "$T-$g"
	guest_link "$T-$g" "$T-$g"
done
ip -n "$T-g1" link set eth0 address $G1MAC
ip -n "$T-g1" addr add 10.94.0.61/24 dev eth0
ip -n "$T-g2" addr add 10.94.0.62/24 dev eth0
kvmbpf attach "$T-g1" net lan mac $G1MAC ip 10.94.0.61 || fail "attach g1"
kvmbpf attach "$T-g2" net lan || fail "attach g2"
kvmbpf attach "$T-d" net lan || fail "attach d"
for i in 1 2; do
	ip -n "$T-i$i" addr add 10.94.0.5$i/24 dev eth0
	ip -n "$T-i$i" -6 addr add fd94::5$i/64 dev eth0 nodad
	kvmbpf attach "$T-i$i" net iso || fail "attach i$i"
done

# --- spoofcheck with a configured address ---------------------------------
check "g1 from its own address reaches the LAN" ping4 "$T-g1" 10.94.0.2
ip -n "$T-g1" addr add 10.94.0.71/24 dev eth0
d0=$(stat "$T-g1" spoof-ip)
check_not "g1 from a foreign address is refused" \
	in_ns "$T-g1" ping -n -c 1 -W 1 -I 10.94.0.71 10.94.0.2
[ "$(stat "$T-g1" spoof-ip)" -gt "$d0" ] && pass "spoof-ip counted" ||
	fail "spoof-ip not counted"
check "port set replaces the address list" kvmbpf port set "$T-g1" ip 10.94.0.71
check "g1 from the new address works" \
	in_ns "$T-g1" ping -n -c 1 -W 2 -I 10.94.0.71 10.94.0.2
check_not "g1 from the old address is refused" \
	in_ns "$T-g1" ping -n -c 1 -W 1 -I 10.94.0.61 10.94.0.2
check "port set ip none" kvmbpf port set "$T-g1" ip none

# --- spoofcheck of the MAC, and spoofcheck off -----------------------------
ip -n "$T-g1" link set eth0 address 52:54:00:94:00:ee
ip -n "$T-g1" neigh flush dev eth0
d0=$(stat "$T-g1" spoof-mac)
check_not "g1 with another MAC is refused" ping4 "$T-g1" 10.94.0.2
[ "$(stat "$T-g1" spoof-mac)" -gt "$d0" ] && pass "spoof-mac counted" ||
	fail "spoof-mac not counted"
check "port set spoofcheck off" kvmbpf port set "$T-g1" spoofcheck off
check "port show says spoofcheck off" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j port show $T-g1 | grep -q '\"spoofcheck\":false'"
ip -n "$T-g1" neigh flush dev eth0
ip -n "$T-lan" neigh flush dev eth0
check "a trusted appliance may use another MAC" ping4 "$T-g1" 10.94.0.2
ip -n "$T-g1" link set eth0 address $G1MAC
kvmbpf port set "$T-g1" spoofcheck on

# --- a first-seen MAC is pinned --------------------------------------------
check "g2 talks (MAC pinned from its first frame)" ping4 "$T-g2" 10.94.0.2
check "port show reports the pinned MAC" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j port show $T-g2 | grep -q '\"mac_pinned\":true'"

# --- port isolation ---------------------------------------------------------
check "before isolation: g1 reaches g2" ping4 "$T-g1" 10.94.0.62
check "port set isolated on" kvmbpf port set "$T-g2" isolated on
ip -n "$T-g1" neigh flush dev eth0
ip -n "$T-g2" neigh flush dev eth0
check_not "isolated: g1 cannot reach g2" ping4 "$T-g1" 10.94.0.62
check_not "isolated: g2 cannot reach g1" ping4 "$T-g2" 10.94.0.61
check "isolated: g2 reaches the LAN" ping4 "$T-g2" 10.94.0.2
check "isolated: g2 reaches the host" ping4 "$T-g2" 10.94.0.1
# The host forwarding IPv4 (as under libvirt; here the uplink's own
# setting, not the host's): a guest that sends to the host's MAC a packet
# for another guest has the host route it back out the uplink. Neither
# way may it reach the other guest if one of them is isolated; the LAN it
# still reaches so. The receiver's kernel counts what arrives (the reply
# has no way back, which is why a ping is not the measure).
sysctl -qw net.ipv4.conf."$T-up".forwarding=1
upmac=$(cat /sys/class/net/"$T-up"/address)
in_ns "$T-g2" ip neigh replace 10.94.0.61 lladdr "$upmac" dev eth0
in_ns "$T-g2" ip neigh replace 10.94.0.2 lladdr "$upmac" dev eth0
in_ns "$T-g1" ip neigh replace 10.94.0.62 lladdr "$upmac" dev eth0
e0=$(icmp_in_echos "$T-g1")
in_ns "$T-g2" ping -n -c 3 -i 0.2 -W 1 10.94.0.61 >/dev/null 2>&1
e1=$(icmp_in_echos "$T-g1")
[ "$e1" = "$e0" ] && pass "isolated: g2 does not reach g1 through the host's forwarding" ||
	fail "isolated: g1 received g2's echoes through the host ($e0 -> $e1)"
e0=$(icmp_in_echos "$T-g2")
in_ns "$T-g1" ping -n -c 3 -i 0.2 -W 1 10.94.0.62 >/dev/null 2>&1
e1=$(icmp_in_echos "$T-g2")
[ "$e1" = "$e0" ] && pass "isolated: g1 does not reach g2 through the host's forwarding" ||
	fail "isolated: g2 received g1's echoes through the host ($e0 -> $e1)"
[ "$(stat "$T-up" isolated)" -ge 6 ] && pass "counted as isolated on the uplink" ||
	fail "isolated not counted on the uplink"
check "isolated: g2 reaches the LAN through the host's forwarding" \
	ping4 "$T-g2" 10.94.0.2
check "port set isolated off" kvmbpf port set "$T-g2" isolated off
e0=$(icmp_in_echos "$T-g2")
in_ns "$T-g1" ping -n -c 3 -i 0.2 -W 1 10.94.0.62 >/dev/null 2>&1
e1=$(icmp_in_echos "$T-g2")
[ "$e1" -ge $((e0 + 3)) ] && pass "not isolated: the host's forwarding from g1 reaches g2" ||
	fail "not isolated: g2 received no echoes forwarded by the host ($e0 -> $e1)"
sysctl -qw net.ipv4.conf."$T-up".forwarding=0
in_ns "$T-g2" ip neigh del 10.94.0.61 dev eth0
in_ns "$T-g2" ip neigh del 10.94.0.2 dev eth0
in_ns "$T-g1" ip neigh del 10.94.0.62 dev eth0
check "after isolation: g1 reaches g2 again" ping4 "$T-g1" 10.94.0.62

# --- DHCP snooping: the LAN's server leases, the fabric learns -------------
conf=$(mktemp) script=$(mktemp)
cat >"$conf" <<EOC
start 10.94.0.100
end 10.94.0.110
interface eth0
lease_file $conf.leases
option subnet 255.255.255.0
EOC
cat >"$script" <<'EOS'
#!/bin/sh
[ "$1" = bound ] && ip addr add "$ip/24" dev "$interface"
exit 0
EOS
chmod +x "$script"
bg_ns "$T-lan" busybox udhcpd -f "$conf" >/dev/null 2>&1
dpid=$BG_PID
check "DHCP client gets a lease through the fabric" \
	in_ns "$T-d" timeout 20 busybox udhcpc -i eth0 -n -q -f -t 10 -T 1 -s "$script"
stop_bg "$dpid"
check "the DHCP server is gone once stopped (nothing left in its namespace)" \
	test -z "$(ip netns pids "$T-lan")"
lease=$(in_ns "$T-d" ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
check "the fabric learned the lease ($lease)" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j port show $T-d | grep -q '\"ip\":\"$lease\",\"source\":\"dhcp\"'"
check "the lease works" ping4 "$T-d" 10.94.0.2
ip -n "$T-d" addr add 10.94.0.99/24 dev eth0
check_not "a self-assigned address does not" \
	in_ns "$T-d" ping -n -c 1 -W 1 -I 10.94.0.99 10.94.0.2
# a renewal, a REQUEST unicast to the server (udhcpc on SIGUSR1), is the
# client's own request too: the ACK that answers it binds the lease anew
# (snooping binds only ACKs of the port's own transactions)
ip -n "$T-d" addr flush dev eth0
echo "option lease 60" >>"$conf"
bg_ns "$T-lan" busybox udhcpd -f "$conf" >/dev/null 2>&1
dpid=$BG_PID
bg_ns "$T-d" busybox udhcpc -i eth0 -f -t 10 -T 1 -s "$script" >/dev/null 2>&1
cpid=$BG_PID
# ends_in: seconds left of the lease of $lease on $T-d's port ("" if none)
ends_in() {
	kvmbpf -j port show "$T-d" | "$PY" -c "
import json, sys
print(' '.join(str(a.get('expires_in_s', '')) for a in json.load(sys.stdin)['addresses'] if a['ip'] == '$lease' and a['source'] == 'dhcp'))"
}
# the first lease (udhcpd's default of 10 days) is bound until the new
# one's ACK makes it 60 s
for i in $(seq 50); do
	e1=$(ends_in)
	[ -n "$e1" ] && [ "$e1" -le 60 ] && break
	sleep 0.2
done
sleep 4
e1=$(ends_in)
kill -USR1 "$cpid"
for i in $(seq 30); do
	e2=$(ends_in)
	[ -n "$e2" ] && [ -n "$e1" ] && [ "$e2" -ge $((e1 + 2)) ] && break
	sleep 0.2
done
[ -n "$e1" ] && [ "$e1" -le 60 ] && [ -n "$e2" ] && [ "$e2" -ge $((e1 + 2)) ] &&
	pass "a unicast renewal's ACK renews the binding ($e1 s left, then $e2 s)" ||
	fail "renewal not bound: $lease ended in '$e1' s, after the renewal in '$e2' s"
stop_bg "$cpid"
stop_bg "$dpid"
rm -f "$conf" "$conf.leases" "$script"

# --- internal network -------------------------------------------------------
check "internal: IPv4 between its guests" ping4 "$T-i1" 10.94.0.52
check "internal: IPv6 between its guests" ping6 "$T-i2" fd94::51
check "internal: TCP between its guests, sha256" tcp_sha "$T-i1" "$T-i2" 10.94.0.52 4
in_ns "$T-i2" sysctl -qw net.ipv4.icmp_echo_ignore_broadcasts=0
check "internal: multicast between its guests" \
	in_ns "$T-i1" ping -n -c 1 -W 2 -I eth0 224.0.0.1
check_not "internal: no LAN (same subnet)" ping4 "$T-i1" 10.94.0.2
check_not "internal: no host" ping4 "$T-i1" 10.94.0.1
check_not "internal: host cannot reach in" ping -n -c 1 -W 1 10.94.0.51
check_not "internal: no guest of another network" ping4 "$T-i1" 10.94.0.62
check_not "internal: not reached from another network" ping4 "$T-g2" 10.94.0.52
finish

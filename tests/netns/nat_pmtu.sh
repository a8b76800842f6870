#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Path-MTU discovery behind the NAT: a router between the host and the WAN
# has a 1280-byte link towards the WAN. The guest's full-size TCP segments
# make the router send "fragmentation needed" to the host's WAN address;
# the fabric translates it back to the guest, which lowers its path MTU,
# and the transfer completes. Then the host's own WAN link is the narrow
# one: the fabric itself answers the guest's full-size packets (GSO
# frames by their segments) with fragmentation needed.
#
#   root $T-w 10.99.5.1 -- $T-r router eth0 10.99.5.2 | eth1 10.99.6.1 (mtu 1280)
#                          -- $T-wan eth0 10.99.6.2 (mtu 1500)
source "$(dirname "$0")/lib.sh"

netns_add "$T-r"
netns_add "$T-wan"
ip link add "$T-w" type veth peer name eth0 netns "$T-r"
LINK_LIST+=("$T-w")
ip addr add 10.99.5.1/24 dev "$T-w"
ip link set "$T-w" up
ip route add 10.99.6.0/24 via 10.99.5.2
ip -n "$T-r" addr add 10.99.5.2/24 dev eth0
ip -n "$T-r" link set eth0 up
ip -n "$T-r" link add eth1 type veth peer name eth0 netns "$T-wan"
ip -n "$T-r" addr add 10.99.6.1/24 dev eth1
ip -n "$T-r" link set eth1 mtu 1280 up
in_ns "$T-r" sysctl -qw net.ipv4.ip_forward=1
ip -n "$T-wan" addr add 10.99.6.2/24 dev eth0
ip -n "$T-wan" link set eth0 up
ip -n "$T-wan" route add default via 10.99.6.1

check "net add nat" kvmbpf net add n type nat subnet 192.168.79.0/24 wan "$T-w" dhcp off
net_guest "$T-g" n 192.168.79.11 192.168.79.1 || fail "attach"

check "the guest reaches the WAN through the router" ping4 "$T-g" 10.99.6.2
check "TCP 5 MiB guest to WAN over the narrow link, sha256" tcp_sha "$T-g" "$T-wan" 10.99.6.2 5
check "the guest learned the path MTU from the translated ICMP error" sh -c \
	"ip -n $T-g route get 10.99.6.2 | grep -q 'mtu 1280'"

in_ns "$T-g" ip route flush cache
ip link set "$T-w" mtu 1200
ip -n "$T-r" link set eth0 mtu 1200
tb0=$(stat "$T-g" too-big)
check "TCP 5 MiB guest to WAN through a WAN device of MTU 1200 (offloads on), sha256" \
	tcp_sha "$T-g" "$T-wan" 10.99.6.2 5
check "fragmentation needed from the fabric, counted too-big" \
	test "$(stat "$T-g" too-big)" -gt "$tb0"
check "the guest learned the WAN device's MTU" sh -c \
	"ip -n $T-g route get 10.99.6.2 | grep -q 'mtu 1200'"
finish

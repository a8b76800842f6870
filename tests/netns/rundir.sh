#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A nat network with DHCP leaves nothing under /run/kvmbpf once it is gone:
# net del and reset take dnsmasq's pid, static leases (.hosts) and lease
# files away, and detaching the WAN port afterwards must not write the
# static leases back.
#
#   root ns: $T-w 10.99.7.1/24 (WAN)   $T-wan ns: eth0 10.99.7.2/24
#   nat "n": 192.168.87.0/24 dhcp on, a guest with MAC and address
source "$(dirname "$0")/lib.sh"

behind "$T-w" "$T-wan" 10.99.7.2/24 10.99.7.1/24
netns_add "$T-g1"
guest_link "$T-g1" "$T-g1"

files_of() {	# files_of GWIF: what the network left in /run/kvmbpf
	ls /run/kvmbpf 2>/dev/null | grep -F "$1." || true
}
mknet() {
	kvmbpf net add n type nat subnet 192.168.87.0/24 wan "$T-w" dhcp on &&
	kvmbpf attach "$T-g1" net n mac 52:54:00:87:00:11 ip 192.168.87.11
}

check "net add nat with dhcp, a guest with mac and ip" mknet
gw_if=$(kvmbpf -j net show n | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
check "the static leases file exists while the network does" \
	grep -q 192.168.87.11 "/run/kvmbpf/$gw_if.hosts"
check "net del" kvmbpf net del n
left=$(files_of "$gw_if")
[ -z "$left" ] && pass "net del: nothing left under /run/kvmbpf" ||
	fail "net del: left $left"

check "net add again" mknet
check "reset" kvmbpf reset
left=$(files_of "$gw_if")
[ -z "$left" ] && pass "reset: nothing left under /run/kvmbpf" ||
	fail "reset: left $left"
exit $((FAILS > 0))

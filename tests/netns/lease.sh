#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# DHCP bindings live as long as the lease (issue 14, item 7), with real
# clients and the fabric's dnsmasq on a nat network:
#   - busybox udhcpc takes a lease; after its RELEASE (SIGUSR2) the guest
#     keeps sending from the address: refused, counted spoof-ip;
#   - ISC dhclient on another guest is then leased that address: it works,
#     the first guest is still refused;
#   - `dhclient -r` releases it: that guest is refused in turn.
# Every verdict from the fabric's counters; no IPv6 (no DAD/RS noise).
source "$(dirname "$0")/lib.sh"

for t in dhclient busybox; do
	command -v $t >/dev/null || { fail "lease: $t missing (scripts/deps.sh installs it)"; exit 1; }
done
TMP=$(mktemp -d)
UDH_PID=
DHC_PID=
lease_cleanup() {
	[ -n "$UDH_PID" ] && kill "$UDH_PID" 2>/dev/null && wait "$UDH_PID" 2>/dev/null
	[ -n "$DHC_PID" ] && kill "$DHC_PID" 2>/dev/null
	rm -rf "$TMP"
	cleanup
}
trap lease_cleanup EXIT

quiet() { in_ns "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; }
behind "$T-w" "$T-wan" 10.82.9.2/24 10.82.9.1/24
kvmbpf net add n type nat subnet 192.168.82.0/24 wan "$T-w" || fail "net add nat"
GW=192.168.82.1
gw_if=$(kvmbpf -j net show n | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
GWMAC=$(cat /sys/class/net/"$gw_if"/address)
for i in 1 2; do
	netns_add "$T-g$i" && quiet "$T-g$i"
	guest_link "$T-g$i" "$T-g$i"
	in_ns "$T-g$i" ip link set eth0 address 52:54:00:82:00:1$i
	# the gateway's MAC, once: no ARP of ours blurs the counters
	in_ns "$T-g$i" ip neigh replace $GW lladdr "$GWMAC" nud permanent dev eth0
	kvmbpf attach "$T-g$i" net n mac 52:54:00:82:00:1$i || fail "attach g$i"
done

# the addresses a port's bindings list (port show -j): "ip/source" lines
bindings() {
	kvmbpf -j port show "$1" | "$PY" -c '
import json, sys
for a in json.load(sys.stdin)["addresses"]:
    print(a["ip"] + "/" + a["source"] + "/" + str(a.get("expires_in_s", "-")))'
}
# refused PORT: one echo request from the guest to the gateway is dropped
# as spoof-ip (the counter goes up by one) and unanswered
refused() {
	local d0 d1 out
	d0=$(stat "$1" spoof-ip)
	out=$(in_ns "$1" ping -n -c 1 -W 1 $GW 2>&1) && { echo "# answered: $out"; return 1; }
	d1=$(stat "$1" spoof-ip)
	[ $((d1 - d0)) = 1 ] && return 0
	echo "# spoof-ip +$((d1 - d0)): $out"; in_ns "$1" ip -br addr; in_ns "$1" ip neigh
	kvmbpf -j stats "$1"
	return 1
}
wait_unbound() { # PORT ADDR
	for _ in $(seq 50); do
		bindings "$1" | grep -q "^$2/" || return 0
		sleep 0.1
	done
	return 1
}

# --- busybox udhcpc: lease, use, RELEASE --------------------------------
cat >"$TMP/udhcpc.sh" <<'EOS'
#!/bin/sh
case "$1" in
bound|renew) ip addr add "$ip/$mask" dev "$interface"; echo "$ip" >"$LEASE_OUT" ;;
deconfig) ip addr flush dev "$interface" ;;
esac
exit 0
EOS
chmod +x "$TMP/udhcpc.sh"
# ip netns exec and env exec: $! is udhcpc's own PID, for its signals
ip netns exec "$T-g1" env LEASE_OUT="$TMP/g1" busybox udhcpc -i eth0 -f -t 10 -T 1 \
	-s "$TMP/udhcpc.sh" >"$TMP/udhcpc.log" 2>&1 &
UDH_PID=$!
for _ in $(seq 200); do [ -s "$TMP/g1" ] && break; sleep 0.1; done
A=$(cat "$TMP/g1" 2>/dev/null)
[ -n "$A" ] && pass "udhcpc leased $A" || fail "udhcpc got no lease: $(cat "$TMP/udhcpc.log")"
check "the lease works (g1 -> gateway)" ping4 "$T-g1" $GW
b=$(bindings "$T-g1")
grep -Eq "^$A/dhcp/(3[0-5][0-9][0-9]|3600)$" <<<"$b" &&
	pass "port show -j: $A bound by dhcp, ends within the lease (3600 s)" ||
	fail "port show -j g1: '$b'"
kill -USR2 "$UDH_PID"	# udhcpc: release the lease, and wait
wait_unbound "$T-g1" "$A" && pass "RELEASE unbinds $A" ||
	fail "after RELEASE: $(bindings "$T-g1")"
# the guest keeps the address anyway (the flush took the gateway's entry)
in_ns "$T-g1" ip addr add "$A/24" dev eth0
in_ns "$T-g1" ip neigh replace $GW lladdr "$GWMAC" nud permanent dev eth0
refused "$T-g1" && pass "after its RELEASE, g1 sending from $A is refused (spoof-ip)" ||
	fail "after its RELEASE, g1 sending from $A was not refused"
kill "$UDH_PID"; wait "$UDH_PID" 2>/dev/null; UDH_PID=

# --- ISC dhclient is leased the same address ----------------------------
dhclient_script "$TMP/g2"
printf 'send dhcp-requested-address %s;\nrequest subnet-mask;\n' "$A" >"$TMP/dhclient.conf"
dhc() { in_ns "$T-g2" timeout 30 dhclient "$@" -cf "$TMP/dhclient.conf" \
	-sf "$TMP/dhclient.sh" -lf "$TMP/dhclient.leases" -pf "$TMP/dhclient.pid" eth0; }
check "dhclient gets a lease" dhc -1
DHC_PID=$(cat "$TMP/dhclient.pid" 2>/dev/null)
[ "$(cat "$TMP/g2" 2>/dev/null)" = "$A" ] && pass "g2 is leased g1's old address $A" ||
	fail "g2 leased '$(cat "$TMP/g2" 2>/dev/null)', not $A"
check "the holder works (g2 -> gateway from $A)" ping4 "$T-g2" $GW
refused "$T-g1" && pass "g1 sending from $A, now g2's, is refused (spoof-ip)" ||
	fail "g1 sending from $A, now g2's, was not refused"
check "... and g2 still works" ping4 "$T-g2" $GW

# --- dhclient -r: released, and the address stays on the interface -------
check "dhclient -r" dhc -r
DHC_PID=
wait_unbound "$T-g2" "$A" && pass "dhclient's RELEASE unbinds $A" ||
	fail "after dhclient -r: $(bindings "$T-g2")"
refused "$T-g2" && pass "after dhclient -r, g2 sending from $A is refused (spoof-ip)" ||
	fail "after dhclient -r, g2 sending from $A was not refused"
finish

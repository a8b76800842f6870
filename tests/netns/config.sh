#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A fabric's configuration, written once a field: save, reset, load, save
# again gives the same file byte for byte, with everything `net show -j`
# shows of every type (ct-max, timeouts, forwards, peers, ports, ACLs)
# and the same `net show -j`, `forward show -j`, `port show -j`,
# `acl show -j` after; and the
# kernel's own reason when it refuses a link (rtnetlink, no ip(8)).
#
#   b  bridge, uplink $T-up            g1 (mac, ip, isolated)
#   i  internal, mtu 1400              g2 (spoofcheck off)
#   n  nat 192.168.87.0/24 wan $T-w    g3 (mac, ip), forwards, ct limits,
#                                       nat-filtering
#   r  routed 10.87.2.0/24 fd87:2::/64, gateway .254, peered with n
#                                       g4 (two addresses of each family)
#   o  bridge spanning hosts: vni 4242, an IPv4 and an IPv6 vtep
source "$(dirname "$0")/lib.sh"

behind "$T-w" "$T-wan" 10.87.9.2/24 10.87.9.1/24
netns_add "$T-lan"
ip link add "$T-up" type veth peer name eth0 netns "$T-lan" && LINK_LIST+=("$T-up")
ip link set "$T-up" up
# The guests stay silent (no IPv6 in their namespaces: no DAD, RS or
# MLD): a guest's first frame pins its MAC, which would differ between
# the two snapshots compared below by when the kernel happened to send it
for g in g1 g2 g3 g4; do
	netns_add "$T-$g"
	ip netns exec "$T-$g" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 \
		net.ipv6.conf.all.disable_ipv6=1
	guest_link "$T-$g" "$T-$g"
done
M1=52:54:00:87:00:01 M3=52:54:00:87:00:03

check "acl add" kvmbpf acl add web
check "acl rule add: every keyword" kvmbpf acl rule add web ingress allow proto tcp \
	src 10.0.0.0/8,fd00::/8 dport 22-23 log on
check "acl rule add: sport, drop" kvmbpf acl rule add web ingress drop proto udp sport 53
check "acl rule add: icmp type and code" kvmbpf acl rule add web ingress allow proto icmp \
	icmp-type 8 icmp-code 0
check "acl rule add: egress reject to a CIDR" kvmbpf acl rule add web egress reject dst 192.0.2.0/24
check "acl rule add: a protocol number" kvmbpf acl rule add web egress allow proto 47
check "acl add db" kvmbpf acl add db
check "acl rule add db" kvmbpf acl rule add db ingress allow proto udp dport 5000-5999
check "net add bridge" kvmbpf net add b type bridge uplink "$T-up"
check "net add internal, with ACLs and defaults" kvmbpf net add i type internal mtu 1400 \
	acl db default-ingress drop default-egress allow acl-ct-max 5000
check "net add nat, with ct-max and a timeout" kvmbpf net add n type nat \
	subnet 192.168.87.0/24 wan "$T-w" dhcp off ct-max 7000 ct-timeout icmp 20
check "net set: more limits, a filtering mode" kvmbpf net set n ct-timeout udp 45 ct-max 5000 \
	nat-filtering address
check "net add routed" kvmbpf net add r type routed subnet 10.87.2.0/24 \
	subnet fd87:2::/64 gateway 10.87.2.254 force
check "net peer" kvmbpf net peer n r
check "net add bridge spanning hosts (vni, vteps of both families)" kvmbpf net add o \
	type bridge mtu 1280 vni 4242 vtep 192.0.2.10 vtep 2001:db8::10
check "net set: a vtep joins, one leaves" kvmbpf net set o vtep-add 192.0.2.11 vtep-del 192.0.2.10
check "attach g1" kvmbpf attach "$T-g1" net b mac $M1 ip 10.87.1.1 isolated on
check "attach g2" kvmbpf attach "$T-g2" net i spoofcheck off xdp off
check "attach g3, its own ACLs" kvmbpf attach "$T-g3" net n mac $M3 ip 192.168.87.11 acl web,db
check "net set: a network's ACL" kvmbpf net set b acl web
check "attach g4, four addresses" kvmbpf attach "$T-g4" net r ip fd87:2::12 ip 10.87.2.12 ip fd87:2::11 ip 10.87.2.11
check "forward add, a range" kvmbpf forward add n proto tcp port 8080-8082 to 192.168.87.11:80
check "forward add, one port" kvmbpf forward add n proto udp port 5353 to 192.168.87.11

s1=$(mktemp) s2=$(mktemp) j1=$(mktemp) j2=$(mktemp)
# what the configuration is, from every listing (state such as flow counts
# and dnsmasq's restarts left out)
config_json() {
	{ kvmbpf -j net show; kvmbpf -j forward show; kvmbpf -j port show
	  kvmbpf -j acl show; } |
	"$PY" -c '
import json, sys
dec = json.JSONDecoder(); text = sys.stdin.read(); docs = []; i = 0
while i < len(text):
    if text[i].isspace(): i += 1; continue
    d, i = dec.raw_decode(text, i); docs.append(d)
nets, fwds, ports, acls = docs
for a in acls:
    for r in a["rules"]: r.pop("packets"); r.pop("bytes")
state = {"ct_count", "dnsmasq_running", "dnsmasq_restarts", "dnsmasq_restarted_at", "ifindex"}
for n in nets:
    for k in state: n.pop(k, None)
    n["ports"] = sorted(n["ports"])
for p in ports:
    for k in state: p.pop(k, None)
    # configuration, not what the ports learned since (SAVI, DHCP, and
    # the MAC that spoofcheck pins at the first frame of a port)
    if not p["mac_pinned"]: p["mac"] = None
    p["addresses"] = sorted(a["ip"] for a in p["addresses"]
                            if a.get("source", "static") == "static")
print(json.dumps([nets, fwds, [p for p in ports if p["role"] == "guest"], acls], sort_keys=True, indent=1))'
}
kvmbpf save >"$s1"
config_json >"$j1"
check "save: the limits in the nat network's line" grep -q \
	"^net add n type nat subnet 192.168.87.0/24 gateway 192.168.87.1 wan $T-w dhcp off mtu 1500 ct-max 5000 ct-timeout udp 45 ct-timeout icmp 20 nat-filtering address$" "$s1"
check "save: the routed network's line" grep -q \
	"^net add r type routed subnet 10.87.2.0/24 subnet fd87:2::/64 gateway 10.87.2.254 gateway fd87:2::1 mtu 1500 force$" "$s1"
check "save: the forwards, as they were added" sh -c \
	"grep -qx 'forward add n proto tcp port 8080-8082 to 192.168.87.11:80' $s1 &&
	 grep -qx 'forward add n proto udp port 5353 to 192.168.87.11' $s1"
check "save: the peering" grep -qx "net peer n r" "$s1"
check "save: the overlay network's line" grep -qx \
	"net add o type bridge mtu 1280 vni 4242 vtep 2001:db8::10 vtep 192.0.2.11" "$s1"
check "save: the ACLs first, every rule in its words" bash -c "
	grep -v '^#' $s1 | head -8 | diff - <(printf '%s\n' 'acl add web' \
	'acl rule add web ingress allow proto tcp src 10.0.0.0/8,fd00::/8 dport 22-23 log on' \
	'acl rule add web ingress drop proto udp sport 53' \
	'acl rule add web ingress allow proto icmp icmp-type 8 icmp-code 0' \
	'acl rule add web egress reject dst 192.0.2.0/24' \
	'acl rule add web egress allow proto 47' 'acl add db' \
	'acl rule add db ingress allow proto udp dport 5000-5999')" bash
check "save: a network's ACL and defaults, a port's own ACLs" sh -c "
	grep -qx 'net add i type internal mtu 1400 acl db default-ingress drop default-egress allow acl-ct-max 5000' $s1 &&
	grep -q '^net add b type bridge uplink $T-up mtu 1500 acl web$' $s1 &&
	grep -q '^attach $T-g3 net n .* acl web,db$' $s1"
check "save -j: the same lines, as a JSON array" sh -c "\"\${0}\" --bpffs $BPFFS -j save | $PY -c '
import json, sys
j = json.load(sys.stdin)
t = [l.rstrip(\"\\n\") for l in open(\"$s1\") if not l.startswith(\"#\")]
assert j == t, (j, t)'" "$ROOT/build/kvmbpf"
# (its exit status and "0 failed" too: a refused line is not applied either)
inforce() { local out; out=$("$ROOT/build/kvmbpf" --bpffs "$BPFFS" load "$1") &&
	grep -q '^0 applied, .* 0 failed' <<<"$out"; }
check "load: all of it already in effect" inforce "$s1"
# a timeout set to its default is the default: load of the file saved
# before finds nothing to change (bb25: "network n exists as ...
# ct-timeout tcp-established 7440", and every line of it not applied)
check "net set n ct-timeout tcp-established 7440 (the default)" \
	kvmbpf net set n ct-timeout tcp-established 7440
check "... load: all of it still in effect" inforce "$s1"
check "reset" kvmbpf reset
check "load" kvmbpf load "$s1"
kvmbpf save >"$s2"
config_json >"$j2"
check "save, reset, load, save: byte for byte the same file" cmp "$s1" "$s2"
if diff -u "$j1" "$j2" >"$s2.diff"; then
	pass "... and the same net show -j, forward show -j, port show -j"
else
	fail "... and the same net show -j, forward show -j, port show -j:"
	head -40 "$s2.diff"
fi
rm -f "$s2.diff"
check "... forwards work again: the table has 4 ports" sh -c \
	"[ \"\$(\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j forward show n | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 4 ]"

# A forward whose guest is not there yet (a VM libvirt starts after load
# at boot) is restored all the same, with a note: it reaches the port
# given the address once one is (before: skipped, and lost by the next
# save); the guest's attach then brings the file back byte for byte.
kvmbpf reset
grep -v "^attach $T-g3 " "$s1" >"$s2"
out=$(kvmbpf load "$s2" 2>&1)
grep -q "no guest of n holds 192.168.87.11 yet: the forward reaches the port given 'ip 192.168.87.11'" <<<"$out" &&
	[ "$(kvmbpf -j forward show n | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 4 ] &&
	pass "load: the forwards to a guest not attached yet are restored, with a note" ||
	fail "load without g3: forward show: $(kvmbpf forward show n); load said: $out"
check "... g3 attached later (libvirt's hook)" kvmbpf load "$s1"
kvmbpf save >"$s2"
check "... then save writes the same file" cmp "$s1" "$s2"

# The kernel's own reason, through rtnetlink: a device already holds the
# name of the gateway interface a nat network makes.
gw=$(kvmbpf -j net show n | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
kvmbpf net del n || fail "net del n"
ip link add "$gw" type veth peer name "${gw}q" && LINK_LIST+=("$gw")
out=$(kvmbpf net add n type nat subnet 192.168.87.0/24 wan "$T-w" 2>&1)
grep -q "cannot create the gateway interface $gw: File exists" <<<"$out" &&
	pass "net add: the kernel's reason (File exists) reaches the user" ||
	fail "net add over an existing $gw: '$out'"
check_not "... and no network n is left" kvmbpf net show n
check "... -j: the same reason as JSON" sh -c "\"\${0}\" --bpffs $BPFFS -j net add n type nat \
	subnet 192.168.87.0/24 wan $T-w | $PY -c '
import json, sys
assert \"File exists\" in json.load(sys.stdin)[\"error\"]'" "$ROOT/build/kvmbpf"
ip link del "$gw"
check "net add n once the name is free" kvmbpf net add n type nat subnet 192.168.87.0/24 wan "$T-w"
# A hand-written file says the same as save in its own spelling (defaults
# left out, addresses in another order, to ADDR:PORT of the same port,
# two spaces): loaded again, all of it is in effect; what conflicts is
# still refused.
tap_add "$T-h1"; tap_add "$T-h2"
cat >"$s2" <<EOC
net add hw  type bridge
attach $T-h1 net hw ip fd99:1::5 ip 10.99.1.5
net add hn type nat subnet 10.98.1.0/24 dhcp off
attach $T-h2 net hn ip 10.98.1.5
forward add hn proto tcp port 8080 to 10.98.1.5:8080
forward add hn proto udp port 9000-9002 to 10.98.1.5:9000
EOC
check "load: a hand-written file" kvmbpf load "$s2"
out=$(kvmbpf load "$s2" 2>&1) && grep -q "0 applied, 6 already in effect or skipped, 0 failed" <<<"$out" &&
	pass "load: the same hand-written file again: all in effect" ||
	fail "load: the hand-written file again: '$out'"
printf 'net add hw type internal\n' >"$s2"
expect_err "load: a network of the name but another type: refused" "network hw exists as" \
	kvmbpf load "$s2"
printf 'net add hn type nat subnet 10.98.1.0/24 gateway 10.98.1.254 dhcp off\n' >"$s2"
expect_err "load: the network with another gateway: refused" "network hn exists as" \
	kvmbpf load "$s2"
printf 'net add hn type nat subnet 10.98.1.0/24 wan %s dhcp off\n' "$T-h2" >"$s2"
expect_err "load: the network with another wan: refused" "network hn exists as" \
	kvmbpf load "$s2"
printf 'attach %s net hw isolated on ip 10.99.1.5 ip fd99:1::5\n' "$T-h1" >"$s2"
expect_err "load: the port with another setting: refused" "is attached as" \
	kvmbpf load "$s2"
rm -f "$s1" "$s2" "$j1" "$j2"
finish

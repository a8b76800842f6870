#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A guest that floods the fabric's dnsmasq with DHCPv6 exchanges, each
# under a fresh DUID, from its own MAC and link-local (what a black-box
# test found: 1,100 of them filled dnsmasq's default lease table of 1,000,
# shared with DHCPv4, and every other guest's DHCPv4 was NAKed for a day):
#   - 60 SOLICIT -> REQUEST exchanges, then 10 SOLICITs with Rapid Commit
#     and 10 REBINDs, fresh DUIDs all: dnsmasq holds at most the port's
#     lease budget (16) of the attacker's leases, the rest are refused in
#     the datapath (dhcp6-lease-cap, counted);
#   - the attacker's RENEW of a lease it holds still gets its REPLY;
#   - another guest still gets its DHCPv4 lease (dhclient);
#   - dnsmasq runs with --dhcp-lease-max past its IPv4 pool plus 64 ports'
#     DHCPv6 budgets.
#
#   nat n: 192.168.87.0/24 + fd87:1::/64 (dhcp on), a attacker (scapy),
#   v victim (dhclient -4)
source "$(dirname "$0")/lib.sh"

command -v dhclient >/dev/null || { fail "dhcp6flood: dhclient missing (scripts/deps.sh installs it)"; exit 1; }
"$PY" -c 'import scapy.layers.dhcp6' 2>/dev/null ||
	{ fail "dhcp6flood: python3-scapy missing (scripts/deps.sh installs it)"; exit 1; }
scratch

check "net add nat with IPv6 (dhcp on)" kvmbpf net add n type nat \
	subnet 192.168.87.0/24 subnet fd87:1::/64
gw_if=$(kvmbpf -j net show n | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
LEASES=/run/kvmbpf/$gw_if.leases
for g in a v; do
	netns_add "$T-$g"
	in_ns "$T-$g" sysctl -qw net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.default.accept_ra=0
	guest_link "$T-$g" "$T-$g"
	kvmbpf attach "$T-$g" net n || fail "attach $g"
done
ll=$(ip -n "$T-a" -6 -o addr show dev eth0 scope link | awk '{print $4}' | cut -d/ -f1)

# nleases6: dnsmasq's DHCPv6 leases (lines whose address has a colon)
nleases6() { awk '$3 ~ /:/' "$LEASES" 2>/dev/null | wc -l; }

drops0=$(stat "$T-a" dhcp6-lease-cap)
cat >"$TMP/flood.py" <<'EOF'
import os, random, socket, sys
from scapy.layers.dhcp6 import *
from scapy.all import raw
n, ll = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
idx = socket.if_nametoindex('eth0')
s.bind((ll, 546, 0, idx))
dst = ('ff02::1:2', 547, 0, idx)

def ask(msg, want, wait):
    s.settimeout(wait)
    s.sendto(raw(msg), dst)
    try:
        while True:
            d = s.recv(2000)
            if d[0] == want and d[1:4] == raw(msg)[1:4]:
                return d
    except socket.timeout:
        return None

def duid():
    return DUID_EN(enterprisenum=random.randint(1, 1 << 30), id=os.urandom(8))

got = []
for i in range(n):
    c = duid()
    adv = ask(DHCP6_Solicit(trid=random.randint(0, 0xffffff)) / DHCP6OptClientId(duid=c) /
              DHCP6OptIA_NA(iaid=i + 1) / DHCP6OptElapsedTime(), 2, 2.0)
    if adv is None:
        continue
    adv = DHCP6_Advertise(adv)
    ia = adv.getlayer(DHCP6OptIA_NA)
    if ia is None or not ia.ianaopts:
        continue
    rep = ask(DHCP6_Request(trid=random.randint(0, 0xffffff)) / DHCP6OptClientId(duid=c) /
              DHCP6OptServerId(duid=adv[DHCP6OptServerId].duid) /
              DHCP6OptIA_NA(iaid=i + 1, ianaopts=ia.ianaopts) / DHCP6OptElapsedTime(), 7, 0.3)
    if rep is not None and DHCP6_Reply(rep).haslayer(DHCP6OptIAAddress):
        got.append((c, i + 1, DHCP6_Reply(rep)))
for i in range(10):
    ask(DHCP6_Solicit(trid=random.randint(0, 0xffffff)) / DHCP6OptClientId(duid=duid()) /
        DHCP6OptIA_NA(iaid=500 + i) / DHCP6OptRapidCommit() / DHCP6OptElapsedTime(), 7, 0.3)
for i in range(10):
    a = 'fd87:1::1f%02x' % i
    ask(DHCP6_Rebind(trid=random.randint(0, 0xffffff)) / DHCP6OptClientId(duid=duid()) /
        DHCP6OptIA_NA(iaid=600 + i, ianaopts=[DHCP6OptIAAddress(addr=a, preflft=3600, validlft=7200)]) /
        DHCP6OptElapsedTime(), 7, 0.3)
renewed = 0
if got:
    c, iaid, rep = got[0]
    r = ask(DHCP6_Renew(trid=random.randint(0, 0xffffff)) / DHCP6OptClientId(duid=c) /
            DHCP6OptServerId(duid=rep[DHCP6OptServerId].duid) /
            DHCP6OptIA_NA(iaid=iaid, ianaopts=[rep[DHCP6OptIAAddress]]) / DHCP6OptElapsedTime(), 7, 2.0)
    renewed = int(r is not None and DHCP6_Reply(r).haslayer(DHCP6OptIAAddress))
print(len(got), renewed)
EOF
read -r got renewed < <(in_ns "$T-a" timeout 120 "$PY" "$TMP/flood.py" 60 "$ll" 2>"$TMP/flood.err")
echo "# the attacker's REQUESTs answered with an address: ${got:-none}"
[ -n "${got:-}" ] && [ "$got" -ge 1 ] && [ "$got" -le 16 ] &&
	pass "the attacker's 60 fresh DUIDs got at most 16 leases ($got)" ||
	fail "the attacker got ${got:-no} leases of 60 (want 1 to 16): $(tail -3 "$TMP/flood.err")"
[ "${renewed:-0}" = 1 ] && pass "the attacker's RENEW of a lease it holds is answered" ||
	fail "the attacker's RENEW of a held lease got no REPLY with its address"
sleep 1	# the lease script runs after dnsmasq's reply
n6=$(nleases6)
# (its lease file there, and holding at least the leases it answered: a
# missing or unwritten file is no count of 0)
[ -e "$LEASES" ] && [ "$n6" -ge "${got:-1}" ] && [ "$n6" -le 16 ] &&
	pass "dnsmasq holds $n6 DHCPv6 leases of the attacker (at most 16)" ||
	fail "dnsmasq holds $n6 DHCPv6 leases after the flood (want ${got:-1} to 16; lease file $LEASES $( [ -e "$LEASES" ] && echo present || echo missing))"
d=$(( $(stat "$T-a" dhcp6-lease-cap) - drops0 ))
[ "$d" -ge 44 ] && pass "dhcp6-lease-cap counted the refused requests ($d)" ||
	fail "dhcp6-lease-cap counted $d (want at least 44)"

dhclient_script "$TMP/v4.addr"
in_ns "$T-v" timeout 30 dhclient -4 -1 -sf "$TMP/dhclient.sh" -lf "$TMP/dh.leases" \
	-pf "$TMP/dh.pid" eth0 >/dev/null 2>&1
v4=$(cat "$TMP/v4.addr" 2>/dev/null)
[[ "$v4" == 192.168.87.* ]] && pass "the other guest still gets its DHCPv4 lease ($v4)" ||
	fail "the other guest got no DHCPv4 lease after the flood"

max=$(tr '\0' '\n' <"/proc/$(cat "/run/kvmbpf/$gw_if.pid")/cmdline" | sed -n 's/^--dhcp-lease-max=//p')
[ "${max:-0}" -ge $((256 + 64 * 161)) ] &&
	pass "dnsmasq's --dhcp-lease-max ($max) covers the IPv4 pool and 64 ports' DHCPv6 budgets" ||
	fail "dnsmasq's --dhcp-lease-max is '${max:-unset}' (want at least $((256 + 64 * 161)))"
finish

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The ACL tables are shared by every distinct list of ACLs, and a changed
# list is built beside the one in use (an atomic switch). A command that
# changes no rule of a list keeps its set: with the tables over half full
# (33 ports, each with a 1,000-rule ACL shared by all and one of its own),
# attaching another port still works; a change that would rebuild every
# list is refused as "the ACL tables are full" and changes nothing.
#
# The fabric lives in its own namespace ($T-h, driven by nsenter); its
# ports are taps there.
source "$(dirname "$0")/lib.sh"

fabric_netns "$T-h" || { fail "setup: netns"; finish; }
for i in $(seq 72); do
	ip -n "$H" tuntap add mode tap name "tp$i" || fail "setup: tap tp$i"
done
f=$(mktemp)
{
	echo "acl add base"
	for i in $(seq 1000); do
		echo "acl rule add base egress allow proto udp dst 10.$((i / 250)).$((i % 250)).0/24 dport $((10000 + i))"
	done
} >"$f"
check "load: an ACL of 1,000 rules" kvmbpf load "$f"
rm -f "$f"
check "net add" kvmbpf net add t type internal
ok=0
for i in $(seq 33); do
	kvmbpf acl add "v$i" >/dev/null && kvmbpf acl rule add "v$i" ingress allow proto tcp dport "$i" >/dev/null &&
		kvmbpf attach "tp$i" net t acl "base,v$i" >/dev/null && ok=$((ok + 1))
done
[ $ok = 33 ] && pass "33 ports, each with base (1,000 rules) and an ACL of its own" ||
	fail "only $ok of 33 ports attached with their ACLs"
sets() { # the distinct ACL sets the ports use now: their count, and ids
	local sel=$(mktemp)
	bpftool -j map dump pinned "$BPFFS/kvb_aclsel" >"$sel"
	bpftool -j map dump pinned "$BPFFS/kvb_aclp" | "$PY" -c '
import json, sys
sel = {e["formatted"]["key"]: e["formatted"]["value"]["sel"] for e in json.load(open(sys.argv[1]))}
s = sorted({e["formatted"]["value"]["set"] for e in json.load(sys.stdin)
            if e["formatted"]["value"]["set"] and
            e["formatted"]["key"] % 2 == sel.get(e["formatted"]["key"] // 2, 0) % 2})
print(len(s), ",".join(map(str, s)))' "$sel"
	rm -f "$sel"
}
s0=$(sets)
[ "${s0%% *}" = 33 ] && pass "33 distinct sets in use" || fail "sets in use: '$s0'"
check "attach a 34th port (no ACL) with the tables over half full" kvmbpf attach tp34 net t
[ "$(sets)" = "$s0" ] && pass "the attach kept every set in use (none compiled again)" ||
	fail "sets before the attach '$s0', after '$(sets)'"
check "a change of one list (a rule of v1)" kvmbpf acl rule add v1 ingress allow proto tcp dport 2222
s1=$(sets)
out=$(kvmbpf acl rule add base egress allow proto udp dport 53 2>&1 >/dev/null)
rc=$?
[ $rc -ne 0 ] && printf '%s' "$out" | grep -q "ACL tables are full" &&
	pass "a change of base (every list) is refused: the tables are full" ||
	fail "a rule of base: exit $rc, '$out'"
n=$(kvmbpf -j acl show base | "$PY" -c 'import json, sys; print(len(json.load(sys.stdin)["rules"]))')
[ "$n" = 1000 ] && pass "the refused rule is not in base" || fail "base has $n rules"
[ "$(sets)" = "$s1" ] && pass "the ports keep their sets" || fail "sets before the refusal '$s1', after '$(sets)'"
out=$(kvmbpf acl rule del base 0 2>&1 >/dev/null)
rc=$?
[ $rc -ne 0 ] && printf '%s' "$out" | grep -q "ACL tables are full" &&
	pass "deleting a rule of base is refused too: the tables are full" ||
	fail "acl rule del base 0: exit $rc, '$out'"
first=$(kvmbpf -j acl show base | "$PY" -c '
import json, sys; r = json.load(sys.stdin)["rules"]; print(len(r), json.dumps(r[0], sort_keys=True))')
case $first in
"1000 "*10001*) pass "the refused delete left base as the ports enforce it (1,000 rules, rule 0 in place)" ;;
*) fail "base after the refused delete: '$first'" ;;
esac

# Fill the tables: more ports with lists of their own until one is
# refused as full (about 66 lists of 1,001 rules)
last=0
# (at most 64 ACLs: the new lists are base and two of the own ones; at
# most 64 ports a network: the last ones on a second network)
check "net add t2" kvmbpf net add t2 type internal
for i in $(seq 35 72); do
	n=t
	[ "$i" -gt 64 ] && n=t2
	k=$((i - 35))
	a=$((k % 33 + 1))
	b=$(((a - 1 + k / 33 + 1) % 33 + 1))
	out=$(kvmbpf attach "tp$i" net $n acl "base,v$a,v$b" 2>&1 >/dev/null) ||
		{ last=$i; break; }
done
[ "$last" -gt 40 ] && printf '%s' "$out" | grep -q "ACL tables are full" &&
	pass "the tables fill at port $last: its attach is refused as full" ||
	fail "filling the tables: last '$last', '$out'"
check_not "... and that port is not attached" sh -c "nsenter --net=$HNS ${K[*]} port show tp$last 2>/dev/null | grep -q tp$last"
# port set with a new list and a new MAC: refused, nothing of it kept
mac() { kvmbpf -j port show tp2 | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["mac"])'; }
m0=$(mac)
out=$(kvmbpf port set tp2 mac 52:54:00:aa:bb:02 acl v2,base,v9 2>&1 >/dev/null)
rc=$?
[ $rc -ne 0 ] && printf '%s' "$out" | grep -q "ACL tables are full" && [ "$(mac)" = "$m0" ] &&
	pass "port set mac and a new list, tables full: refused, the MAC as it was" ||
	fail "port set with the tables full: exit $rc, '$out', mac '$m0' -> '$(mac)'"
acls() { kvmbpf -j port show tp2 | "$PY" -c 'import json, sys; print(",".join(json.load(sys.stdin)["acl"]))'; }
[ "$(acls)" = "base,v2" ] && pass "... and its ACLs as they were" || fail "port set refused: acl '$(acls)'"
# net set with a new default list (tp34 takes it) and a new acl-ct-max:
# refused, acl-ct-max as it was
ctmax() { kvmbpf -j net show t | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["acl_ct_max"])'; }
c0=$(ctmax)
out=$(kvmbpf net set t acl-ct-max 1000 acl v3,base,v9 2>&1 >/dev/null)
rc=$?
[ $rc -ne 0 ] && printf '%s' "$out" | grep -q "ACL tables are full" && [ "$(ctmax)" = "$c0" ] &&
	pass "net set acl-ct-max and a new list, tables full: refused, acl-ct-max as it was ($c0)" ||
	fail "net set with the tables full: exit $rc, '$out', acl_ct_max '$c0' -> '$(ctmax)'"
# a new default alone: every list of t's ports is compiled again (their
# connections are judged again), which the full tables cannot take
defin() { kvmbpf -j net show t | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["default_ingress"])'; }
d0=$(defin)
out=$(kvmbpf net set t default-ingress drop acl-ct-max 1000 2>&1 >/dev/null)
rc=$?
[ $rc -ne 0 ] && printf '%s' "$out" | grep -q "ACL tables are full" && [ "$(defin)" = "$d0" ] &&
	[ "$(ctmax)" = "$c0" ] &&
	pass "net set default-ingress and acl-ct-max, tables full: refused, both as they were" ||
	fail "net set default with the tables full: exit $rc, '$out', default '$d0' -> '$(defin)', acl_ct_max '$c0' -> '$(ctmax)'"
check "detach a port whose list is its alone (tp40)" kvmbpf detach tp40
# a port set that is refused for an address another port holds changes
# no ACL on its way (checked before its ACL step)
check "port set tp1 ip 10.77.0.1" kvmbpf port set tp1 ip 10.77.0.1
s2=$(sets)
out=$(kvmbpf port set tp2 ip 10.77.0.1 acl v2,base,v9 2>&1 >/dev/null)
rc=$?
[ $rc -ne 0 ] && printf '%s' "$out" | grep -q "already an address of another port" && [ "$(sets)" = "$s2" ] &&
	pass "port set with another port's address: refused before its ACLs changed" ||
	fail "port set with a taken address: exit $rc, '$out', sets '$s2' -> '$(sets)'"
check "... and a port can take a new list again" kvmbpf port set tp2 acl v2,base,v9
# the sets no port uses any more go with the command that made them so
# (t122: they stayed in the shared tables until the next change of ACLs):
# a detach, a device gone and the upkeep, a net del; nothing is left
tabn() { bpftool -j map dump pinned "$BPFFS/$1" | "$PY" -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
b0=$(tabn kvb_aclbit) l0=$(tabn kvb_acllpm)
check "detach tp2 (a list of its own: v2,base,v9)" kvmbpf detach tp2
b1=$(tabn kvb_aclbit) l1=$(tabn kvb_acllpm)
[ "$b1" -lt "$b0" ] && [ "$l1" -lt "$l0" ] &&
	pass "detach: its set's entries go at once (aclbit $b0 -> $b1, acllpm $l0 -> $l1)" ||
	fail "detach: aclbit $b0 -> $b1, acllpm $l0 -> $l1"
ip -n "$H" link del tp3
check "gc (tp3's device gone)" kvmbpf gc
b2=$(tabn kvb_aclbit) l2=$(tabn kvb_acllpm)
[ "$b2" -lt "$b1" ] && [ "$l2" -lt "$l1" ] &&
	pass "a device gone: its set's entries go with the upkeep (aclbit $b1 -> $b2, acllpm $l1 -> $l2)" ||
	fail "a device gone: aclbit $b1 -> $b2, acllpm $l1 -> $l2"
check "net del t (its ports with it)" kvmbpf net del t
check "net del t2 (its ports with it)" kvmbpf net del t2
expect "... no set's entry left in kvb_aclbit" 0 "$(tabn kvb_aclbit)"
expect "... nor in kvb_acllpm" 0 "$(tabn kvb_acllpm)"
finish

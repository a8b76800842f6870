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
for i in $(seq 34); do
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
sets() { # the distinct ACL sets the ports use now
	bpftool -j map dump pinned "$BPFFS/kvb_aclp" | "$PY" -c '
import json, sys
print(len({e["formatted"]["value"]["set"] for e in json.load(sys.stdin) if e["formatted"]["value"]["set"]}))'
}
[ "$(sets)" = 33 ] && pass "33 distinct sets in use" || fail "sets in use: '$(sets)'"
check "attach a 34th port (no ACL) with the tables over half full" kvmbpf attach tp34 net t
check "a change of one list (a rule of v1)" kvmbpf acl rule add v1 ingress allow proto tcp dport 2222
out=$(kvmbpf acl rule add base egress allow proto udp dport 53 2>&1 >/dev/null)
rc=$?
[ $rc -ne 0 ] && printf '%s' "$out" | grep -q "ACL tables are full" &&
	pass "a change of base (every list) is refused: the tables are full" ||
	fail "a rule of base: exit $rc, '$out'"
n=$(kvmbpf -j acl show base | "$PY" -c 'import json, sys; print(len(json.load(sys.stdin)["rules"]))')
[ "$n" = 1000 ] && pass "the refused rule is not in base" || fail "base has $n rules"
[ "$(sets)" = 33 ] && pass "the ports keep their sets" || fail "sets in use after the refusal: '$(sets)'"
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
check "detach one port" kvmbpf detach tp34
finish

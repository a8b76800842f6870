#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# kvb_aclon, the fabric's "any port has ACLs" word: the datapath skips
# every ACL step while it is off, so it must be on from the command that
# puts the first set in force (a port's, a network's default) and off
# once the last one left, and traffic must be judged from that command
# on, both ways: a bridge "lan" of guests g1 (10.94.0.11), g2 (.12).
source "$(dirname "$0")/lib.sh"

# the word as the datapath reads it
aclon() {
	bpftool -j map dump pinned "$BPFFS/kvb_aclon" | "$PY" -c '
import json, sys
e = json.load(sys.stdin)[0]
print(e.get("formatted", e)["value"]["on"])'
}


kvmbpf net add lan type bridge || { fail "net add lan"; exit 1; }
for i in 1 2; do
	netns_add "$T-g$i"
	guest_link "$T-g$i" "$T-g$i"
	ip -n "$T-g$i" addr add 10.94.0.1$i/24 dev eth0
	kvmbpf attach "$T-g$i" net lan ip 10.94.0.1$i || fail "attach g$i"
done
check "acl add noping" kvmbpf acl add noping
check "rule: ingress allow tcp 22 (echo takes the default: reject)" \
	kvmbpf acl rule add noping ingress allow proto tcp dport 22
check "rule: egress allow" kvmbpf acl rule add noping egress allow

expect "no port has ACLs: off" 0 "$(aclon)"
check "g2 pings g1" ping4 "$T-g2" 10.94.0.11

check "port set g1 acl noping" kvmbpf port set "$T-g1" acl noping
expect "a port's set in force: on" 1 "$(aclon)"
check_not "g2's echo to g1 refused at once" ping4 "$T-g2" 10.94.0.11
check "g1 still pings g2 (its reply passes)" ping4 "$T-g1" 10.94.0.12

check "port set g1 acl none" kvmbpf port set "$T-g1" acl none
expect "the last set gone: off" 0 "$(aclon)"
check "g2 pings g1 again" ping4 "$T-g2" 10.94.0.11

check "net set lan acl noping (the network's default)" kvmbpf net set lan acl noping
expect "a network's default in force: on" 1 "$(aclon)"
check_not "g1's echo to g2 refused" ping4 "$T-g1" 10.94.0.12
check "detach g2" kvmbpf detach "$T-g2"
expect "one port still judged by the default: on" 1 "$(aclon)"
check "detach g1" kvmbpf detach "$T-g1"
expect "no port left: off" 0 "$(aclon)"

finish

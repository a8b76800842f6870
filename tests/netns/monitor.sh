#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# kvmbpf monitor: drops stream with port, reason and headers while a
# monitor runs, and stop being reported once it is gone.
source "$(dirname "$0")/lib.sh"

M=52:54:00:96:00:01
kvmbpf net add lan type bridge || fail "net add"
ip tuntap add dev "$T-t" mode tap vnet_hdr && LINK_LIST+=("$T-t")
ip link set "$T-t" up
kvmbpf attach "$T-t" net lan mac $M ip 10.96.0.1 || fail "attach"
spoof=$(cd "$ROOT/tests/tools" && "$PY" -c "
import craft
print(craft.eth(craft.mac('ff:ff:ff:ff:ff:ff'), craft.mac('$M'), 0x0800,
      craft.ip4('10.96.0.66', '10.96.0.2', 17, craft.udp(1234, 53, b'x'))).hex())")
tagged="ffffffffffff$(echo $M | tr -d :)81000005080045000014000000004011000000000000000000000000"

# wait until a monitor holds its lease (kvb_mon until_ns set)
await_lease() {
	local i
	for i in $(seq 100); do
		bpftool map dump pinned "$BPFFS/kvb_mon" | grep -q '"until_ns": [1-9]' && return
		sleep 0.05
	done
}

# monitored N FRAME...: `monitor -j` of the tap for N events into $out,
# the frames written into the tap once it listens; its exit status
monitored() {
	local n=$1 f mpid; shift
	timeout 20 "${K[@]}" -j monitor "$T-t" drops count "$n" >"$out" &
	mpid=$!
	await_lease
	for f in "$@"; do "$ROOT/build/sendraw" --tap "$T-t" "$f"; done
	wait $mpid
}

out=$(mktemp)
monitored 2 "$spoof" "$tagged"
rc=$?
[ $rc = 0 ] && pass "monitor: exits after count 2" || fail "monitor: exit status $rc"
check "monitor: spoof event with port, reason, addresses, ports" "$PY" -c "
import json
ev = [json.loads(l) for l in open('$out') if l.strip()]
e = ev[0]
assert e['dev'] == '$T-t' and e['reason'] == 'spoof-ip', e
assert e['src'] == '10.96.0.66' and e['dst'] == '10.96.0.2', e
assert e['proto'] == 17 and e['sport'] == 1234 and e['dport'] == 53, e
assert e['src_mac'] == '$M' and e['head'].startswith('ffffffffffff'), e"
check "monitor: second event is the VLAN drop" "$PY" -c "
import json
ev = [json.loads(l) for l in open('$out') if l.strip()]
assert len(ev) == 2 and ev[1]['reason'] == 'vlan-tagged', ev"
check "monitor: lease released on exit" sh -c \
	"bpftool map dump pinned $BPFFS/kvb_mon | grep -q '\"until_ns\": 0'"
# With nobody listening, drops are counted and nothing is queued.
"$ROOT/build/sendraw" --tap "$T-t" "$spoof"
monitored 1 "$tagged"
check "monitor: a drop while nobody listened was not queued" "$PY" -c "
import json
ev = [json.loads(l) for l in open('$out') if l.strip()]
assert len(ev) == 1 and ev[0]['reason'] == 'vlan-tagged', ev"
[ "$(stat "$T-t" spoof-ip)" = 2 ] && pass "monitor: drops still counted" ||
	fail "monitor: spoof-ip count $(stat "$T-t" spoof-ip), want 2"
# An ACL refusal that is answered (a reject rule: ICMP back to the guest)
# is reported too, with the refused frame's head, not the answer's
# (before, only the count: the answer had overwritten the frame)
kvmbpf acl add rj && kvmbpf acl rule add rj egress reject proto udp dport 53 &&
	kvmbpf port set "$T-t" acl rj || fail "acl rj on $T-t"
rejected=$(cd "$ROOT/tests/tools" && "$PY" -c "
import craft
print(craft.eth(craft.mac('52:54:00:96:00:02'), craft.mac('$M'), 0x0800,
      craft.ip4('10.96.0.1', '10.96.0.2', 17, craft.udp(1234, 53, b'x'))).hex())")
r0=$(stat "$T-t" acl-reject)
monitored 1 "$rejected"
check "monitor: an answered reject, with the refused frame's head" "$PY" -c "
import json
ev = [json.loads(l) for l in open('$out') if l.strip()]
assert len(ev) == 1, ev
e = ev[0]
assert e['reason'] == 'acl-reject' and e['src'] == '10.96.0.1', e
assert e['dst'] == '10.96.0.2' and e['proto'] == 17 and e['dport'] == 53, e"
[ "$(stat "$T-t" acl-reject)" = $((r0 + 1)) ] && pass "monitor: the reject counted once" ||
	fail "monitor: acl-reject +$(($(stat "$T-t" acl-reject) - r0)), want +1"
# a short IPv6 UDP frame (63 bytes: its UDP header ends at 62) shows its
# ports too (before, the head stopped at 54 below 74 bytes)
rejected6=$(cd "$ROOT/tests/tools" && "$PY" -c "
import craft
print(craft.eth(craft.mac('52:54:00:96:00:02'), craft.mac('$M'), 0x86dd,
      craft.ip6('fd96::1', 'fd96::2', 17, craft.udp(1234, 53, b'x'))).hex())")
monitored 1 "$rejected6"
check "monitor: a 63-byte IPv6 UDP frame's event has its ports" "$PY" -c "
import json
ev = [json.loads(l) for l in open('$out') if l.strip()]
assert len(ev) == 1, ev
e = ev[0]
assert e['src'] == 'fd96::1' and e['proto'] == 17, e
assert e['sport'] == 1234 and e['dport'] == 53, e"
rm -f "$out"
finish

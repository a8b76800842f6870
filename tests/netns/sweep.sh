#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/tools/sweep.sh, which tests/run.sh runs first: what a test run
# killed outright (SIGKILL: no EXIT trap) left behind goes, a live run's
# things stay. A killed run's nat gateway kept 10.71.x and 10.99.3.0/24
# routed to its dead links in the root namespace, and the next suite's
# routed.sh and acl.sh lost their traffic to them.
source "$(dirname "$0")/lib.sh"
scratch

# child NAME SUBNET: a test run of its own (lib.sh: its own prefix and
# record) that makes a routed network with a gateway and one guest, writes
# its prefix and the gateway interface to $TMP/NAME, and waits
child() {
	cat > "$TMP/$1.sh" <<EOF
source "$ROOT/tests/netns/lib.sh"
kvmbpf net add sw type routed subnet $2 >/dev/null || exit 1
netns_add "\$T-g1"
guest_link "\$T-g1" "\$T-g1"
kvmbpf attach "\$T-g1" net sw >/dev/null || exit 1
gw=\$(kvmbpf -j net show sw | $PY -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
echo "\$T \$gw" > "$TMP/$1.tmp" && mv "$TMP/$1.tmp" "$TMP/$1"
exec sleep 3600
EOF
	setsid bash "$TMP/$1.sh" > "$TMP/$1.log" 2>&1 &
	CHILD_PID=$!
	BG_PIDS+=("$CHILD_PID")
}

# ready NAME: the child NAME has written its prefix (or died trying)
ready() {
	local i
	for i in $(seq 600); do
		[ -s "$TMP/$1" ] && return 0
		kill -0 "$CHILD_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# whatever a failed check leaves of the children goes too
trap 'for p in "$dead_pid" "$live_pid"; do
		[ "$p" -gt 0 ] && kill -KILL -- -"$p" 2>/dev/null; done
	bash "$ROOT/tests/tools/sweep.sh" "$ROOT/build/kvmbpf" >/dev/null; cleanup' EXIT
dead_pid=0 live_pid=0
child dead 10.162.5.0/24
dead_pid=$CHILD_PID
ready dead || { fail "setup: the child run made no fabric: $(cat "$TMP/dead.log")"; exit 1; }
read -r dt dgw < "$TMP/dead"
child live 10.162.6.0/24
live_pid=$CHILD_PID
ready live || { fail "setup: the second child run made no fabric: $(cat "$TMP/live.log")"; exit 1; }
read -r lt lgw < "$TMP/live"

present() {	# PREFIX GW: what a run made, each as 1 or 0
	local ns=0 link=0 pins=0 gw=0 route=0 rec=0
	ip netns list | grep -q "^$1-g1" && ns=1
	ip link show "$1-g1" >/dev/null 2>&1 && link=1
	[ -d "/sys/fs/bpf/kvbt_$1" ] && pins=1
	ip link show "$2" >/dev/null 2>&1 && gw=1
	[ -n "$(ip route show dev "$2" 2>/dev/null)" ] && route=1
	[ -f "$KVBT_RUN/$1" ] && rec=1
	echo "ns=$ns link=$link pins=$pins gw=$gw route=$route record=$rec"
}
all="ns=1 link=1 pins=1 gw=1 route=1 record=1"
expect "the run to kill made its namespace, link, pins, gateway, route, record" "$all" "$(present "$dt" "$dgw")"

# SIGKILL: the child's EXIT trap never runs (its sleep is its last command)
kill -KILL -- -"$dead_pid" 2>/dev/null
wait "$dead_pid" 2>/dev/null
expect "killed outright, it left all of it" "$all" "$(present "$dt" "$dgw")"

out=$(bash "$ROOT/tests/tools/sweep.sh" "$ROOT/build/kvmbpf")
check "the sweep names the dead run" grep -q "^swept $dt: a test run that died without cleaning up (1 namespaces" <<<"$out"
expect "the dead run's namespace, link, pins, gateway, route and record are gone" \
	"ns=0 link=0 pins=0 gw=0 route=0 record=0" "$(present "$dt" "$dgw")"
check_not "the live run is not named" grep -q "$lt" <<<"$out"
expect "the live run keeps all it made" "$all" "$(present "$lt" "$lgw")"
check "this run's own record stays" test -f "$KVBT_RUN/$T"

# a record whose PID a later process took (another start time) is stale
kill -KILL -- -"$live_pid" 2>/dev/null
wait "$live_pid" 2>/dev/null
echo "$$ 1" > "$KVBT_RUN/$lt"
out=$(bash "$ROOT/tests/tools/sweep.sh" "$ROOT/build/kvmbpf")
check "a PID reused by another process does not keep a dead run" grep -q "^swept $lt:" <<<"$out"
expect "... and its things go" "ns=0 link=0 pins=0 gw=0 route=0 record=0" "$(present "$lt" "$lgw")"

out=$(bash "$ROOT/tests/tools/sweep.sh" "$ROOT/build/kvmbpf")
check_not "a second sweep finds nothing of theirs" grep -q "$dt\|$lt" <<<"$out"

# a prefix without a record (a run of a build before the records, still
# running), made just now: left alone, said; one whose record is
# half-written (no start time yet): left alone, silently
for _ in $(seq 20); do
	old=kt$(printf '%05d' $((RANDOM % 100000)))
	[ ! -e "$KVBT_RUN/$old" ] && ! ip netns list | grep -q "^$old-" && break
done
netns_add "$old-x"
out=$(bash "$ROOT/tests/tools/sweep.sh" "$ROOT/build/kvmbpf")
grep -q "^left $old alone: no record" <<<"$out" && ip netns list | grep -q "^$old-x" &&
	pass "a young prefix without a record is left alone, said" ||
	fail "a young prefix without a record: sweep said '$out'"
echo "$$" > "$KVBT_RUN/$old"
out=$(bash "$ROOT/tests/tools/sweep.sh" "$ROOT/build/kvmbpf")
! grep -q "$old" <<<"$out" && ip netns list | grep -q "^$old-x" &&
	pass "a half-written record is a live run's" ||
	fail "a half-written record: sweep said '$out'"
rm -f "$KVBT_RUN/$old"
exit 0

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The fabric's lock is its pin directory's. A command that waited for it
# while the directory was removed (reset) and made anew by another
# command (a first `net add` or `load`) must not go on under the lock of
# the directory that is gone: it takes the new directory's lock, and
# waits for its holder. Driven by flock(1) holding the locks, and by the
# waiting command's kernel wait channel, not by timing.
source "$(dirname "$0")/lib.sh"

OLD=${BPFFS}_old
go1=$(mktemp -u) go2=$(mktemp -u)
trap '"${K[@]}" --bpffs "$OLD" reset >/dev/null 2>&1; rm -rf "$OLD" "$go1" "$go2"; cleanup' EXIT
# waiting PID: 0 once PID waits for a file lock, 1 once it exited
waiting() {
	local i
	for i in $(seq 200); do
		[ -d "/proc/$1" ] || return 1
		grep -q "^locks_lock_inode_wait" "/proc/$1/wchan" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
check "net add n1: a fabric" kvmbpf net add n1 type internal
flock -x "$BPFFS" -c "while [ ! -e $go1 ]; do sleep 0.05; done" &
h1=$!
"${K[@]}" net add n2 type internal >/dev/null 2>&1 &
a=$!
if waiting $a; then pass "a command waits for the fabric's lock"; else fail "the command did not wait for the lock"; fi
# the directory goes (as reset removes it) and another command makes a
# fabric under the same name, whose lock is then held
mv "$BPFFS" "$OLD"
check "a new fabric under the same name" kvmbpf net add n3 type internal
flock -x "$BPFFS" -c "while [ ! -e $go2 ]; do sleep 0.05; done" &
h2=$!
touch "$go1"
wait $h1
if waiting $a; then
	pass "the waiting command, given the gone directory's lock, waits for the new one's"
else
	fail "the waiting command went on under the lock of a directory that is gone"
fi
touch "$go2"
wait $h2
wait $a
rc=$?
[ $rc = 0 ] && pass "... and then runs, on the new fabric" || fail "the waiting command: exit $rc"
nets=$(kvmbpf -j net show | "$PY" -c 'import json, sys; print(" ".join(sorted(n["name"] for n in json.load(sys.stdin))))')
[ "$nets" = "n2 n3" ] && pass "the new fabric has n3 and the waiting command's n2" ||
	fail "networks of the new fabric: '$nets'"
finish

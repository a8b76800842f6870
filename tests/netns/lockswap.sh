#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The fabric's lock is its pin directory's. A command that waited for it
# while the directory was removed (reset) and made anew by another
# command (a first `net add` or `load`) must not go on under the lock of
# the directory that is gone: it takes the new directory's lock, and
# waits for its holder. Driven by flock(1) holding the locks, each
# telling when it holds, and by /proc/locks saying on which directory's
# lock the command waits: no timing.
source "$(dirname "$0")/lib.sh"

OLD=${BPFFS}_old
go1=$(mktemp -u) go2=$(mktemp -u) held1=$(mktemp -u) held2=$(mktemp -u)
trap '"${K[@]}" --bpffs "$OLD" reset >/dev/null 2>&1; rm -rf "$OLD" "$go1" "$go2" "$held1" "$held2"; cleanup' EXIT
# held FILE: wait until a holder says it holds its lock (it made FILE)
held() {
	local i
	for i in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.05; done
	return 1
}
# waiting PID DIR: 0 once PID waits for the lock of the directory DIR is
# now (/proc/locks: a blocked waiter on its inode), 1 if it never does
waiting() {
	local i ino
	ino=$(command stat -c %i "$2") || return 1
	for i in $(seq 200); do
		grep -Eq "^[0-9]+: +-> FLOCK +ADVISORY +WRITE +$1 [0-9a-f]+:[0-9a-f]+:$ino " /proc/locks &&
			return 0
		[ -d "/proc/$1" ] || return 1
		sleep 0.05
	done
	return 1
}
check "net add n1: a fabric" kvmbpf net add n1 type internal
flock -x "$BPFFS" -c "touch $held1; while [ ! -e $go1 ]; do sleep 0.05; done" &
h1=$!
held "$held1" || fail "the first holder did not get the lock"
"${K[@]}" net add n2 type internal >/dev/null 2>&1 &
a=$!
if waiting $a "$BPFFS"; then pass "a command waits for the fabric's lock"; else fail "the command did not wait for the lock"; fi
# the directory goes (as reset removes it) and another command makes a
# fabric under the same name, whose lock is then held
mv "$BPFFS" "$OLD"
check "a new fabric under the same name" kvmbpf net add n3 type internal
flock -x "$BPFFS" -c "touch $held2; while [ ! -e $go2 ]; do sleep 0.05; done" &
h2=$!
held "$held2" || fail "the second holder did not get the lock"
touch "$go1"
wait $h1
if waiting $a "$BPFFS"; then
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

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Remove what a test run killed outright (SIGKILL, a machine's session
# ending, timeout -k) left behind: its namespaces, links, bpffs pins and
# the fabric's own host interfaces. A test's EXIT trap cannot run on
# SIGKILL, and what stays holds routes in the root namespace (a WAN
# 10.99.3.0/24, a routed network's gateways) that the next run's tests
# use too: its traffic then leaves by the dead run's links.
#
# Every namespace test names all it makes after its prefix T (ktNNNNN,
# tests/netns/lib.sh), and records itself in $KVBT_RUN/$T as "PID
# STARTTIME" before it makes anything. A prefix is stale when that record
# names a process no longer running (same PID and start time: a reused
# PID is another process). A prefix without a record (a run of a build
# before the records) is stale only when all of it is older than any run
# may last (KVB_TEST_TIMEOUT and its grace), and the sweep claims it with
# a record of its own first; a record it cannot read is a live run's.
# Live runs are never touched.
#
# Each of a stale run's fabrics is reset from the root namespace first,
# once whatever of the run still holds its pins (a lock holder) is
# killed: that gives back the host interfaces it made (nat gateways,
# kvb*) and their routes. kvmbpf itself refuses a fabric made in another
# namespace (its ifindexes are not the root's); such a fabric goes with
# its namespace.
#
#   tests/tools/sweep.sh [KVMBPF]   prints one line per stale run swept
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KVB=${1:-$ROOT/build/kvmbpf}
RUN=${KVBT_RUN:-/run/kvbt}

# alive PID STARTTIME: that very process still runs
alive() {
	local st
	st=$(awk '{print $22}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$st" = "$2" ]
}

# the prefixes anything of a test carries
prefixes() {
	{
		ip netns list 2>/dev/null | awk '{print $1}'
		ip -o link show 2>/dev/null | awk -F': ' '{print $2}' |
			sed 's/@.*//'
		ls /sys/fs/bpf 2>/dev/null | sed -n 's/^kvbt_//p'
		ls "$RUN" 2>/dev/null
	} | grep -oE '^kt[0-9]{5}' | sort -u
}

# age_ok PREFIX: every namespace and pin directory of it is older than
# the longest run (a run makes both before its first check)
age_ok() {
	local max=$(( ${KVB_TEST_TIMEOUT:-900} + 120 )) now f
	now=$(date +%s)
	for f in /run/netns/"$1"-* /sys/fs/bpf/kvbt_"$1"*; do
		[ -e "$f" ] || continue
		[ $((now - $(stat -c %Y "$f"))) -gt "$max" ] || return 1
	done
	return 0
}

for t in $(prefixes); do
	rec=$RUN/$t
	if [ -f "$rec" ]; then
		read -r pid st < "$rec"
		# half-written (an older claim) or unreadable: a live run's
		[[ "$pid" =~ ^[0-9]+$ && "$st" =~ ^[0-9]+$ ]] || continue
		alive "$pid" "$st" && continue
	else
		age_ok "$t" || {
			echo "left $t alone: no record, and younger than any run may last"
			continue
		}
		# the prefix is the sweep's while it works: no new run takes it
		claim=$(mktemp "$RUN/.claim.XXXXXX") || continue
		echo "$$ $(awk '{print $22}' /proc/$$/stat)" > "$claim"
		ln "$claim" "$rec" 2>/dev/null || { rm -f "$claim"; continue; }
		rm -f "$claim"
	fi
	n_ns=0 n_links=0
	# what of the run still runs and names its pins (a lock holder:
	# reset would wait for it for ever)
	pkill -KILL -f -- "/sys/fs/bpf/kvbt_$t" 2>/dev/null
	for b in /sys/fs/bpf/kvbt_"$t" /sys/fs/bpf/kvbt_"$t"_*; do
		[ -d "$b" ] && [ -x "$KVB" ] &&
			timeout 60 "$KVB" --bpffs "$b" reset >/dev/null 2>&1
	done
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$t-"); do
		ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		ip netns del "$n" 2>/dev/null && n_ns=$((n_ns + 1))
	done
	for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' |
		sed 's/@.*//' | grep "^$t-"); do
		ip link del "$l" 2>/dev/null && n_links=$((n_links + 1))
	done
	rm -rf /sys/fs/bpf/kvbt_"$t" /sys/fs/bpf/kvbt_"$t"_* "$rec"
	echo "swept $t: a test run that died without cleaning up ($n_ns namespaces, $n_links links)"
done
exit 0

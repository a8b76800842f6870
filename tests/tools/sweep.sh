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
# PID is another process) or is missing (a build before the records).
# Live runs are never touched.
#
# Each of a stale run's fabrics is reset from the root namespace first:
# that gives back the host interfaces it made (nat gateways, kvb*) and
# their routes. kvmbpf itself refuses a fabric made in another namespace
# (its ifindexes are not the root's); such a fabric goes with its
# namespace.
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

for t in $(prefixes); do
	rec=$RUN/$t
	if [ -f "$rec" ]; then
		read -r pid st < "$rec"
		alive "$pid" "$st" && continue
	fi
	n_ns=0 n_links=0
	for b in /sys/fs/bpf/kvbt_"$t" /sys/fs/bpf/kvbt_"$t"_*; do
		[ -d "$b" ] && [ -x "$KVB" ] &&
			"$KVB" --bpffs "$b" reset >/dev/null 2>&1
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

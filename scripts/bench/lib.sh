# SPDX-License-Identifier: MIT
# What the bench scripts (run.sh, uplink.sh, natwan.sh) share. Source it
# after setting ROOT and T (the prefix of the bench's names); do not run
# it. The caller's fail_run says how a failed run is reported.

B=$ROOT/build/kvbbench
PY=/usr/bin/python3
RUNS=${RUNS:-3}
PKTS=${PKTS:-1000000}
GENCPU=${GENCPU:-1}
# the guest's reader (tap benches), on another CPU than the generator
READCPU=${READCPU:-$((GENCPU == 0 ? 1 : 0))}
BPFFS=/sys/fs/bpf/kvbbench_$T
K=("$ROOT/build/kvmbpf" --bpffs "$BPFFS")
OUT=$ROOT/build/bench
mkdir -p "$OUT"
FAILED=0
PROFILE_AS=	# tap_measure: perf instead of figures when set

# del_names: every namespace ($T-s sender, $T-d receiver, $T-m middle,
# $T-g guest) and device ($T-a, $T-b, $T-br, $T-ta, $T-tb) a bench makes,
# those that exist
del_names() {
	local n
	for n in s d m g; do ip netns del "$T-$n" 2>/dev/null; done
	for n in a b br ta tb; do ip link del "$T-$n" 2>/dev/null; done
}

# stop_pid PID: kill and reap a process the bench started (none: nothing)
stop_pid() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; }

record() { echo "$*" >>"$RES"; }

# veth_ns NS DEV MAC ADDR/LEN: a namespace NS (a sender, a guest) whose
# eth0 (MAC, ADDR) is the peer of veth DEV in the host's namespace; DEV
# up, without IPv6
veth_ns() {
	ip netns add "$1"
	ip link add "$2" type veth peer name eth0 netns "$1"
	ip -n "$1" link set eth0 address "$3" up
	ip -n "$1" addr add "$4" dev eth0
	sysctl -qw net.ipv6.conf."$2".disable_ipv6=1
	ip link set "$2" up
}

# port_fwd DEV: "XDP_FWD RX_PACKETS" of a port of the bench's fabric
# (nothing when DEV is not one)
port_fwd() {
	"${K[@]}" -j stats "$1" 2>/dev/null | "$PY" -c "
import json, sys
d = json.load(sys.stdin); print(d['xdp_fwd'], d['rx_packets'])" 2>/dev/null
}

# record_fast NAME BEFORE AFTER: the share of the port's frames that took
# the XDP fast path between two port_fwd readings, as fastpath NAME
record_fast() {
	[ -n "$2" ] && [ -n "$3" ] || return 0
	record fastpath "$1" "$("$PY" -c "
b, a = '$2'.split(), '$3'.split()
rx = int(a[1]) - int(b[1]); print((int(a[0]) - int(b[0])) / rx if rx else 0)")"
}

# gen ARGS...: the generator in the sender's namespace, pinned to GENCPU
gen() { taskset -c "$GENCPU" ip netns exec "$T-s" "$B" gen eth0 "$@"; }

# tap_cleanup: the tap benches' end (and start of each set-up): the
# guest's reader stopped, the fabric reset and removed, the bench's
# namespaces and devices deleted
tap_cleanup() {
	stop_pid "$SINK_PID"
	SINK_PID=
	[ -d "$BPFFS" ] && "${K[@]}" reset >/dev/null 2>&1
	rm -rf "$BPFFS"
	del_names
}

# The tap benches (uplink.sh, natwan.sh): the guest's NIC is the tap
# $T-tb in the namespace whose command prefix is NS (empty: the host's),
# read as QEMU reads it by `kvbbench tapsink`, which verifies every UDP
# checksum; the path's port is $T-a.

# tapstat: frames handed to the tap so far: the fabric's tx count on its
# port, else (the kernel's path) tun's tx_packets + tx_dropped
tapstat() {
	if [ ${#NS[@]} = 0 ]; then
		"${K[@]}" -j stats "$T-tb" | "$PY" -c "
import json, sys; print(json.load(sys.stdin)['tx_packets'])"
	else
		"${NS[@]}" cat /sys/class/net/"$T-tb"/statistics/tx_packets \
			/sys/class/net/"$T-tb"/statistics/tx_dropped |
			awk '{ s += $1 } END { print s }'
	fi
}

# sink_start: the guest's reader on $T-tb, pinned to READCPU, until it is
# ready; its output in SINK_OUT
sink_start() {
	local i
	SINK_OUT=$(mktemp)
	"${NS[@]}" taskset -c "$READCPU" "$B" tapsink "$T-tb" >"$SINK_OUT" 2>&1 &
	SINK_PID=$!
	for i in $(seq 100); do grep -q ready "$SINK_OUT" && break; sleep 0.05; done
}

# tap_measure NAME DMAC FLOWS SADDR DADDR MODE: one run, recorded as
# NAME: FLOWS flows from the sender to DMAC (gen ... SADDR DADDR MODE),
# warmed up (every flow at least once: learnt, established), then PKTS
# frames measured: rate (frames handed to the tap per second of the
# generator's time), delivered (the share the guest read), reached (the
# share handed to the tap), fastpath; a run that moved nothing or
# corrupted a checksum fails. With PROFILE_AS set (a file name), perf
# records the generator's CPU (the path's) during the measured run instead
# and its report is printed: the rates of such a run are not figures
tap_measure() {
	local name=$1 dmac=$2 flows=$3 line s0 s1 f0 f1 t got rd bad
	shift 3
	sink_start
	gen "$dmac" $SRC "$flows" $((flows * 2 > 1000 ? flows * 2 : 1000)) \
		"$@" >/dev/null
	sleep 0.2
	s0=$(tapstat)
	f0=$(port_fwd "$T-a")
	if [ -n "${PROFILE_AS:-}" ]; then
		line=$(perf record -C "$GENCPU" -q -o "$OUT/$PROFILE_AS" -- \
			taskset -c "$GENCPU" ip netns exec "$T-s" "$B" gen eth0 \
			"$dmac" $SRC "$flows" "$PKTS" "$@" 2>/dev/null)
		echo "-- profile $name"
		perf report -i "$OUT/$PROFILE_AS" --stdio --sort sym \
			--percent-limit 1.5 2>/dev/null | grep -v '^#' |
			grep -v '^$' | head -16
		rm -f "$OUT/$PROFILE_AS"
	else
		line=$(gen "$dmac" $SRC "$flows" "$PKTS" "$@") ||
			fail_run "$name: generator failed"
	fi
	sleep 0.3	# the last frames still in flight
	s1=$(tapstat)
	f1=$(port_fwd "$T-a")
	stop_pid "$SINK_PID"
	SINK_PID=
	read -r _ t how <<<"$line"	# how: "packet" from the AF_PACKET sender
	[ "${how:-}" = packet ] && record generator af_packet 1
	read -r rd bad < <(awk '$1 == "read" { print $2, $4 }' "$SINK_OUT")
	rm -f "$SINK_OUT"
	got=$((s1 - s0))
	if [ -z "${rd:-}" ] || [ "${rd:-0}" -le 0 ] || [ "$got" -le 0 ]; then
		fail_run "$name: the guest got nothing of $PKTS frames"
		return
	fi
	[ "${bad:-0}" != 0 ] && fail_run "$name: $bad of $rd frames with a bad UDP checksum"
	record rate "$name" "$("$PY" -c "print(int(min($got, $PKTS) / $t))")"
	record delivered "$name" "$("$PY" -c "print(min(${rd:-0} / $PKTS, 1.0))")"
	record reached "$name" "$("$PY" -c "print(min($got / $PKTS, 1.0))")"
	record_fast "$name" "$f0" "$f1"
}

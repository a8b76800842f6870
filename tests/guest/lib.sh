# SPDX-License-Identifier: MIT
# Real-guest helpers: QEMU (TCG, virtio-net on a tap, vhost off) booting the
# image scripts/guest-image.sh builds. Guests run a scenario script passed on
# the kernel command line and report "KVB ..." lines on the serial console.
# Source after tests/netns/lib.sh.

GUEST_CACHE=$ROOT/tests/guest/cache
GUEST_PIDS=()
GUEST_LOGDIR=$(mktemp -d)

guest_cleanup() {
	local p
	for p in "${GUEST_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${GUEST_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$GUEST_LOGDIR"
	cleanup
}
trap guest_cleanup EXIT

# tap_add NAME: a persistent tap with virtio-net headers, up
tap_add() {
	ip tuntap add dev "$1" mode tap vnet_hdr || return 1
	LINK_LIST+=("$1")
	ip link set "$1" up
}

# guest_boot NAME TAP MAC SCRIPT: boot a guest on an existing tap
declare -A GUEST_TAP
guest_boot() {
	GUEST_TAP[$1]=$2
	guest_boot_netdev "$1" "tap,id=n0,ifname=$2,script=no,downscript=no,vhost=off" "$3" "$4"
}

# guest_boot_netdev NAME NETDEV MAC SCRIPT: boot a guest in the background
guest_boot_netdev() {
	local name=$1 netdev=$2 mac=$3 script=$4 run
	if [ ! -s "$GUEST_CACHE/vmlinuz" ]; then
		echo "FAIL guest image missing: run scripts/guest-image.sh (deps.sh does)"
		return 1
	fi
	# the kernel keeps 2048 bytes of its command line (x86's
	# COMMAND_LINE_SIZE) and boots nothing useful past them, silently:
	# a scenario that long fails here, said
	run=$(printf '%s' "$script" | base64 -w0)
	if [ $((${#run} + 37)) -gt 2047 ]; then
		echo "FAIL guest $name: its scenario is ${#run} bytes in base64, past the kernel command line's 2048: shorten it"
		return 1
	fi
	qemu-system-x86_64 -accel tcg -cpu max -m 512 -smp 1 \
		-nodefaults -no-user-config -display none -no-reboot \
		-serial "file:$GUEST_LOGDIR/$name.log" \
		-kernel "$GUEST_CACHE/vmlinuz" -initrd "$GUEST_CACHE/initrd.img" \
		-append "console=ttyS0 quiet panic=-1 kvb.run=$run" \
		-netdev "$netdev" \
		-device "virtio-net-pci,netdev=n0,mac=$mac" \
		</dev/null >"$GUEST_LOGDIR/$name.qemu" 2>&1 &
	GUEST_PIDS+=($!)
}

# guest_exit NAME: wait for the guest's QEMU to end (it powers off)
guest_exit() {
	local i pid=${GUEST_PIDS[-1]}
	for ((i = 0; i < 60; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.5
	done
	return 1
}

# guest_wait NAME SECONDS: wait for the guest's KVB-DONE line
guest_wait() {
	local name=$1 t=$2 i
	for ((i = 0; i < t * 2; i++)); do
		grep -q KVB-DONE "$GUEST_LOGDIR/$name.log" 2>/dev/null && return 0
		sleep 0.5
	done
	echo "guest $name timed out; console:" >&2
	guest_console "$name" >&2
	cat "$GUEST_LOGDIR/$name.qemu" >&2
	return 1
}

# guest_console NAME: the guest's progress ("KVB ..." lines) and its last
# GUEST_DIAG snapshot with whatever it printed after, each line after "# "
guest_console() {
	tr -d '\r' 2>/dev/null <"$GUEST_LOGDIR/$1.log" | awk -v g="$1" '
		/^KVB-DIAG/ { n = 0 }
		{ last[n++] = $0 }
		/^KVB / { print "# " g ": " $0 }
		END { for (i = 0; i < n; i++) print "# " g ": " last[i] }'
}

# A scenario snippet: every 30 s the guest prints its own view of the
# network (TCP sockets and counters, ARP table, eth0's counters) after a
# "KVB-DIAG" line, so that a stalled transfer shows where it stalled.
GUEST_DIAG='
diag() {
	while sleep 30; do
		echo "KVB-DIAG uptime $(cut -d" " -f1 /proc/uptime)"
		cat /proc/net/tcp /proc/net/arp
		grep -h "^Tcp" /proc/net/snmp /proc/net/netstat
		(cd /sys/class/net/eth0/statistics && grep . rx_packets rx_bytes rx_dropped rx_errors tx_packets tx_bytes tx_dropped tx_errors)
	done
}
diag &
'

# guest_moved NAME...: a number that grows while the guests get on: their
# "KVB" lines (not the periodic KVB-DIAG) and, in MiB, the bytes their taps
# carried both ways
guest_moved() {
	local g n=0 b=0 d
	for g in "$@"; do
		n=$((n + $(grep -v '^KVB-DIAG' "$GUEST_LOGDIR/$g.log" 2>/dev/null | grep -c '^KVB')))
		d=/sys/class/net/${GUEST_TAP[$g]:-none}/statistics
		[ -r "$d/rx_bytes" ] && b=$((b + $(cat "$d/rx_bytes") + $(cat "$d/tx_bytes")))
	done
	echo $((n + b / 1048576))
}

# guest_wait_all STALL NAME...: wait for every guest's KVB-DONE line. A TCG
# guest on a busy machine is slow, and slowness is no failure: this fails
# only when none of the guests reported anything and their taps moved less
# than a MiB for STALL seconds (a stall), or after 20 minutes in all.
guest_wait_all() {
	local stall=$1 g last now mark waiting start=$SECONDS
	shift
	last=$(guest_moved "$@") mark=$SECONDS
	while ((SECONDS - start < 1200)); do
		waiting=
		for g in "$@"; do
			grep -q KVB-DONE "$GUEST_LOGDIR/$g.log" 2>/dev/null || waiting+=" $g"
		done
		[ -z "$waiting" ] && return 0
		now=$(guest_moved "$@")
		if [ "$now" != "$last" ]; then
			last=$now mark=$SECONDS
		elif ((SECONDS - mark > stall)); then
			break
		fi
		sleep 0.5
	done
	for g in $waiting; do
		echo "guest $g stalled: nothing moved for $((SECONDS - mark)) s" >&2
		cat "$GUEST_LOGDIR/$g.qemu" >&2
	done
	return 1
}

# guest_wait_key NAME KEY SECONDS: wait for the guest's "KVB KEY ..." line
guest_wait_key() {
	local i
	for ((i = 0; i < $3 * 2; i++)); do
		[ -n "$(guest_result "$1" "$2")" ] && return 0
		sleep 0.5
	done
	return 1
}

# guest_result NAME KEY: the value of the guest's "KVB KEY VALUE" line
guest_result() {
	tr -d '\r' 2>/dev/null <"$GUEST_LOGDIR/$1.log" | awk -v k="$2" '$1 == "KVB" && $2 == k { print $3; exit }'
}

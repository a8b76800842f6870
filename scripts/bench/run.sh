#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# kvmbpf benchmarks (`make bench`; not part of `make test`). Every figure is
# a ratio against the kernel's own equivalent measured in the same run, on
# the same topology, median of RUNS runs with the spread (min-max).
#
# Honesty rules (issue 17):
#   - the generator is pinned to one CPU (GENCPU, default 1: taskset);
#   - configurations are interleaved: run 1 of every configuration, then
#     run 2 of every one, ... so that drift of the shared machine hits all
#     alike;
#   - every rate run checks that the receiver got what was sent: the
#     delivered fraction is recorded per run, and a run that moved nothing
#     (or corrupted a checksum, tap source) makes the whole bench FAIL
#     (exit 1, "FAIL" lines) instead of a silent zero;
#   - the Linux bridge is measured with br_netfilter off and on
#     (bridge-nf-call-{ip,ip6,arp}tables in a namespace of the bench's own:
#     the host's setting is never touched);
#   - kvmbpf runs in its default configuration: spoofcheck on (each port
#     with its MAC and address), XDP off; "kvmbpf, xdp on" is the same with
#     `xdp on`;
#   - per-path costs (BPF_PROG_RUN) keep warm and cold apart: "hot loop"
#     (one frame run REPEAT times: caches hot, only for paths that do not
#     rewrite the frame), "established" (a fresh copy of an established
#     flow's frame per run, median of single runs) and "new flow" (every
#     run another source port: a flow is created every run), each against
#     the empty program measured the same way;
#   - a tap source: vnettap writes frames with virtio-net headers (complete
#     checksums, NEEDS_CSUM TCP/UDP, TSO super-frames) into a guest's tap,
#     vnettap reads and verifies them at the other guest's tap.
#
# Sections (SECTIONS, default all): cost switch route nat newconn scale tap
# tcp overlay uplink natwan acl profile. RUNS (3), PKTS (1,000,000 per rate run); APPEND=1
# adds to the figures of the last run (one bench in several lock holds).
# The tap source: TAPN (50,000 frames verified), TAPHOLDN (500,000 timed),
# TAPKINDS (tcp-full tcp-csum udp-csum tcp-gso), TAPNB=0 (a blocking
# writer).
#
# Output: a table, build/bench/results.json, docs/bench.png (gnuplot),
# docs/BENCHMARKS.md (a partial run, SECTIONS set to some: both under
# build/bench instead; DOCS=DIR to choose).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=kb$((RANDOM % 1000))
source "$ROOT/scripts/bench/lib.sh"
V=$ROOT/build/vnettap
ALL_SECTIONS="cost switch route nat newconn scale tap tcp overlay uplink natwan acl profile"
SECTIONS=${SECTIONS:-$ALL_SECTIONS}
# a partial run (some sections) writes its page under build/bench, not over
# docs/BENCHMARKS.md (whose sections it would drop); DOCS=docs to override
if [ "$SECTIONS" = "$ALL_SECTIONS" ]; then DOCS=${DOCS:-$ROOT/docs}; else DOCS=${DOCS:-$OUT}; fi
SRC=02:00:00:00:0b:01 DST=02:00:00:00:0b:02
RES=$OUT/raw.txt

for p in gnuplot-nox linux-perf; do
	dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q 'ok installed' ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $p >/dev/null
done

want() { case " $SECTIONS " in *" $1 "*) return 0 ;; esac; return 1; }

cleanup() {
	del_names
	nft delete table ip "kvbbench_$T" 2>/dev/null
	[ -d "$BPFFS" ] && ! "${K[@]}" reset >/dev/null 2>&1 &&
		[ -n "${KVB_BEFORE:-}" ] && "$KVB_BEFORE" --bpffs "$BPFFS" reset >/dev/null 2>&1
	rm -rf "$BPFFS"
}
trap cleanup EXIT

topo() {
	cleanup
	veth_ns "$T-s" "$T-a" $SRC 10.98.0.1/24
	veth_ns "$T-d" "$T-b" $DST 10.98.0.2/24
	for d in "$T-a" "$T-b"; do
		# a veth without XDP needs GRO on to take XDP_TX from its peer
		ethtool -K "$d" gro on >/dev/null 2>&1
	done
}

# bridge_in_ns NF: a Linux bridge of the two veths in a namespace of the
# bench's own, br_netfilter's calls there set to NF (0 or 1); the host's
# namespace keeps its own setting
bridge_in_ns() {
	local d
	ip netns add "$T-m"
	if [ -w /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
		ip netns exec "$T-m" sysctl -qw net.bridge.bridge-nf-call-iptables="$1" \
			net.bridge.bridge-nf-call-ip6tables="$1" \
			net.bridge.bridge-nf-call-arptables="$1" || return 1
	elif [ "$1" = 1 ]; then
		echo "FAIL bridge-nf: this kernel has no br_netfilter" >&2
		return 1
	fi
	ip -n "$T-m" link add br0 type bridge
	for d in "$T-a" "$T-b"; do
		ip link set "$d" netns "$T-m"
		ip -n "$T-m" link set "$d" master br0 up
		ip netns exec "$T-m" ethtool -K "$d" gro on >/dev/null 2>&1
	done
	ip -n "$T-m" link set br0 up
}

setup() { # bridge | bridge-nf | kvmbpf | kvmbpf-xdp | ceiling
	topo
	case $1 in
	bridge) bridge_in_ns 0 ;;
	bridge-nf) bridge_in_ns 1 ;;
	kvmbpf | kvmbpf-xdp)
		local x=off
		[ "$1" = kvmbpf-xdp ] && x=on
		# the defaults (spoofcheck on), each guest with its identity
		"${K[@]}" net add bench type bridge >/dev/null
		"${K[@]}" attach "$T-a" net bench mac $SRC ip 10.98.0.1 xdp $x
		"${K[@]}" attach "$T-b" net bench mac $DST ip 10.98.0.2 xdp $x
		;;
	ceiling)
		"$B" ceil "$T-a" "$T-b"
		;;
	esac
	sleep 1	# let STP-less bridge ports and carriers settle
}

# Two subnets: the sender 10.98.0.1 behind 10.98.0.254, the receiver
# 10.97.0.2 behind 10.97.0.254, routed (kernel forwarding, kernel plus nft
# masquerade, kvmbpf routed, kvmbpf nat; kvmbpf in its defaults: spoofcheck
# on, XDP off). GWMAC: where the sender sends.
setup_l3() { # fwd | nft-masq | kvmbpf-routed | kvmbpf-nat
	local gif
	topo
	ip -n "$T-s" route add default via 10.98.0.254 2>/dev/null
	ip -n "$T-d" addr flush dev eth0
	ip -n "$T-d" addr add 10.97.0.2/24 dev eth0
	# the way back (TCP's acknowledgements; NAT's go to the on-link WAN
	# address anyway)
	ip -n "$T-d" route add default via 10.97.0.254 2>/dev/null
	case $1 in
	fwd | nft-masq)
		ip addr add 10.98.0.254/24 dev "$T-a"
		ip addr add 10.97.0.254/24 dev "$T-b"
		sysctl -qw net.ipv4.conf."$T-a".forwarding=1 net.ipv4.conf."$T-b".forwarding=1
		ip neigh replace 10.97.0.2 lladdr $DST dev "$T-b"
		GWMAC=$(cat /sys/class/net/"$T-a"/address)
		if [ "$1" = nft-masq ]; then
			nft add table ip "kvbbench_$T"
			nft add chain ip "kvbbench_$T" post '{ type nat hook postrouting priority 100; }'
			nft add rule ip "kvbbench_$T" post oifname "$T-b" masquerade
		fi
		;;
	kvmbpf-routed)
		"${K[@]}" net add ra type routed subnet 10.98.0.0/24 gateway 10.98.0.254 >/dev/null
		"${K[@]}" net add rb type routed subnet 10.97.0.0/24 gateway 10.97.0.254 >/dev/null
		"${K[@]}" net peer ra rb
		"${K[@]}" attach "$T-a" net ra mac $SRC ip 10.98.0.1
		"${K[@]}" attach "$T-b" net rb mac $DST ip 10.97.0.2
		gif=$("${K[@]}" -j net show rb | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
		ip neigh replace 10.97.0.2 lladdr $DST dev "$gif"
		gif=$("${K[@]}" -j net show ra | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
		GWMAC=$(cat /sys/class/net/"$gif"/address)
		;;
	kvmbpf-nat)
		ip addr add 10.97.0.254/24 dev "$T-b"
		ip neigh replace 10.97.0.2 lladdr $DST dev "$T-b"
		"${K[@]}" net add n type nat subnet 10.98.0.0/24 gateway 10.98.0.254 \
			wan "$T-b" dhcp off >/dev/null
		"${K[@]}" attach "$T-a" net n mac $SRC ip 10.98.0.1
		gif=$("${K[@]}" -j net show n | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
		GWMAC=$(cat /sys/class/net/"$gif"/address)
		;;
	esac
	sleep 1
}

fail_run() { echo "FAIL $*" | tee -a "$OUT/failures.txt" >&2; FAILED=1; }

# measure KIND NAME FLOWS [new]: one run's receiver rate (packets per
# second counted by the sink), recorded as KIND NAME, and the delivered
# fraction (received / sent) as delivered NAME. Switching: to DST, flows by
# UDP ports from one guest (spoofcheck: a guest has one MAC); after
# setup_l3, RATE_L3=1: through the gateway to 10.97.0.2. The warm-up sends
# every flow twice, so NAT measures established flows; with new, no
# warm-up and one packet per flow: every packet opens a connection.
measure() {
	local kind=$1 name=$2 flows=$3 id c0 c1 line t got dmac=$DST warm=1000 count=$PKTS
	local ips=(10.98.0.1 10.98.0.2 onemac)
	if [ "${RATE_L3:-0}" = 1 ]; then
		dmac=$GWMAC
		ips=(10.98.0.1 10.97.0.2 onemac)
		warm=$((flows * 2 > 1000 ? flows * 2 : 1000))
	fi
	[ -n "${4:-}" ] && warm=0 count=$flows
	local f0 f1
	id=$(ip netns exec "$T-d" "$B" sink eth0) || { fail_run "$name: no sink"; return 1; }
	[ "$warm" -gt 0 ] && gen "$dmac" $SRC "$flows" "$warm" "${ips[@]}" >/dev/null
	c0=$("$B" count "$id")
	f0=$(port_fwd "$T-a")
	line=$(gen "$dmac" $SRC "$flows" "$count" "${ips[@]}") || { fail_run "$name: generator failed"; return 1; }
	sleep 0.2	# the last frames still in flight
	c1=$("$B" count "$id")
	f1=$(port_fwd "$T-a")
	record_fast "$name" "$f0" "$f1"
	# "COUNT SECONDS" (live XDP frames), or "COUNT SECONDS packet"
	# (kvbbench's AF_PACKET sender, where the kernel refuses those)
	read -r _ t how <<<"$line"
	[ "${how:-}" = packet ] && record generator af_packet 1
	ip -n "$T-d" link set eth0 xdp off
	got=$((c1 - c0))
	record delivered "$name" "$("$PY" -c "print(min($got / $count, 1.0))")"
	if [ "$got" -le 0 ]; then
		fail_run "$name: the receiver got nothing of $count packets"
		return 1
	fi
	[ $((got * 10)) -lt $((count * 9)) ] &&
		echo "WARN $name: the receiver got $got of $count packets" | tee -a "$OUT/failures.txt" >&2
	record "$kind" "$name" "$("$PY" -c "print(int(min($got, $count) / $t))")"
}

# tcp_run CONFIG ADDR: one iperf3 run from the sender to ADDR
tcp_run() {
	local bps pid
	ip netns exec "$T-d" iperf3 -s -1 -B "$2" >/dev/null 2>&1 &
	pid=$!
	sleep 0.3
	bps=$(taskset -c "$GENCPU" ip netns exec "$T-s" iperf3 -c "$2" -t 3 -J 2>/dev/null | "$PY" -c "
import json, sys; print(json.load(sys.stdin)['end']['sum_received']['bits_per_second'])")
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if [ -z "$bps" ] || [ "${bps%.*}" = 0 ]; then
		fail_run "tcp $1: iperf3 moved nothing"
		return 1
	fi
	record tcp "$1" "$bps"
}

fill_fdb() { # IFINDEX: 65,000 learned MACs behind that port (network id 1)
	"$PY" - "$BPFFS" "$1" <<'EOP'
import json, subprocess, sys, time
d, ifx = sys.argv[1], int(sys.argv[2])
now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
# ifindex, flags, seen_ns first; the rest of the entry (its size is the
# map's) zero
size = json.loads(subprocess.run(["bpftool", "-j", "map", "show", "pinned",
                                  d + "/kvb_fdb"], check=True,
                                 capture_output=True).stdout)["bytes_value"]
head = list(ifx.to_bytes(4, "little")) + [0] * 4 + list(now.to_bytes(8, "little"))
val = " ".join(map(str, head + [0] * (size - len(head))))
with open("/tmp/kvb_fdb_batch", "w") as f:
    for i in range(65000):
        key = [1, 0, 0, 0, 0x06, 0, 0, (i >> 16) & 255, (i >> 8) & 255, i & 255, 0, 0]
        f.write("map update pinned %s/kvb_fdb key %s value %s\n" % (
            d, " ".join(map(str, key)), val))
subprocess.run(["bpftool", "batch", "file", "/tmp/kvb_fdb_batch"],
               check=True, stdout=subprocess.DEVNULL)
EOP
	rm -f /tmp/kvb_fdb_batch
}

# the memory of this fabric's maps (those pinned under BPFFS: the host may
# run other fabrics)
fabric_memory() {
	local f
	for f in "$BPFFS"/kvb_*; do
		bpftool -j map show pinned "$f" 2>/dev/null
		echo
	done | "$PY" -c "
import json, sys
print(sum(json.loads(l).get('bytes_memlock', 0) for l in sys.stdin if l.strip()))"
}

# acl_on N: both bench guests get one ACL of N rules (half ingress, half
# egress, each a UDP port range from a /24 of its own: none matches the
# bench's flows) and the allow rules the bench's flows match, last
acl_on() {
	local n=$1 f i
	f=$(mktemp)
	{
		echo "acl add big"
		for i in $(seq 1 $((n - 2))); do
			if [ $((i % 2)) = 0 ]; then d=ingress; else d=egress; fi
			echo "acl rule add big $d allow proto udp src 10.$((i / 250)).$((i % 250)).0/24 dport $((10000 + i))"
		done
		echo "acl rule add big ingress allow proto udp src 10.98.0.0/24"
		echo "acl rule add big egress allow proto udp dst 10.98.0.0/24"
	} >"$f"
	"${K[@]}" load "$f" >/dev/null
	rm -f "$f"
	"${K[@]}" port set "$T-a" acl big
	"${K[@]}" port set "$T-b" acl big
}

# profile.sh sources this file for its set-ups and helpers only
[ "${KVB_BENCH_LIB:-0}" = 1 ] && return 0
# APPEND=1: add to the last run's figures (a bench in several lock holds)
if [ "${APPEND:-0}" != 1 ]; then
	: >"$RES"
	: >"$OUT/failures.txt"
fi
ENV_NOTE="generator pinned to CPU $GENCPU; host bridge-nf-call-iptables=$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo absent) (untouched)"
echo "$ENV_NOTE" >"$OUT/env.txt"

# craft_hex DSTMAC DSTIP [SPORT]: a 60-byte-class IPv4/UDP frame from the
# sender, as hex
craft_hex() {
	(cd "$ROOT/tests/tools" && "$PY" -c "import craft; print(craft.eth(craft.mac('$1'), craft.mac('$SRC'), 0x0800, craft.ip4('10.98.0.1', '$2', 17, craft.udp(${3:-1}, 2, b'x' * 18))).hex())")
}

# craft_hex_csum DSTMAC DSTIP: the same frame with its UDP checksum
# complete (craft_hex leaves it 0: "no checksum")
craft_hex_csum() {
	(cd "$ROOT/tests/tools" && "$PY" -c "
import craft, socket, struct
s, d = socket.inet_aton('10.98.0.1'), socket.inet_aton('$2')
u = bytearray(craft.udp(1, 2, b'x' * 18))
ph = s + d + struct.pack('!BBH', 0, 17, len(u))
b = ph + bytes(u) + b'\\0' * (len(u) % 2)
c = sum(struct.unpack('!%dH' % (len(b) // 2), b))
while c >> 16: c = (c & 0xffff) + (c >> 16)
c = (~c & 0xffff) or 0xffff
u[6:8] = struct.pack('!H', c)
print(craft.eth(craft.mac('$1'), craft.mac('$SRC'), 0x0800, craft.ip4('10.98.0.1', '$2', 17, bytes(u))).hex())")
}

# cost NAME PROG HEX MODE [xdp]: ns per run recorded as cost NAME; MODE is
# a repeat count (hot loop), each (established: a fresh copy per run) or
# vary (new flow: each run another source port)
cost() {
	local n=$1 prog=$2 hex=$3 mode=$4 v
	case $mode in
	each | vary) v=$("$B" cost "$prog" "$ia" "$hex" 5000 "$mode" | cut -d' ' -f1) ;;
	*) v=$("$B" cost "$prog" "$ia" "$hex" "$mode" ${5:-} | cut -d' ' -f1) ;;
	esac
	[ -n "$v" ] && record cost "$n" "$v" || fail_run "cost $n: BPF_PROG_RUN failed"
}

if want cost; then
	echo "== 1. cost per packet (BPF_PROG_RUN, ns), kvmbpf defaults"
	for r in $(seq "$RUNS"); do
		setup kvmbpf
		ia=$(cat /sys/class/net/"$T-a"/ifindex)
		uni=$(craft_hex $DST 10.98.0.2)
		bc=$(craft_hex ff:ff:ff:ff:ff:ff 10.98.0.2)
		vlan="${uni:0:24}8100000508${uni:26}"
		ip netns exec "$T-d" ping -c1 -W1 10.98.0.1 >/dev/null 2>&1	# learn both MACs
		cost empty-tc empty-tc "$uni" 200000
		cost empty-tc-each empty-tc "$uni" each
		cost empty-xdp empty-xdp "$uni" 200000 xdp
		cost tc-unicast "$BPFFS/prog_tc_ingress" "$uni" 200000
		cost tc-unicast-each "$BPFFS/prog_tc_ingress" "$uni" each
		cost tc-flood "$BPFFS/prog_tc_ingress" "$bc" 20000
		cost tc-drop-vlan "$BPFFS/prog_tc_ingress" "$vlan" 200000
		cost xdp-pass "$BPFFS/prog_xdp" "$uni" 200000 xdp
		cost xdp-drop-vlan "$BPFFS/prog_xdp" "$vlan" 200000 xdp
		for cfg in kvmbpf-routed kvmbpf-nat; do
			setup_l3 $cfg
			ia=$(cat /sys/class/net/"$T-a"/ifindex)
			hex=$(craft_hex "$GWMAC" 10.97.0.2)
			# warm the neighbour and (NAT) the flow
			"$B" cost "$BPFFS/prog_tc_ingress" "$ia" "$hex" 100 each >/dev/null
			cost "tc-${cfg#kvmbpf-}-each" "$BPFFS/prog_tc_ingress" "$hex" each
			[ $cfg = kvmbpf-nat ] &&
				cost tc-nat-new "$BPFFS/prog_tc_ingress" "$(craft_hex "$GWMAC" 10.97.0.2 3000)" vary
		done
	done
fi


if want acl; then
	echo "== ACL: a port with 1,000 rules, with 2, with none (cost ns, Mpps at the receiver; established flows and new connections)"
	for r in $(seq "$RUNS"); do
		for cfg in none 2 1000; do
			setup kvmbpf
			[ $cfg != none ] && acl_on $cfg
			ia=$(cat /sys/class/net/"$T-a"/ifindex)
			uni=$(craft_hex $DST 10.98.0.2)
			ip netns exec "$T-d" ping -c1 -W1 10.98.0.1 >/dev/null 2>&1
			cost "acl-$cfg-established" "$BPFFS/prog_tc_ingress" "$uni" each
			cost "acl-$cfg-new" "$BPFFS/prog_tc_ingress" "$uni" vary
			measure acl "acl-$cfg/1" 1
			measure acl "acl-$cfg/1000" 1000
			# new connections: 60,000 flows of one packet each
			# (within a port's 65,536 remembered connections: the
			# rate of new connections, not the cap's refusals)
			measure acl "acl-$cfg/new" 60000 new
		done
	done
fi

if want switch; then
	echo "== 2. switching, 60-byte UDP, one guest to another (Mpps at the receiver)"
	for r in $(seq "$RUNS"); do
		for flows in 1 1000; do
			for cfg in bridge bridge-nf kvmbpf kvmbpf-xdp ceiling; do
				setup $cfg
				measure switch "$cfg/$flows" $flows
			done
		done
	done
fi

RATE_L3=1
if want route; then
	echo "== 3. routed between two networks, 60-byte UDP (Mpps at the receiver)"
	for r in $(seq "$RUNS"); do
		for flows in 1 1000; do
			for cfg in fwd kvmbpf-routed; do
				setup_l3 $cfg
				measure route "$cfg/$flows" $flows
			done
		done
	done
fi

if want nat; then
	echo "== 4. NAT, established flows, 60-byte UDP (Mpps at the receiver)"
	for r in $(seq "$RUNS"); do
		for flows in 1 1000 65536; do
			for cfg in nft-masq kvmbpf-nat; do
				setup_l3 $cfg
				measure nat "$cfg/$flows" $flows
			done
		done
	done
fi

if want newconn; then
	echo "== 5. NAT, new connections (one packet each, 100,000 per run; per second)"
	for r in $(seq "$RUNS"); do
		for cfg in nft-masq kvmbpf-nat; do
			setup_l3 $cfg	# a fresh device: no flow left from the last run
			measure newconn "$cfg" 100000 new
		done
	done
fi

if want scale; then
	echo "== 6. scale: NAT among 1M tracked connections, 64k learned MACs"
	# 65,536 live flows among idle ones filling the table to 1,048,576
	for r in $(seq "$RUNS"); do
		setup_l3 kvmbpf-nat
		"$B" ctfill "$BPFFS/kvb_ct" $((2 * (1048576 - 65536))) >/dev/null
		measure nat "kvmbpf-nat-1M/65536" 65536
	done
	record memory kvmbpf-maps-1M "$(fabric_memory)"
	RATE_L3=0
	for r in $(seq "$RUNS"); do
		setup kvmbpf
		fill_fdb "$(cat /sys/class/net/"$T-a"/ifindex)"
		measure switch "kvmbpf-64k-macs/1000" 1000
	done
	record memory kvmbpf-maps "$(fabric_memory)"
	RATE_L3=1
fi
RATE_L3=0

# Tap source: two taps, the guests' NICs; vnettap writes COUNT frames of a
# kind into one (as QEMU would: virtio-net header first, through a
# non-blocking descriptor, so that tun runs native XDP on frames without
# GSO; TAPNB=0: a blocking writer, every frame generic XDP) and reads them
# at the other, completing and verifying every checksum. bridge: a Linux
# bridge (br_netfilter off, in a namespace of its own); kvmbpf: defaults.
TAPN=${TAPN:-50000}
# the rate phase's frames: enough for a timed window of about half a
# second (50,000 frames took 25-60 ms, where the machine's scheduling
# noise moved single runs by up to 2x)
TAPHOLDN=${TAPHOLDN:-500000}
# the kinds measured (all by default)
TAPKINDS=${TAPKINDS:-tcp-full tcp-csum udp-csum tcp-gso}
# KVB_BEFORE=PATH (another build's kvmbpf, e.g. main before a change) adds
# the configuration kvmbpf-xdp-before: that build with xdp on
TAPCFGS="bridge kvmbpf kvmbpf-xdp${KVB_BEFORE:+ kvmbpf-xdp-before}"
export VNETTAP_NONBLOCK=${TAPNB:-1}
tap_setup() { # bridge | kvmbpf | kvmbpf-xdp | kvmbpf-xdp-before
	cleanup
	case $1 in
	bridge)
		ip netns add "$T-m"
		ip netns exec "$T-m" sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
			net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0 2>/dev/null
		TAPNS=(ip netns exec "$T-m")
		"${TAPNS[@]}" ip link add br0 type bridge
		for d in "$T-ta" "$T-tb"; do
			"${TAPNS[@]}" ip tuntap add dev "$d" mode tap vnet_hdr
			"${TAPNS[@]}" ip link set "$d" master br0 up
		done
		"${TAPNS[@]}" ip link set br0 up
		;;
	kvmbpf*)
		TAPNS=()
		local x=off k=("${K[@]}")
		[ "$1" != kvmbpf ] && x=on
		# another build's kvmbpf, for a before/after in one run
		[ "$1" = kvmbpf-xdp-before ] && k=("$KVB_BEFORE" --bpffs "$BPFFS")
		for d in "$T-ta" "$T-tb"; do
			ip tuntap add dev "$d" mode tap vnet_hdr
			ip link set "$d" up
		done
		"${k[@]}" net add tapb type bridge >/dev/null
		"${k[@]}" attach "$T-ta" net tapb mac $SRC ip 10.98.0.1 xdp $x
		"${k[@]}" attach "$T-tb" net tapb mac $DST ip 10.98.0.2 xdp $x
		;;
	esac
	sleep 0.5
}

# tap_run CONFIG KIND: frames of KIND written into the sender's tap,
# twice. First TAPN of them, while the reader at the other tap verifies
# every frame it gets (it is slower than the path, so the receiving
# tap's queue drops some: the delivered fraction), and the share that
# took XDP's fast path is recorded. Then the rate, frames per second of
# the writes' time over TAPHOLDN frames: a
# write runs the whole path in the writer's context (tun_get_user, tc or
# the bridge, the receiving tap's queue), with the receiving tap held
# (vnettap recv ... hold: nothing read, its queue full), so that every
# frame ends in the same drop whatever path brought it. Timed with the
# reader reading, a path that delivers more pays for the reader's
# wakeups: the faster configuration lost more frames to the full queue,
# cheaply, and looked faster for it (the bridge delivered 27% of TSO
# super-frames where kvmbpf delivered 49%, 2026-12-03)
tap_hold_rate() { # sets HOLD_LINE: the sender's line
	local cfg=$1 kind=$2 len=$3 out rp i
	HOLD_LINE=
	out=$(mktemp)
	timeout 60 "${TAPNS[@]}" "$V" recv "$T-tb" 50 hold >"$out" 2>&1 &
	rp=$!
	for i in $(seq 100); do grep -q ready "$out" && break; sleep 0.05; done
	if ! grep -q ready "$out"; then
		fail_run "tap $cfg $kind: the held reader did not attach"
		kill "$rp" 2>/dev/null
		wait "$rp" 2>/dev/null
		rm -f "$out"
		return
	fi
	HOLD_LINE=$(taskset -c "$GENCPU" "${TAPNS[@]}" "$V" send "$T-ta" "$kind" $SRC $DST \
		10.98.0.1 10.98.0.2 7001 7002 $len "$TAPHOLDN") || fail_run "tap $cfg $kind: send failed (held)"
	kill "$rp" 2>/dev/null
	wait "$rp" 2>/dev/null
	rm -f "$out"
}

tap_run() {
	local cfg=$1 kind=$2 out rp line t got bad len=100 i f0 f1
	[ "$kind" = tcp-gso ] && len=3000
	out=$(mktemp)
	timeout 60 "${TAPNS[@]}" "$V" recv "$T-tb" 50 quiet >"$out" 2>&1 &
	rp=$!
	for i in $(seq 100); do grep -q ready "$out" && break; sleep 0.05; done
	f0=$(port_fwd "$T-ta")
	line=$(taskset -c "$GENCPU" "${TAPNS[@]}" "$V" send "$T-ta" "$kind" $SRC $DST \
		10.98.0.1 10.98.0.2 7001 7002 $len "$TAPN") || fail_run "tap $cfg $kind: send failed"
	f1=$(port_fwd "$T-ta")
	record_fast "tap-$cfg/$kind" "$f0" "$f1"
	"${TAPNS[@]}" "$V" send "$T-ta" tcp-full $SRC $DST 10.98.0.1 10.98.0.2 7003 7999
	wait "$rp"
	got=$(awk '$1 == "port" && $2 == 7002 { print $4 }' "$out")
	bad=$(awk '$1 == "port" && $2 == 7002 { print $12 }' "$out")
	t=$(echo "$line" | cut -d' ' -f3)
	rm -f "$out"
	record delivered "tap-$cfg/$kind" "$("$PY" -c "print(min(${got:-0} / $TAPN, 1.0))")"
	if [ "${got:-0}" -le 0 ]; then
		fail_run "tap $cfg $kind: the receiver got nothing of $TAPN frames"
	elif [ "${bad:-0}" != 0 ]; then
		fail_run "tap $cfg $kind: $bad of $got frames arrived with a bad checksum"
	else
		tap_hold_rate "$cfg" "$kind" $len
		t=$(echo "$HOLD_LINE" | cut -d' ' -f3)
		[ -n "$t" ] &&
			record tap "$cfg/$kind" "$("$PY" -c "print(int($TAPHOLDN / $t))")"
	fi
}

if want cost; then
	# the XDP fast path: two taps (tap_setup), a frame with a complete UDP
	# checksum, redirected (BPF_PROG_RUN returns the verdict only); tc on
	# the same frame and port
	for r in $(seq "$RUNS"); do
		tap_setup kvmbpf-xdp
		ia=$(cat /sys/class/net/"$T-ta"/ifindex)
		hex=$(craft_hex_csum $DST 10.98.0.2)
		cost xdp-fast "$BPFFS/prog_xdp" "$hex" 200000 xdp
		cost tc-unicast-tap "$BPFFS/prog_tc_ingress" "$hex" 200000
	done
	TAPNS=()
fi

if want tap; then
	echo "== 7. tap source: frames with virtio-net headers, guest tap to guest tap (frames/s)"
	for r in $(seq "$RUNS"); do
		for kind in $TAPKINDS; do
			for cfg in $TAPCFGS; do
				tap_setup $cfg
				tap_run $cfg $kind
			done
		done
	done
	TAPNS=()
fi

if want tcp; then
	echo "== 8. TCP throughput, iperf3, offloads on (Gbit/s)"
	for r in $(seq "$RUNS"); do
		for cfg in bridge bridge-nf kvmbpf kvmbpf-xdp; do
			setup $cfg
			tcp_run "$cfg" 10.98.0.2
		done
	done
	# routed (kernel forwarding against kvmbpf routed, peered networks)
	# and NAT, the four interleaved run by run
	for r in $(seq "$RUNS"); do
		for cfg in fwd kvmbpf-routed nft-masq kvmbpf-nat; do
			setup_l3 $cfg
			case $cfg in
			fwd | kvmbpf-routed) tcp_run "routed-$cfg" 10.97.0.2 ;;
			*) tcp_run "nat-$cfg" 10.97.0.2 ;;
			esac
		done
	done
fi

if want overlay; then
	# networks that span hosts: its own topology and table (overlay.sh)
	RUNS=$RUNS bash "$ROOT/scripts/bench/overlay.sh" || FAILED=1
fi

if want uplink; then
	# LAN to guest through a bridge's uplink, uplink-xdp off and on against
	# a Linux bridge: its own topology and table (uplink.sh)
	RUNS=$RUNS PKTS=$PKTS GENCPU=$GENCPU bash "$ROOT/scripts/bench/uplink.sh" || FAILED=1
fi

if want natwan; then
	# NAT, WAN to a tap guest, established flows, wan-xdp off and on
	# against nft masquerade: its own topology and table (natwan.sh)
	RUNS=$RUNS PKTS=$PKTS GENCPU=$GENCPU bash "$ROOT/scripts/bench/natwan.sh" || FAILED=1
fi

if want profile; then
	echo "== profiles (perf, whole system, while the generator runs)"
	bash "$ROOT/scripts/bench/profile.sh"
fi

"$PY" "$ROOT/scripts/bench/report.py" "$RES" "$OUT" "$DOCS"
if [ "$FAILED" != 0 ]; then
	echo "FAIL: the bench had failed runs (above, and $OUT/failures.txt)" >&2
	exit 1
fi

# SPDX-License-Identifier: MIT
# Shared helpers for namespace tests: unique names, cleanup on any exit,
# and PASS/FAIL reporting. Source it; do not run it.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Short and unique: interface names are at most 15 characters. Every
# namespace, link and bpffs directory of the test carries the prefix T,
# and the run is recorded in $KVBT_RUN/T ("PID STARTTIME") before it makes
# anything, so that tests/tools/sweep.sh can tell a run killed outright
# (its EXIT trap never ran) from a live one, and remove what it left.
KVBT_RUN=${KVBT_RUN:-/run/kvbt}
mkdir -p "$KVBT_RUN" || exit 1
# The record is written whole, then linked in: ln fails for a prefix
# another run (or a sweep) holds, and a sweep never reads it half-written.
claim=$(mktemp "$KVBT_RUN/.claim.XXXXXX") || exit 1
echo "$$ $(awk '{print $22}' /proc/$$/stat)" > "$claim"
while :; do
	T=kt$(printf '%05d' $((RANDOM % 100000)))
	ln "$claim" "$KVBT_RUN/$T" 2>/dev/null && break
done
rm -f "$claim"
BPFFS=/sys/fs/bpf/kvbt_$T
K=("$ROOT/build/kvmbpf" --bpffs "$BPFFS")
NS_LIST=()
LINK_LIST=()
BG_PIDS=()
SCRATCH=
FAILS=0
# every mktemp of the test (and of what it runs) lands here, removed on exit
TMPDIR=$(mktemp -d /tmp/kvbt_XXXXXX) || exit 1
export TMPDIR

kvmbpf() { "${K[@]}" "$@"; }

# Debian's python3 (deps.sh installs it): a pyenv shim costs 0.4 s a call.
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "FAIL setup: $PY missing (run scripts/deps.sh)"; exit 1; }

cleanup() {
	local n l p
	# daemons first: a process outlives its namespace's name
	for p in "${BG_PIDS[@]}"; do stop_bg "$p"; done
	if [ -n "$SCRATCH" ]; then
		for p in "$SCRATCH"/*.pid; do
			[ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
		done
		rm -rf "$SCRATCH"
	fi
	# the fabric's own host interfaces (nat gateways) go with a reset
	[ -d "$BPFFS" ] && "${K[@]}" reset >/dev/null 2>&1
	# what still runs in a test namespace dies with it (dhcpcd's privsep
	# helpers outlive their parent and keep the namespace alive)
	for n in "${NS_LIST[@]}"; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		ip netns del "$n" 2>/dev/null
	done
	for l in "${LINK_LIST[@]}"; do ip link del "$l" 2>/dev/null; done
	rm -rf "$BPFFS" "$TMPDIR" "$KVBT_RUN/$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# scratch: TMP, a directory for the test's own files, removed on exit;
# daemons that keep their pid file there as NAME.pid (dhclient -pf) are
# killed first.
scratch() { TMP=$(mktemp -d) && SCRATCH=$TMP; }

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }

# check NAME CMD...: PASS when CMD succeeds
check() {
	local name=$1; shift
	if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name: '$*' failed"; fi
}

# check_not NAME CMD...: PASS when CMD fails
check_not() {
	local name=$1; shift
	if "$@" >/dev/null 2>&1; then fail "$name: '$*' succeeded"; else pass "$name"; fi
}

# expect_err NAME PATTERN CMD...: CMD fails, and its stderr matches PATTERN
# (cli.sh has a stricter one of its own: one line, kvmbpf's prefix)
expect_err() {
	local name=$1 pat=$2 out rc; shift 2
	out=$("$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -ne 0 ] && printf '%s' "$out" | grep -q -- "$pat"; then
		pass "$name"
	else
		fail "$name: exit $rc, stderr '$out' (want /$pat/)"
	fi
}

# expect NAME WANT GOT: GOT is WANT
expect() {
	[ "$2" = "$3" ] && pass "$1" || fail "$1: wanted '$2', got '$3'"
}

# netns NAME: create a namespace with loopback up
netns_add() {
	ip netns add "$1" && NS_LIST+=("$1") && ip -n "$1" link set lo up
}

# fabric_netns NAME: the fabric lives in a new namespace NAME ("the
# host", so that every device of the host is the test's), entered with
# nsenter (`ip netns exec` would hide the pins): H is NAME, HNS its path,
# kvmbpf runs the CLI there and in_h any command; at exit the fabric is
# reset inside it, never in the root namespace (its ifindexes are that
# namespace's)
fabric_netns() {
	H=$1
	HNS=/run/netns/$H
	kvmbpf() { nsenter --net="$HNS" "${K[@]}" "$@"; }
	in_h() { ip netns exec "$H" "$@"; }
	trap '[ -d "$BPFFS" ] && nsenter --net="$HNS" "${K[@]}" reset >/dev/null 2>&1; rm -rf "$BPFFS"; cleanup' EXIT
	netns_add "$H"
}

# guest NS HOSTDEV: a veth pair, HOSTDEV in the root namespace (the "tap"),
# eth0 inside NS (the guest's NIC).
guest_link() {
	local ns=$1 dev=$2
	ip link add "$dev" type veth peer name eth0 netns "$ns" || return 1
	LINK_LIST+=("$dev")
	# like a tap under libvirt: the host's own IPv6 stays off the port
	sysctl -qw net.ipv6.conf."$dev".disable_ipv6=1
	ip link set "$dev" up && ip -n "$ns" link set eth0 up
}

# tap_add DEV: a tap DEV (virtio-net headers on), up, no reader, removed
# at exit; the host's own IPv6 stays off it (as on a port under libvirt)
tap_add() {
	ip tuntap add dev "$1" mode tap vnet_hdr || return 1
	LINK_LIST+=("$1")
	sysctl -qw net.ipv6.conf."$1".disable_ipv6=1
	ip link set "$1" up
}

# net_guest NS NET ADDR GW: a guest, namespace NS, whose NIC's host end
# (the port, a veth named NS) is attached to network NET with ADDR; its
# eth0 has ADDR/24 and the default route via GW. The status is attach's.
net_guest() {
	netns_add "$1"
	guest_link "$1" "$1"
	ip -n "$1" addr add "$3/24" dev eth0
	ip -n "$1" route add default via "$4"
	kvmbpf attach "$1" net "$2" ip "$3"
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# bg_ns NS CMD...: CMD in namespace NS in the background, its PID in
# BG_PID, stopped and reaped at exit (or by stop_bg PID). No subshell
# stands between: ip netns exec execs CMD, so the PID is CMD's own (in_ns
# ... & would give a subshell's, and killing it leaves CMD running in a
# namespace whose name is gone).
bg_ns() {
	local ns=$1; shift
	ip netns exec "$ns" "$@" &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

# udp_heard NS ADDR PORT SECS: in the background (bg_ns), a UDP socket on
# ADDR:PORT in NS that prints "got" if a datagram comes within SECS, else
# "none"
udp_heard() {
	bg_ns "$1" timeout $(($4 + 1)) "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$2', $3)); s.settimeout($4)
try:
    s.recvfrom(100); print('got')
except socket.timeout:
    print('none')"
}

# stop_bg PID: kill a background process of this test and reap it
# (SIGKILL after 5 s: a daemon stuck in its shutdown must not hang the test)
stop_bg() {
	local i st
	kill "$1" 2>/dev/null
	for i in $(seq 50); do	# until gone or a zombie (kill -0 sees zombies)
		st=$(ps -o stat= -p "$1" 2>/dev/null) || break
		case $st in Z*) break ;; esac
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# behind DEV NS ADDR/LEN [HOSTADDR/LEN]: a namespace NS (a LAN, a WAN) whose
# eth0 has ADDR, reached from the root namespace through veth DEV (up),
# which gets HOSTADDR when given.
behind() {
	local dev=$1 ns=$2 addr=$3 host=${4:-}
	netns_add "$ns" || return 1
	ip link add "$dev" type veth peer name eth0 netns "$ns" || return 1
	LINK_LIST+=("$dev")
	[ -n "$host" ] && ip addr add "$host" dev "$dev"
	ip link set "$dev" up
	ip -n "$ns" link set eth0 up
	ip -n "$ns" addr add "$addr" dev eth0
}

# behind6 DEV NS HOST6 NS6: behind's link with IPv6 too (the host side's
# IPv6 on, HOST6/64 on DEV and NS6/64 on NS's eth0, no DAD)
behind6() {
	sysctl -qw net.ipv6.conf."$1".disable_ipv6=0
	ip addr add "$3/64" dev "$1" nodad
	ip -n "$2" addr add "$4/64" dev eth0 nodad
}

# static_guest NS NET A4 A6 [MTU]: a guest namespace with static addresses
# (A4/24, A6/64, no DAD, no RA), default routes via .1 and ::1, attached
# to network NET with both addresses
static_guest() {
	netns_add "$1"
	in_ns "$1" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.accept_ra=0
	guest_link "$1" "$1"
	[ -n "${5:-}" ] && ip -n "$1" link set eth0 mtu "$5"
	ip -n "$1" addr add "$3/24" dev eth0
	ip -n "$1" addr add "$4/64" dev eth0 nodad
	ip -n "$1" route add default via "${3%.*}.1"
	ip -n "$1" route add default via "${4%::*}::1"
	kvmbpf attach "$1" net "$2" ip "$3" ip "$4" || fail "attach $1"
}

# dhclient_script OUT: $TMP/dhclient.sh, an ISC dhclient (IPv4) script
# that only adds the leased address to the interface and writes it to OUT
# (the stock one would rewrite the host's /etc/resolv.conf)
dhclient_script() {
	cat >"$TMP/dhclient.sh" <<EOS
#!/bin/sh
case \$reason in BOUND|RENEW|REBIND|REBOOT)
	ip addr add "\$new_ip_address/\$new_subnet_mask" dev "\$interface"
	echo "\$new_ip_address" >"$1" ;;
esac
exit 0
EOS
	chmod +x "$TMP/dhclient.sh"
}

ping4() { in_ns "$1" ping -n -c 1 -W 2 "$2"; }
ping6() { in_ns "$1" ping -6 -n -c 1 -W 2 "$2"; }

# A port's summed counter from `kvmbpf -j stats DEV`: stat DEV FIELD
stat() {
	kvmbpf -j stats "$1" | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
f = sys.argv[1]
print(s["drop_reasons"][f] if f in s["drop_reasons"] else s[f])' "$2"
}

# addr_source DEV ADDR: the source of ADDR's binding on port DEV as port
# show -j says it (static, dhcp, savi; "" when ADDR is not bound there)
addr_source() {
	kvmbpf -j port show "$1" | "$PY" -c "
import json, sys
print(' '.join(a['source'] for a in json.load(sys.stdin)['addresses'] if a['ip'] == '$2'))"
}

# wait_source DEV ADDR SOURCE: until addr_source says SOURCE (a lease
# script runs right after dnsmasq's reply), at most 5 s
wait_source() {
	local i
	for i in $(seq 50); do
		[ "$(addr_source "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# Transfer SIZE MiB of random data from NS1 to NS2 (listening on ADDR) by
# TCP and compare sha256 at both ends.
tcp_sha() {
	local from=$1 to=$2 addr=$3 mib=$4 port=$((20000 + RANDOM % 20000))
	local src out want got
	src=$(mktemp) out=$(mktemp)
	head -c "${mib}M" /dev/urandom >"$src"
	want=$(sha256sum <"$src" | cut -d' ' -f1)
	in_ns "$to" timeout 60 nc -l -N "$addr" "$port" >"$out" &
	local lpid=$!
	local i
	for i in $(seq 50); do
		in_ns "$to" ss -Hltn "sport = :$port" | grep -q . && break
		sleep 0.1
	done
	in_ns "$from" timeout 60 nc -N "$addr" "$port" <"$src"
	wait "$lpid"
	got=$(sha256sum <"$out" | cut -d' ' -f1)
	rm -f "$src" "$out"
	[ "$want" = "$got" ]
}

# seen_from LISTENNS ADDR PORT FROMNS [TOADDR TOPORT]: the source address a
# TCP listener on ADDR:PORT (IPv4 or IPv6) in LISTENNS sees when FROMNS
# connects to it (NAT or not), or to TOADDR:TOPORT (a port forward's)
seen_from() {
	in_ns "$1" timeout 10 "$PY" -c "
import socket
s = socket.socket(socket.AF_INET6 if ':' in '$2' else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('$2', $3)); s.listen(1)
c, a = s.accept(); print(a[0]); c.close()" &
	sleep 0.5
	in_ns "$4" timeout 5 "$PY" -c "
import socket; socket.create_connection(('${5:-$2}', ${6:-$3}), timeout=3).close()"
	wait
}

# ICMP echo requests a namespace's kernel has received
icmp_in_echos() {
	in_ns "$1" awk '/^Icmp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else print $c["InEchos"] }' /proc/net/snmp
}

# dump_fabric NS DEV...: everything a failed transfer needs to explain
# itself, printed with "# " in front (never a PASS/FAIL line): the fabric's
# counters and MAC table, each DEV's kernel counters, tc filters, queues
# and driver statistics, the host's per-CPU backlog counters, and the view
# from namespace NS (its eth0, neighbours, TCP sockets with their
# retransmission state, the kernel's TCP counters).
dump_fabric() {
	local ns=$1 d
	shift
	{
		echo "---- fabric state at $(date +%T) ----"
		kvmbpf -j stats
		kvmbpf -j fdb show
		for d in "$@"; do
			ip -s -s -d link show dev "$d"
			tc -s filter show dev "$d" ingress
			tc -s filter show dev "$d" egress
			tc -s qdisc show dev "$d"
			ethtool -S "$d" 2>/dev/null | grep -v ': 0$'
		done
		echo "-- namespace $ns"
		in_ns "$ns" ip -s -s link show dev eth0
		in_ns "$ns" ethtool -S eth0 2>/dev/null | grep -v ': 0$'
		in_ns "$ns" ip neigh
		in_ns "$ns" ss -tnoim
		in_ns "$ns" nstat -az 2>/dev/null | awk '$2 != 0 && /Tcp|Ip/'
		echo "-- softnet_stat (per CPU: processed dropped squeezed ...)"
		cat /proc/net/softnet_stat
		echo "-- kernel log"
		dmesg 2>/dev/null | tail -n 5
		echo "---- end of fabric state ----"
	} 2>&1 | sed 's/^/# /'
}

finish() {
	[ "$FAILS" -eq 0 ]
}

# dhclient6_script: $TMP/dhclient.sh, a dhclient -6 script (-sf) that puts
# the leased address on the interface (nodad: the test judges the fabric,
# not the guest's DAD) and writes it to $TMP/NETNS.addr, and takes it off
# when the lease ends
dhclient6_script() {
	cat >"$TMP/dhclient.sh" <<EOS
#!/bin/sh
case \$reason in BOUND6|RENEW6|REBIND6|REBOOT6)
	ip -6 addr replace "\$new_ip6_address/\$new_ip6_prefixlen" dev "\$interface" nodad
	echo "\$new_ip6_address" >"$TMP/\$(ip netns identify).addr" ;;
RELEASE6|EXPIRE6|STOP6)
	ip -6 addr del "\$old_ip6_address/\$old_ip6_prefixlen" dev "\$interface" ;;
esac
exit 0
EOS
	chmod +x "$TMP/dhclient.sh"
}

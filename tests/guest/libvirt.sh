#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's libvirt recipe, verbatim, with a real libvirtd and real
# guests: the hook installed as /etc/libvirt/hooks/qemu, kvmbpf where
# `make install` puts it, TCG domains with <interface type='ethernet'>.
#
# libvirtd runs in a private mount namespace whose /etc/libvirt,
# /run/libvirt, /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt and
# /usr/local/sbin are this test's own directories, so the host's libvirt
# (if any) and /usr/local are never touched. QEMU runs as root without
# cgroups or namespaces (qemu.conf), its console goes to files (no
# virtlogd). libvirt hands hooks only HOME, LC_ALL and PATH: the domains
# name the test's fabric in their metadata (<kvmbpf:ports bpffs=...>).
#
#   a: metadata port (net, mac, ip), tap created by libvirt (managed)
#   b: network from its description, a pre-created tap (managed='no')
#   c: a network that does not exist
source "$(dirname "$0")/../netns/lib.sh"
source "$(dirname "$0")/lib.sh"

for t in libvirtd virsh; do
	command -v $t >/dev/null || { fail "libvirt: $t missing (scripts/deps.sh installs it)"; exit 1; }
done
getent passwd libvirt-qemu >/dev/null ||
	{ fail "libvirt: user libvirt-qemu missing (scripts/deps.sh creates it)"; exit 1; }

D=$(mktemp -d /tmp/kvb-libvirt.XXXXXX)
LV_PID=
MADE=()
URI="qemu:///system?socket=$D/run/libvirt-sock"
virsh() { /usr/bin/virsh -q -c "$URI" "$@"; }

lv_cleanup() {
	local d p
	if [ -n "$LV_PID" ]; then
		for d in a b c; do virsh destroy "$T-$d" >/dev/null 2>&1; done
		kill "$LV_PID" 2>/dev/null
		wait "$LV_PID" 2>/dev/null
	fi
	# a QEMU libvirt could not stop
	for p in "$D"/run/qemu/*.pid; do
		[ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null
	done
	for d in "${MADE[@]}"; do rmdir "$d" 2>/dev/null; done
	rm -rf "$D"
	guest_cleanup
}
trap lv_cleanup EXIT

mkdir -p "$D"/{etc/hooks,run,lib,cache,log,sbin}
cat >"$D/etc/libvirtd.conf" <<EOF
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "1:file:/var/log/libvirt/libvirtd.log"
EOF
cat >"$D/etc/qemu.conf" <<EOF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
EOF
# the recipe: the hook is /etc/libvirt/hooks/qemu, before libvirtd starts
install -m 0755 "$ROOT/scripts/libvirt-hook-qemu" "$D/etc/hooks/qemu"

# mount points for the private directories (empty; removed on exit)
for d in /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt \
	/var/log/libvirt /usr/local/sbin; do
	[ -d "$d" ] || { mkdir -p "$d" && MADE+=("$d"); }
done
cat >"$D/start.sh" <<EOF
mount --make-rprivate / &&
mount --bind $D/etc /etc/libvirt &&
mount --bind $D/run /run/libvirt &&
mount --bind $D/lib /var/lib/libvirt &&
mount --bind $D/cache /var/cache/libvirt &&
mount --bind $D/log /var/log/libvirt &&
mount --bind $D/sbin /usr/local/sbin &&
exec /usr/sbin/libvirtd --pid-file $D/run/libvirtd.pid
EOF
unshare -m sh "$D/start.sh" >"$D/libvirtd.out" 2>&1 &
LV_PID=$!
for i in $(seq 120); do
	[ -S "$D/run/libvirt-sock" ] && break
	kill -0 "$LV_PID" 2>/dev/null || break
	sleep 0.5
done
# the first connection waits for QEMU's capabilities probe
if ! timeout 120 /usr/bin/virsh -q -c "$URI" version >/dev/null 2>&1; then
	fail "libvirt: libvirtd did not come up: $(cat "$D/libvirtd.out"; grep error "$D/log/libvirtd.log" | tail -n 3)"
	exit 1
fi
pass "libvirt: a private libvirtd runs (pid $LV_PID)"

kvmbpf net add lan type bridge || fail "net add lan"
MA=52:54:00:96:00:11 MB=52:54:00:96:00:12 MC=52:54:00:96:00:13

WAIT='waitfor() { i=0; while [ $i -lt 90 ]; do ping -c1 -W1 $1 >/dev/null 2>&1 && return 0; i=$((i+1)); done; return 1; }'
SA=$WAIT'
ip link set eth0 up; ip addr add 10.96.0.11/24 dev eth0
waitfor 10.96.0.12 && echo "KVB reach ok" || echo "KVB reach no"
sleep 600'
SB=$WAIT'
ip link set eth0 up; ip addr add 10.96.0.12/24 dev eth0
waitfor 10.96.0.11 && echo "KVB reach ok" || echo "KVB reach no"
sleep 600'

# domain NAME MAC SCRIPT DESCRIPTION METADATA-PORTS TARGET-ATTRS
domain() {
	cat <<EOX
<domain type='qemu'>
  <name>$T-$1</name>
  <description>$4</description>
  <metadata>
    <kvmbpf:ports xmlns:kvmbpf="https://kvmbpf.dev/xmlns/1" bpffs="$BPFFS">$5</kvmbpf:ports>
  </metadata>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$GUEST_CACHE/vmlinuz</kernel>
    <initrd>$GUEST_CACHE/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 kvb.run=$(printf '%s' "$3" | base64 -w0)</cmdline>
  </os>
  <cpu mode='maximum'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='ethernet'>
      <mac address='$2'/>
      <target dev='$T-$1'$6/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='$GUEST_LOGDIR/$1.log'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOX
}

domain a $MA "$SA" "web" "<kvmbpf:port mac='$MA' net='lan' ip='10.96.0.11'/>" "" >"$D/a.xml"
domain b $MB "$SB" "kvmbpf-net: lan" "" " managed='no'" >"$D/b.xml"
domain c $MC "sleep 600" "" "<kvmbpf:port mac='$MC' net='nosuch'/>" "" >"$D/c.xml"
for d in a b c; do
	virsh define "$D/$d.xml" >/dev/null || fail "libvirt: define $d"
done
ip tuntap add dev "$T-b" mode tap vnet_hdr && LINK_LIST+=("$T-b")

# kvmbpf not installed yet: a clear refusal, not a traceback
out=$(virsh start "$T-a" 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -q "kvmbpf hook: .*kvmbpf is not installed" <<<"$out" &&
   ! grep -q Traceback <<<"$out"; then
	pass "libvirt: without kvmbpf, virsh start fails with a clear message"
else
	fail "libvirt: without kvmbpf: rc $rc: $out"
fi
check_not "libvirt: ... and the domain is not running" sh -c \
	"/usr/bin/virsh -c '$URI' domstate $T-a | grep -q running"

# make install's place for the binary, inside libvirtd's mount namespace
install -m 0755 "$ROOT/build/kvmbpf" "$D/sbin/kvmbpf"
loglines=$(wc -l <"$D/log/libvirtd.log")
out=$(virsh start "$T-a" 2>&1) && pass "libvirt: virsh start a (metadata)" ||
	fail "libvirt: virsh start a: $out"
out=$(virsh start "$T-b" 2>&1) && pass "libvirt: virsh start b (description, own tap)" ||
	fail "libvirt: virsh start b: $out"

check "libvirt: a attached with the metadata's network, MAC and IP" "$PY" -c "
import json, subprocess
p = json.loads(subprocess.check_output(['$ROOT/build/kvmbpf', '--bpffs', '$BPFFS', '-j', 'port', 'show', '$T-a']))
assert p['net'] == 'lan' and p['role'] == 'guest' and p['mac'] == '$MA', p
assert [a['ip'] for a in p['addresses']] == ['10.96.0.11'], p"
check "libvirt: b attached to its description's network with its MAC" "$PY" -c "
import json, subprocess
p = json.loads(subprocess.check_output(['$ROOT/build/kvmbpf', '--bpffs', '$BPFFS', '-j', 'port', 'show', '$T-b']))
assert p['net'] == 'lan' and p['mac'] == '$MB', p"
check "libvirt: the pre-created tap is up" sh -c "ip link show $T-b | grep -q ',UP'"

guest_wait_key a reach 240 && guest_wait_key b reach 60 ||
	fail "libvirt: guests did not report: $(tail -n 3 "$GUEST_LOGDIR/a.log" "$GUEST_LOGDIR/b.log" 2>&1)"
[ "$(guest_result a reach)" = ok ] && pass "libvirt: guest a reaches guest b" ||
	fail "libvirt: a -> b: '$(guest_result a reach)'"
[ "$(guest_result b reach)" = ok ] && pass "libvirt: guest b reaches guest a" ||
	fail "libvirt: b -> a: '$(guest_result b reach)'"

# map entries of a port: its port, its addresses, its MAC table entries
entries() {
	"$PY" - "$BPFFS" "$1" "$2" <<'EOF'
import json, subprocess, sys
d, ifindex, mac = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3].replace(':', ''))
def dump(m):
    out = subprocess.run(['bpftool', '-j', 'map', 'dump', 'pinned', f'{d}/{m}'],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)
def raw(x):
    return bytes(int(b, 16) for b in x)
n = 0
# (kvb_stats is an array by port slot: its entries always exist)
for m in ('kvb_port', 'kvb_addr'):
    n += sum(1 for e in dump(m) if int.from_bytes(raw(e['key'])[:4], 'little') == ifindex)
n += sum(1 for e in dump('kvb_fdb') if mac in raw(e['key']))
print(n)
EOF
}
ifa=$(cat /sys/class/net/"$T-a"/ifindex 2>/dev/null)
before=$(entries "$ifa" "$MA")
[ "${before:-0}" -gt 0 ] || fail "libvirt: no map entries seen for a while it runs"
out=$(virsh destroy "$T-a" 2>&1) && pass "libvirt: virsh destroy a" || fail "libvirt: virsh destroy a: $out"
check_not "libvirt: destroy: no port left" kvmbpf port show "$T-a"
after=$(entries "$ifa" "$MA")
[ "$after" = 0 ] && pass "libvirt: destroy: no pinned map entries left (had $before)" ||
	fail "libvirt: destroy: $after map entries left"
check_not "libvirt: destroy: libvirt's tap is gone" ip link show "$T-a"
out=$(virsh destroy "$T-b" 2>&1) || fail "libvirt: virsh destroy b: $out"
check_not "libvirt: destroy b: no port left" kvmbpf port show "$T-b"
check "libvirt: destroy b: the operator's own tap stays" ip link show "$T-b"
# libvirt logs a hook's failure; kvmbpf installed, a start and a stop have
# none (release, whose XML names no tap any more, failed each time: "no
# <target dev=...>")
hookerr=$(tail -n +"$((loglines + 1))" "$D/log/libvirtd.log" | grep "Hook script execution failed")
[ -z "$hookerr" ] && pass "libvirt: the hook failed at no start or stop" ||
	fail "libvirt: the hook failed: $(tail -n 2 <<<"$hookerr")"

# a network that does not exist: refused before QEMU runs, nothing left
out=$(virsh start "$T-c" 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -q "kvmbpf network 'nosuch' does not exist" <<<"$out" &&
   ! grep -q Traceback <<<"$out"; then
	pass "libvirt: unknown network: virsh start fails cleanly"
else
	fail "libvirt: unknown network: rc $rc: $out"
fi
check_not "libvirt: unknown network: not running" sh -c \
	"/usr/bin/virsh -c '$URI' domstate $T-c | grep -q running"
check_not "libvirt: unknown network: no tap left" ip link show "$T-c"
check "libvirt: unknown network: no port in the fabric" sh -c \
	"[ \"\$(bpftool -j map dump pinned $BPFFS/kvb_port | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 0 ]"
for d in a b c; do virsh undefine "$T-$d" >/dev/null 2>&1; done
finish

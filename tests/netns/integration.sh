#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# QEMU's tap scripts and the libvirt hook, called exactly as QEMU and
# libvirt call them; and `make install`.
source "$(dirname "$0")/lib.sh"

export KVMBPF="$ROOT/build/kvmbpf" KVMBPF_BPFFS="$BPFFS"
kvmbpf net add lan type bridge || fail "net add lan"
kvmbpf net add other type internal || fail "net add other"
kvmbpf acl add web || fail "acl add web"
for t in q l1 l2 l3; do
	ip tuntap add dev "$T-$t" mode tap vnet_hdr && LINK_LIST+=("$T-$t")
done

# --- qemu-ifup / qemu-ifdown --------------------------------------------------
check_not "qemu-ifup: no network is an error" env -u KVMBPF_NET "$ROOT/scripts/qemu-ifup" "$T-q"
check "qemu-ifup TAP (QEMU's call)" env KVMBPF_NET=lan \
	KVMBPF_ATTACH_ARGS="mac 52:54:00:97:00:01 ip 10.97.0.1" "$ROOT/scripts/qemu-ifup" "$T-q"
check "qemu-ifup: attached with its MAC and address" sh -c \
	"\"$KVMBPF\" -j port show $T-q | grep -q '\"net\":\"lan\",\"role\":\"guest\",\"mac\":\"52:54:00:97:00:01\".*10.97.0.1'"
check "qemu-ifup: tap is up" sh -c "ip link show $T-q | grep -q ',UP'"
check "qemu-ifdown TAP" "$ROOT/scripts/qemu-ifdown" "$T-q"
check_not "qemu-ifdown: detached" "$KVMBPF" port show "$T-q"
check "qemu-ifdown: twice is fine" "$ROOT/scripts/qemu-ifdown" "$T-q"
# the tap deleted under a running QEMU and made again for another guest
# under its name (attached by that guest's qemu-ifup): the first QEMU's
# qemu-ifdown, when it exits, leaves the other guest's port (bb25: it
# detached it, the new guest lost its network)
go=$TMPDIR/qemu-exits
# a QEMU as far as its scripts see: qemu-ifup TAP, then, when it exits
# ($go), qemu-ifdown TAP; both its children
KVMBPF_NET=lan sh -c '"$1/qemu-ifup" "$2"; while [ ! -e "$3" ]; do sleep 0.1; done
	"$1/qemu-ifdown" "$2"' sh "$ROOT/scripts" "$T-q" "$go" >"$TMPDIR/q1.out" 2>&1 &
q1=$!
for _ in $(seq 50); do "$KVMBPF" port show "$T-q" >/dev/null 2>&1 && break; sleep 0.1; done
ip link del "$T-q" && ip tuntap add dev "$T-q" mode tap vnet_hdr
KVMBPF_NET=lan "$ROOT/scripts/qemu-ifup" "$T-q" || fail "the other guest's qemu-ifup"
touch "$go"; wait "$q1"
"$KVMBPF" port show "$T-q" >/dev/null 2>&1 && grep -q "its port left alone" "$TMPDIR/q1.out" &&
	pass "qemu-ifdown of the first QEMU leaves the new tap's port, said" ||
	fail "qemu-ifdown of the first QEMU: port show $T-q failed or it said '$(cat "$TMPDIR/q1.out")'"
check "... the other guest's qemu-ifdown detaches it" "$ROOT/scripts/qemu-ifdown" "$T-q"
check_not "... detached" "$KVMBPF" port show "$T-q"
# a QEMU killed outright (its qemu-ifdown never runs) on a persistent
# tap: the guest started again with the same settings attaches (bb25
# repro3: "already attached", and QEMU refused to start)
KVMBPF_NET=lan KVMBPF_ATTACH_ARGS="mac 52:54:00:97:00:02" sh -c \
	'"$1/qemu-ifup" "$2"; exec sleep 600' sh "$ROOT/scripts" "$T-q" >/dev/null 2>&1 &
q2=$!
for _ in $(seq 50); do "$KVMBPF" port show "$T-q" >/dev/null 2>&1 && break; sleep 0.1; done
kill -KILL "$q2"; wait "$q2" 2>/dev/null
out=$(KVMBPF_NET=lan KVMBPF_ATTACH_ARGS="mac 52:54:00:97:00:02" "$ROOT/scripts/qemu-ifup" "$T-q" 2>&1) &&
	grep -q "ended without qemu-ifdown: detached first" <<<"$out" &&
	"$KVMBPF" port show "$T-q" >/dev/null 2>&1 &&
	pass "qemu-ifup after its QEMU was killed: attaches again, said" ||
	fail "qemu-ifup after its QEMU was killed: '$out'"
check "... and qemu-ifdown detaches" "$ROOT/scripts/qemu-ifdown" "$T-q"
rm -f /run/kvmbpf-qemu/"$T"-*

# --- libvirt hook ---------------------------------------------------------------
xml=$(mktemp)
cat >"$xml" <<EOX
<domain type='kvm'>
  <name>$T-vm</name>
  <description>test domain
kvmbpf-net: other</description>
  <metadata>
    <kvmbpf:ports xmlns:kvmbpf="https://kvmbpf.dev/xmlns/1">
      <kvmbpf:port mac="52:54:00:97:00:11" net="lan" ip="10.97.0.11 fd97::11" isolated="on" acl="web" savi="off" xdp="on"/>
    </kvmbpf:ports>
  </metadata>
  <devices>
    <interface type='ethernet'>
      <mac address='52:54:00:97:00:11'/>
      <target dev='$T-l1' managed='no'/>
      <model type='virtio'/>
    </interface>
    <interface type='ethernet'>
      <mac address='52:54:00:97:00:12'/>
      <target dev='$T-l2' managed='no'/>
      <model type='virtio'/>
    </interface>
    <interface type='network'>
      <mac address='52:54:00:97:00:13'/>
      <source network='default'/>
      <target dev='$T-l3'/>
    </interface>
  </devices>
</domain>
EOX
hook="$ROOT/scripts/libvirt-hook-qemu"
check "hook: prepare is a no-op" sh -c "'$hook' $T-vm prepare begin - < $xml"
check_not "hook: nothing attached at prepare" "$KVMBPF" port show "$T-l1"
check "hook: started" sh -c "'$hook' $T-vm started begin - < $xml"
check "hook: metadata port attached by MAC" "$PY" -c "
import json, subprocess
p = json.loads(subprocess.check_output(['$KVMBPF', '-j', 'port', 'show', '$T-l1']))
assert p['net'] == 'lan' and p['mac'] == '52:54:00:97:00:11', p
assert p['isolated'] is True and p['spoofcheck'] is True, p
assert p['acl'] == ['web'] and p['savi'] is False and p['xdp'] is True, p
assert sorted(a['ip'] for a in p['addresses']) == ['10.97.0.11', 'fd97::11'], p"
check "hook: description network for the other interface" sh -c \
	"\"$KVMBPF\" -j port show $T-l2 | grep -q '\"net\":\"other\",\"role\":\"guest\",\"mac\":\"52:54:00:97:00:12\"'"
check_not "hook: non-ethernet interfaces left alone" "$KVMBPF" port show "$T-l3"
check "hook: stopped" sh -c "'$hook' $T-vm stopped end - < $xml"
check_not "hook: detached l1" "$KVMBPF" port show "$T-l1"
check_not "hook: detached l2" "$KVMBPF" port show "$T-l2"
check "hook: release after stopped is fine" sh -c "'$hook' $T-vm release end - < $xml"
# the network edited out of a running domain (virsh desc / virsh metadata
# --live): stopped detaches its taps all the same (they stayed ports of
# the network, and the next guest on a tap of that name joined it)
check "hook: started (for an edited stop)" sh -c "'$hook' $T-vm started begin - < $xml"
xml3=$(mktemp)
sed -e 's/kvmbpf-net: other//' -e '/<metadata>/,/<\/metadata>/d' "$xml" >"$xml3"
check "hook: stopped, no network named any more" sh -c "'$hook' $T-vm stopped end - < $xml3"
check_not "hook: ... detached l1" "$KVMBPF" port show "$T-l1"
check_not "hook: ... detached l2" "$KVMBPF" port show "$T-l2"
# another domain whose start failed on a tap name this one's port holds
# (libvirt runs its stopped hook too): its interface's MAC is not the
# port's, and the running domain keeps its port
check "hook: started (for another domain's stop)" sh -c "'$hook' $T-vm started begin - < $xml"
sed -e 's/52:54:00:97:00:11/52:54:00:97:00:21/' -e "s/$T-vm/$T-vm2/" "$xml3" >"$xml3.b"
check "hook: another domain naming tap l1 stopped" sh -c "'$hook' $T-vm2 stopped end - < $xml3.b"
check "hook: ... l1 stays the running domain's port" "$KVMBPF" port show "$T-l1"
check "hook: stopped (the running domain)" sh -c "'$hook' $T-vm stopped end - < $xml"
rm -f "$xml3.b"
# release, as libvirt 9 gives it: no target devs left in the XML (every
# stop logged "no <target dev=...>" as the hook's failure)
sed '/<target /d' "$xml" >"$xml3"
out=$(sh -c "'$hook' $T-vm release end - < $xml3" 2>&1) && [ -z "$out" ] &&
	pass "hook: release without target devs: nothing to do, said nothing" ||
	fail "hook: release without target devs: '$out'"
rm -f "$xml3"
# a setting the hook does not know (a misspelt acl) refuses the start: the
# guest would run without it
xml2=$(mktemp)
sed 's/ acl="web"/ acls="web"/' "$xml" >"$xml2"
check_not "hook: an unknown port attribute refuses the start" sh -c "'$hook' $T-vm started begin - < $xml2"
sed 's/ acl="web"/ kvmbpf:acl="web"/' "$xml" >"$xml2"
check_not "hook: a prefixed attribute (read by no one) refuses the start" sh -c "'$hook' $T-vm started begin - < $xml2"
sed 's/ acl="web"/ acls="web"/' "$xml" >"$xml2"
check_not "hook: ... and attaches nothing" "$KVMBPF" port show "$T-l2"
# ... but never the clean-up of a domain that runs (started by an older
# hook, its metadata edited live): stopped detaches all the same
check "hook: started (for the stop below)" sh -c "'$hook' $T-vm started begin - < $xml"
check "hook: stopped with an unknown attribute in the metadata" sh -c "'$hook' $T-vm stopped end - < $xml2"
check_not "hook: ... detached l1 all the same" "$KVMBPF" port show "$T-l1"
# a port entry for no interface of the domain, and an ACL that does not
# exist: refused before QEMU runs
sed 's/mac="52:54:00:97:00:11" net/mac="52:54:00:97:00:99" net/' "$xml" >"$xml2"
check_not "hook: a port entry for no interface: refused at prepare" sh -c "'$hook' $T-vm prepare begin - < $xml2"
sed 's/ acl="web"/ acl="nosuchacl"/' "$xml" >"$xml2"
out=$(sh -c "'$hook' $T-vm prepare begin - < $xml2" 2>&1) &&
	fail "hook: an ACL that does not exist: prepare passed" ||
	{ grep -q "acl 'nosuchacl' does not exist" <<<"$out" &&
	  pass "hook: an ACL that does not exist: refused at prepare" ||
	  fail "hook: an ACL that does not exist: '$out'"; }
rm -f "$xml2"
# as libvirt runs it: no KVMBPF or KVMBPF_BPFFS, kvmbpf found on PATH, the
# fabric named by the domain's <kvmbpf:ports bpffs=...>
bin=$(mktemp -d)
ln -s "$KVMBPF" "$bin/kvmbpf"
sed -i "s|<kvmbpf:ports |<kvmbpf:ports bpffs=\"$BPFFS\" |" "$xml"
check "hook: no environment, fabric from the metadata" env -i HOME=/root LC_ALL=C \
	PATH="$bin:/usr/bin:/bin" sh -c "'$hook' $T-vm started begin - < $xml"
check "hook: ... attached in that fabric" "$KVMBPF" port show "$T-l1"
check "hook: ... and detached" env -i HOME=/root LC_ALL=C \
	PATH="$bin:/usr/bin:/bin" sh -c "'$hook' $T-vm stopped end - < $xml"
check_not "hook: ... nothing left" "$KVMBPF" port show "$T-l1"
rm -rf "$bin"
rm -f "$xml"

# --- make install ----------------------------------------------------------------
dest=$(mktemp -d)
check "make install DESTDIR" make -s -C "$ROOT" install DESTDIR="$dest"
for f in usr/local/sbin/kvmbpf usr/local/libexec/kvmbpf/qemu-ifup \
	usr/local/libexec/kvmbpf/qemu-ifdown usr/local/libexec/kvmbpf/libvirt-hook-qemu; do
	check "installed $f" test -x "$dest/$f"
done
check "installed the systemd unit" test -f "$dest/etc/systemd/system/kvmbpf.service"
rm -rf "$dest"
finish

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The kvmbpf command: errors, JSON, idempotence, and that detach / net del
# leave no program, filter, pin or promiscuous flag behind.
source "$(dirname "$0")/lib.sh"
# the fabrics of the no-fabric checks go too, should one be left
trap 'for d in "${BPFFS}_none" "${BPFFS}_typo"; do [ -d "$d" ] && "$ROOT/build/kvmbpf" --bpffs "$d" reset >/dev/null 2>&1; done; cleanup' EXIT

# expect_err NAME PATTERN CMD...: non-zero exit and a one-line message
expect_err() {
	local name=$1 pat=$2 out rc; shift 2
	out=$("$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -ne 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] &&
	   printf '%s' "$out" | grep -q "^kvmbpf: .*$pat"; then
		pass "$name"
	else
		fail "$name: exit $rc, stderr '$out' (want /$pat/)"
	fi
}

netns_add "$T-a"
guest_link "$T-a" "$T-a"
netns_add "$T-b"
guest_link "$T-b" "$T-b"
netns_add "$T-lan"
ip link add "$T-up" type veth peer name eth0 netns "$T-lan"
LINK_LIST+=("$T-up")
ip link set "$T-up" up

check "version" kvmbpf --version
check "help goes to stdout" sh -c "\"\${0}\" --help 2>/dev/null | grep -q '^Usage: kvmbpf'" "$ROOT/build/kvmbpf"
check "help lists every object" bash -c "h=\$(\"\${0}\" --help); for o in net attach detach port fdb ct forward stats monitor upgrade gc reset save load; do
	grep -q \"^  \$o\" <<<\"\$h\" || exit 1; done" "$ROOT/build/kvmbpf"
# per-object help, on stdout, from the tables the parsers read
objhelp() { # NAME PATTERN ARGS...: 'kvmbpf ARGS' prints PATTERN on stdout
	local name=$1 pat=$2 out; shift 2
	out=$(kvmbpf "$@" 2>/dev/null)
	if [ $? -eq 0 ] && grep -q -- "$pat" <<<"$out" && ! grep -q "^Usage: kvmbpf \[OPTIONS\]" <<<"$out"; then
		pass "$name"; else fail "$name: '$out'"; fi
}
objhelp "net help" "net add NAME type routed .*subnet CIDR" net help
objhelp "net add help" "ct-timeout KIND SECONDS" net add help
objhelp "stats help lists the drop reasons" "spoof-mac " stats help
objhelp "ct help" "kvmbpf ct flush" ct help
objhelp "port help" "spoofcheck on|off" port help
objhelp "attach help" "kvmbpf attach DEV net NAME" attach help
objhelp "monitor --help" "count N" monitor --help
objhelp "forward help" "to ADDR\[:PORT\]" forward help
objhelp "help with -j is text" "kvmbpf fdb show" -j fdb help
# no synopsis is cut (a 160-byte line buffer cut net set's at "[acl
# NAME[,NAME.", port set's lost its acl), and every line fits 80 columns
helpfull() { # NAME STRING ARGS...: 'kvmbpf ARGS' prints STRING, whole
	local name=$1 str=$2 out; shift 2
	out=$(kvmbpf "$@" 2>/dev/null)
	if [ $? -eq 0 ] && grep -qF -- "$str" <<<"$out"; then
		pass "$name"; else fail "$name: no '$str' in '$out'"; fi
}
helpfull "port help: port set's acl keyword whole" "[acl NAME[,NAME...]|none]" port help
helpfull "--help: port set's acl keyword whole" "[acl NAME[,NAME...]|none]" --help
helpfull "--help: net set's synopsis to its end" "[wan-xdp on|off]" --help
helpfull "net help: net set's synopsis to its end" "[wan-xdp on|off]" net help
helpfull "net help: net set's acl keyword whole" "[acl NAME[,NAME...]|none]" net help
helpfull "--help: net set's ct-port-max" "[ct-port-max N]" --help
for o in "" net attach detach port fdb ct forward acl stats monitor upgrade gc reset save load; do
	out=$(kvmbpf $o --help 2>/dev/null); rc=$?
	w=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' <<<"$out")
	[ $rc -eq 0 ] && [ "$w" -gt 0 ] && [ "$w" -le 80 ] &&
		pass "help ${o:-(all)}: at most 80 columns" ||
		fail "help ${o:-(all)}: exit $rc, widest line $w columns (want 1-80)"
done
# a read-only command on a mistyped --bpffs: no fabric there, none created
expect_err "read-only command on no fabric" "no fabric in ${BPFFS}_typo" \
	"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_typo" net show
check_not "... and none was created" test -e "${BPFFS}_typo"
check "... -j: the error as JSON" sh -c "\"\${0}\" --bpffs ${BPFFS}_typo -j port show | $PY -c '
import json, sys
e = json.load(sys.stdin)
assert \"no fabric\" in e[\"error\"], e'" "$ROOT/build/kvmbpf"
# under -j every failure is one JSON error on stdout, the options' and a
# missing object or command too
for a in "--bogus net show" "net show --bpffs" "" "net" "forward"; do
	# shellcheck disable=SC2086
	out=$("$ROOT/build/kvmbpf" -j $a 2>/dev/null); rc=$?
	"$PY" -c 'import json, sys; e = json.loads(sys.argv[1]); assert e["error"], e' "$out" 2>/dev/null &&
		[ $rc -ne 0 ] && pass "-j $a: a JSON error, rc $rc" || fail "-j $a: rc $rc, '$out'"
done
# a changing command that makes nothing (detach, net del, gc, upgrade) on
# no fabric: an error, and no fabric made (no pins, no bpffs directory)
for c in "detach tap9" "net del x" "gc" "upgrade" "port set tap9 isolated on"; do
	expect_err "$c on no fabric: an error" "no fabric in ${BPFFS}_none" \
		"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" $c
done
check_not "... and none was made" test -e "${BPFFS}_none"
expect_err "net add with a mistyped word on no fabric: an error" "type bogus" \
	"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" net add x type bogus
check_not "... and no fabric made for it" test -e "${BPFFS}_none"
# a creating command that fails its checks on no fabric: nothing left
# behind (no pins, no armed timers, no directory it made)
expect_err "net add, uplink missing, on no fabric: an error" \
	"uplink nosuchdev0: no such device" \
	"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" net add x type bridge uplink nosuchdev0
check_not "... and no fabric left" test -e "${BPFFS}_none"
# (a subnet of the host's, on a device of the test's: the check that
# fails once the fabric is opened, not the parser's)
ip link add "$T-qo" type veth peer name "$T-qx" && LINK_LIST+=("$T-qo")
ip addr add 198.18.210.1/24 dev "$T-qo" && ip link set "$T-qo" up
expect_err "net add over a host's subnet on no fabric: an error" "overlaps 198.18.210.0/24 on $T-qo" \
	"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" net add x type routed subnet 198.18.210.0/24
check_not "... and no fabric left" test -e "${BPFFS}_none"
printf 'net add x type bridge uplink nosuchdev0\n' >"$TMPDIR/bad.conf"
check_not "load of a failing file on no fabric: an error" \
	"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" load "$TMPDIR/bad.conf"
check_not "... and no fabric left" test -e "${BPFFS}_none"
mkdir "${BPFFS}_none"
expect_err "net add failing in an empty directory: an error" "overlaps 198.18.210.0/24" \
	"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" net add x type routed subnet 198.18.210.0/24
check "... the directory stays, empty" sh -c "[ -z \"\$(ls -A ${BPFFS}_none)\" ]"
rmdir "${BPFFS}_none"
printf 'net add x type bridge\nnet add y type bridge uplink nosuchdev0\n' >"$TMPDIR/half.conf"
check_not "load whose second line fails: an error" \
	"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" load "$TMPDIR/half.conf"
check "... the fabric with the first line's network stays" \
	"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" net show x
"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" reset
# a failing line (a subnet the host took since the file was saved) does
# not stop the lines after it: a boot restores every network it can
printf 'net add x type routed subnet 198.18.210.0/24\nnet add y type bridge\nacl add ly\nattach %s net x\n' "$T-b" >"$TMPDIR/mid.conf"
out=$("$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" load "$TMPDIR/mid.conf" 2>&1) &&
	fail "load with a failing first line: succeeded: $out" ||
	{ grep -q "overlaps 198.18.210.0/24" <<<"$out" && grep -q "line 1 failed" <<<"$out" &&
		grep -q "line 4: attach $T-b net x: a line it needs (x) failed, not applied" <<<"$out" &&
		grep -q "^2 applied, 0 already in effect or skipped, 2 failed" <<<"$out" &&
		pass "load with a failing first line: says it, applies the rest but what needs it, fails at the end" ||
		fail "load with a failing first line: '$out'"; }
check "... the later network is there" "$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" net show y
check "... and the later ACL" "$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" acl show ly
check_not "... but not the port of the failed network" "$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" port show "$T-b"
"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" reset
# a file with a line that is no configuration line is refused whole
printf 'net add y type bridge\nreset\n' >"$TMPDIR/odd.conf"
expect_err "load of a file with a command that is no configuration line: refused" \
	"line 2: expected 'acl add', 'acl rule add', 'net add'.*(nothing applied)" \
	"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" load "$TMPDIR/odd.conf"
check_not "... and nothing of it applied" test -e "${BPFFS}_none/kvb_net"
# deletes are no configuration lines either, ACLs' too (a file with them
# deleted ACLs and rules of the running fabric)
for l in "acl del ly" "acl rule del ly 0"; do
	printf 'net add y type bridge\n%s\n' "$l" >"$TMPDIR/odd.conf"
	expect_err "load of a file with '$l': refused" \
		"line 2: expected 'acl add'.*(nothing applied)" \
		"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" load "$TMPDIR/odd.conf"
done
# what cannot be read whole is refused whole (t118: a directory loaded as
# an empty file, rc 0, and left an empty fabric; a line past 4 KiB ran as
# two commands; what followed a NUL byte on a line went unread)
expect_err "load of a directory: an error" "load: $TMPDIR: Is a directory (nothing applied)" \
	"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" load "$TMPDIR"
check_not "... and no fabric left" test -e "${BPFFS}_none"
{ printf 'net add y type bridge\nnet add z type bridge mtu 1500'; printf ' %.0s' $(seq 5000); printf '\n'; } >"$TMPDIR/long.conf"
expect_err "load of a line past 4 KiB: refused" "line 2: longer than 4095 bytes (nothing applied)" \
	"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" load "$TMPDIR/long.conf"
check_not "... and nothing of it applied" test -e "${BPFFS}_none/kvb_net"
printf 'net add y type bridge\x00\nacl del ly\n' >"$TMPDIR/nul.conf"
expect_err "load of a line with a NUL byte: refused" "line 1: a NUL byte (nothing applied)" \
	"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" load "$TMPDIR/nul.conf"
check_not "... and nothing of it applied" test -e "${BPFFS}_none/kvb_net"
expect_err "--bpffs off bpffs: refused" "is not on a bpffs mount" \
	"$ROOT/build/kvmbpf" --bpffs "$TMPDIR/nobpffs" net add x type bridge
check_not "... and the directory it made is gone" test -e "$TMPDIR/nobpffs"
check "reset on no fabric: nothing to do, no error" \
	"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_none" reset
# an empty directory made beforehand (mkdir -p): no fabric either (t95)
mkdir -p "${BPFFS}_empty"
check "reset of an empty directory: nothing to do, no error" \
	"$ROOT/build/kvmbpf" --bpffs "${BPFFS}_empty" reset
check "reset -j of an empty directory: no error" \
	"$ROOT/build/kvmbpf" -j --bpffs "${BPFFS}_empty" reset
rmdir "${BPFFS}_empty"
expect_err "no object" "unknown command" kvmbpf frobnicate
expect_err "unknown net command" "unknown command 'frob'" kvmbpf net frob
expect_err "bad type" "type moo" kvmbpf net add n1 type moo
expect_err "missing type" "missing 'type" kvmbpf net add n1
expect_err "bad name" "name 'a/b'" kvmbpf net add a/b type bridge
# a name read as an option (bb19: accepted, then 'net del -- -x' found no
# such network)
expect_err "a name beginning with '-': refused" "not beginning with '-'" kvmbpf net add -x type bridge
expect_err "an ACL name beginning with '-': refused" "not beginning with '-'" kvmbpf acl add -x
expect_err "bad mtu" "mtu 20" kvmbpf net add n1 type bridge mtu 20
# a forward of UDP 4789 made before the fabric tunnels: the first IPv4
# vtep is refused while it exists (the datapath leaves 4789 to the
# overlay then; save would write what load refuses), not after it goes
check "net add fw (nat, no vteps yet)" kvmbpf net add fw type nat subnet 10.78.0.0/24 dhcp off
check "attach $T-a to fw" kvmbpf attach "$T-a" net fw ip 10.78.0.5
# vteps without a VNI: refused by net set as by net add (saved, the
# network's line would not load again, and its ports would go with it)
expect_err "net set vtep on a network without a vni: refused" "vtep needs 'vni N'" \
	kvmbpf net set fw vtep 198.18.1.9
expect_err "net set vtep-add on a network without a vni: refused" "vtep needs 'vni N'" \
	kvmbpf net set fw vtep-add 198.18.1.9
check_not "... and save writes no vtep" sh -c "\"\$0\" --bpffs \"\$1\" save | grep -q vtep" \
	"$ROOT/build/kvmbpf" "$BPFFS"
check "forward udp 4780-4790 (no overlay yet)" \
	kvmbpf forward add fw proto udp port 4780-4790 to 10.78.0.5
expect_err "an IPv4 vtep while UDP 4789 is forwarded: refused" \
	"udp port 4789 is forwarded to 10.78.0.5 in network fw" \
	kvmbpf net add ovf type internal vni 76 vtep 198.18.1.200
check_not "... and no network ovf is left" kvmbpf net show ovf
check "an IPv6 vtep is not refused" kvmbpf net add ovf type internal vni 76 vtep fd78::2
expect_err "vtep-add of an IPv4 vtep: refused" "udp port 4789 is forwarded" \
	kvmbpf net set ovf vtep-add 198.18.1.200
check "forward del of port 4789 alone" kvmbpf forward del fw proto udp port 4789
check "then the IPv4 vtep is taken" kvmbpf net set ovf vtep-add 198.18.1.200
check "the forward's other ports stay" sh -c "\"\$0\" --bpffs \"\$1\" forward show fw | grep -q 4790" \
	"$ROOT/build/kvmbpf" "$BPFFS"
# a saved file from before the refusal: its forward over 4789 is loaded
# without port 4789, with a warning, and loading it again changes nothing
kvmbpf forward del fw proto udp port 4780-4788 >/dev/null
kvmbpf forward del fw proto udp port 4790 >/dev/null
old_save="$(mktemp)"
echo "forward add fw proto udp port 4780-4790 to 10.78.0.5" >"$old_save"
out=$(kvmbpf load "$old_save" 2>&1) &&
	grep -q "udp port 4789 is the overlay's (VXLAN) .*forwarded without it" <<<"$out" &&
	pass "load: an old forward over 4789 while tunnelling: loaded without 4789, with a warning" ||
	fail "load: an old forward over 4789: '$out'"
fws=$(kvmbpf -j forward show fw | "$PY" -c '
import json, sys
print(" ".join(str(p) for f in json.load(sys.stdin) for p in range(f["port"], f.get("port_end", f["port"]) + 1)))' 2>&1)
[ "$fws" = "$(seq -s ' ' 4780 4788) 4790" ] && pass "... its ports but 4789 are forwarded" ||
	fail "... forwarded ports: '$fws'"
check "... and loading it again changes nothing" kvmbpf load "$old_save"
# DHCPv6 serves /64 or longer: a shorter IPv6 subnet with dhcp on is
# refused by kvmbpf, naming it (not by a dnsmasq failing to start)
expect_err "net add: an IPv6 /48 with dhcp on: refused, named" \
	"subnet fd77:48::/48: dhcp on serves IPv6 subnets of /64 or longer" \
	kvmbpf net add r48 type routed subnet 10.77.48.0/24 subnet fd77:48::/48 dhcp on
check_not "... and no network r48 made" kvmbpf net show r48
# a file with DOS line ends (CRLF, written on Windows): as with LF
printf 'net add crlf type internal mtu 1500\r\n\r\n# a comment\r\n' >"$old_save"
check "load: a file with CRLF line ends" kvmbpf load "$old_save"
check "... its network is there, as written" sh -c "\"\$0\" --bpffs \"\$1\" net show crlf | grep -q 'mtu 1500'" \
	"$ROOT/build/kvmbpf" "$BPFFS"
check "... and loading it again changes nothing" kvmbpf load "$old_save"
check "net del crlf" kvmbpf net del crlf
rm -f "$old_save"
check "net del ovf" kvmbpf net del ovf
# a full table of forwards says so (not the map's E2BIG)
kvmbpf forward del fw proto udp port 4780-4790 >/dev/null 2>&1
for r in 1-1024 1025-2048 2049-3072 3073-4096; do
	kvmbpf forward add fw proto tcp port $r to 10.78.0.5 >/dev/null || fail "forward add tcp $r"
done
expect_err "forward add to a full table: says so" \
	"the table of forwarded ports is full (4096, all networks)" \
	kvmbpf forward add fw proto udp port 53 to 10.78.0.5
check_not "... and adds nothing" sh -c "\"\$0\" --bpffs \"\$1\" forward show fw | grep -q udp" \
	"$ROOT/build/kvmbpf" "$BPFFS"
check "detach $T-a" kvmbpf detach "$T-a"
check "net del fw" kvmbpf net del fw
# an ACL rule added twice: an error, not a second copy (save and load
# could not tell the two apart)
check "acl add dup" kvmbpf acl add dup
check "acl rule add dup (once)" kvmbpf acl rule add dup ingress allow proto tcp dport 22
expect_err "acl rule add dup (twice): refused" "acl dup has this rule already (index 0)" \
	kvmbpf acl rule add dup ingress allow proto tcp dport 22
n=$(kvmbpf -j acl show dup | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(len(d["rules"]))' 2>&1)
[ "$n" = 1 ] && pass "... the ACL keeps one rule" || fail "... acl dup has '$n' rules"
check "acl del dup" kvmbpf acl del dup
# DHCP host reservations: bad input refused, each with its reason
check "net add hr (nat, dhcp on)" kvmbpf net add hr type nat subnet 10.79.0.0/24 subnet fd79::/64
check "net add hroff (nat, dhcp off)" kvmbpf net add hroff type nat subnet 10.79.1.0/24 dhcp off
check "net add hrb (bridge)" kvmbpf net add hrb type bridge
expect_err "dhcp-host: no such network" "network nosuch does not exist" kvmbpf dhcp-host add nosuch ip 10.79.0.5
expect_err "dhcp-host: no ip" "expected NET ip ADDR" kvmbpf dhcp-host add hr mac 52:54:00:79:00:05
expect_err "dhcp-host: not an address" "ip 10.79.0.300: not an address" kvmbpf dhcp-host add hr ip 10.79.0.300
expect_err "dhcp-host: a multicast MAC" "not a unicast MAC" kvmbpf dhcp-host add hr ip 10.79.0.5 mac 01:00:5e:00:00:01
expect_err "dhcp-host: a value missing" "mac needs a value" kvmbpf dhcp-host add hr ip 10.79.0.5 mac
expect_err "dhcp-host: an unknown word" "unexpected 'host'" kvmbpf dhcp-host add hr ip 10.79.0.5 host x
expect_err "dhcp-host: outside the subnets" "outside network hr" kvmbpf dhcp-host add hr ip 10.80.0.5
expect_err "dhcp-host: the gateway" "is the gateway of network hr" kvmbpf dhcp-host add hr ip 10.79.0.1
expect_err "dhcp-host: link-local" "is link-local" kvmbpf dhcp-host add hr ip fe80::5
expect_err "dhcp-host: an IPv6 one with a MAC" "names no MAC" kvmbpf dhcp-host add hr ip fd79::5 mac 52:54:00:79:00:05
expect_err "dhcp-host: dhcp off" "serves no DHCP" kvmbpf dhcp-host add hroff ip 10.79.1.5
expect_err "dhcp-host: a bridge network" "has no subnet" kvmbpf dhcp-host add hrb ip 10.79.0.5
check "dhcp-host add hr ip 10.79.0.5 mac 52:54:00:79:00:05" kvmbpf dhcp-host add hr ip 10.79.0.5 mac 52:54:00:79:00:05
check "... again: as it is" kvmbpf dhcp-host add hr ip 10.79.0.5 mac 52:54:00:79:00:05
expect_err "... with another MAC: refused" "reserved already" kvmbpf dhcp-host add hr ip 10.79.0.5 mac 52:54:00:79:00:06
check "attach $T-a to hr with another address" kvmbpf attach "$T-a" net hr mac 52:54:00:79:00:07 ip 10.79.0.7
expect_err "dhcp-host of a port's address, for another MAC" "is an address of port $T-a" \
	kvmbpf dhcp-host add hr ip 10.79.0.7 mac 52:54:00:79:00:08
check "dhcp-host of a port's static address, no MAC" kvmbpf dhcp-host add hr ip 10.79.0.7
hrgw=$(kvmbpf -j net show hr | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
grep -qx "52:54:00:79:00:07,10.79.0.7" "/run/kvmbpf/$hrgw.hosts" &&
	! grep -q "^id:.*,10\.79\.0\.7\$" "/run/kvmbpf/$hrgw.hosts" &&
	pass "... the port keeps its static lease (its MAC's line, no other)" ||
	fail "hosts file of hr: $(tr '\n' ' ' <"/run/kvmbpf/$hrgw.hosts")"
expect_err "dhcp-host: a MAC that a port has with another static address" "one MAC, one address" \
	kvmbpf dhcp-host add hr ip 10.79.0.8 mac 52:54:00:79:00:07
expect_err "attach: a MAC reserved another address, with a static one" "has the reservation of 10.79.0.5" \
	kvmbpf attach "$T-b" net hr mac 52:54:00:79:00:05 ip 10.79.0.9
check "attach $T-b to hr, an address, no MAC" kvmbpf attach "$T-b" net hr ip 10.79.0.9
expect_err "dhcp-host for a MAC of a port whose MAC was not given" "reserve it for the MAC the port was given" \
	kvmbpf dhcp-host add hr ip 10.79.0.9 mac 52:54:00:79:00:09
check "detach $T-b" kvmbpf detach "$T-b"
expect_err "port set: a reserved address without its MAC" "reserved for MAC 52:54:00:79:00:05" \
	kvmbpf port set "$T-a" ip 10.79.0.5
expect_err "dhcp-host del: none there" "has no reservation" kvmbpf dhcp-host del hr ip 10.79.0.9
check "dhcp-host del" kvmbpf dhcp-host del hr ip 10.79.0.5
check "... then port set takes it" kvmbpf port set "$T-a" ip 10.79.0.5
expect_err "dhcp-host show of no network" "network nosuch does not exist" kvmbpf dhcp-host show nosuch
# a fabric an older build made (the same layout, no kvb_dhcphost yet):
# dhcp-host says to upgrade, and upgrade in place adds the map
rm -f "$BPFFS/kvb_dhcphost"
expect_err "dhcp-host on a fabric older than reservations" "'kvmbpf upgrade' adds them" \
	kvmbpf dhcp-host add hr ip 10.79.0.20
check "dhcp-host show there: none, no error" kvmbpf dhcp-host show
check "upgrade" kvmbpf upgrade force
check "... then dhcp-host add works" kvmbpf dhcp-host add hr ip 10.79.0.20
check "detach $T-a" kvmbpf detach "$T-a"
for n in hr hroff hrb; do kvmbpf net del $n >/dev/null || fail "net del $n"; done
# vteps at the limit: a replace (one leaves, one joins, in one command)
# has room; a join beyond the limit is refused and changes nothing
v=()
for i in $(seq 64); do v+=(vtep "198.18.1.$i"); done
check "net add: a network spanning 64 hosts" kvmbpf net add ov type bridge vni 77 "${v[@]}"
check "net set at 64 vteps: vtep-add and vtep-del together" \
	kvmbpf net set ov vtep-add 198.51.100.1 vtep-del 198.18.1.5
vteps() { kvmbpf -j net show ov | "$PY" -c "
import json, sys; v = json.load(sys.stdin)['vteps']
print(len(v), '198.51.100.1' in v, '198.18.1.5' in v)"; }
[ "$(vteps)" = "64 True False" ] && pass "the replace at the limit: the new host in, the old one out" ||
	fail "the replace at the limit: vteps (count, new in, old in) '$(vteps)'"
expect_err "vtep-add beyond 64 hosts" "at most 64 vteps" kvmbpf net set ov vtep-add 198.51.100.2
expect_err "vtep-add and vtep-del of one host" "198.51.100.1 both joins and leaves" \
	kvmbpf net set ov vtep-add 198.51.100.1 vtep-del 198.51.100.1
[ "$(vteps)" = "64 True False" ] && pass "the refused vtep-add changed nothing" ||
	fail "the refused vtep-add: vteps '$(vteps)'"
check "net del ov" kvmbpf net del ov
# the route table keys IPv4 subnets as ::ffff:a.b.c.d: an IPv6 subnet
# there would alias IPv4 space past the host-overlap check
for sw in "::ffff:192.168.1.0/120|::ffff:0:0/96 (IPv4-mapped" \
	"::ffff:0:0/96|::ffff:0:0/96 (IPv4-mapped" \
	"::c0a8:100/120|::/96 (IPv4-compatible" \
	"::/64|::1 (the loopback" \
	"fe80::/64|fe80::/10 (link-local" \
	"ff05::/16|ff00::/8 (multicast"; do
	expect_err "IPv6 subnet ${sw%%|*}: refused" "subnet ${sw%%|*} overlaps ${sw#*|}" \
		kvmbpf net add r6 type routed subnet 10.77.0.0/24 subnet "${sw%%|*}"
done
check_not "... no network made of them" kvmbpf net show r6
# IPv4 likewise: a gateway in 255.255.255.0/24 took the host's own route
# for the limited broadcast into the guest network
for sw in "255.255.255.0/24|240.0.0.0/4 (reserved" \
	"240.0.0.0/24|240.0.0.0/4 (reserved" \
	"224.0.0.0/24|224.0.0.0/4 (multicast" \
	"0.0.0.0/8|0.0.0.0/8 (this network" \
	"169.254.0.0/24|169.254.0.0/16 (link-local" \
	"127.0.0.0/24|127.0.0.0/8 (loopback"; do
	expect_err "IPv4 subnet ${sw%%|*}: refused" "subnet ${sw%%|*} overlaps ${sw#*|}" \
		kvmbpf net add r4 type nat subnet "${sw%%|*}" dhcp off
done
check_not "... no network made of them" kvmbpf net show r4
# a vtep is another host: not loopback, not this host's own address or
# one of its broadcasts (frames from a vtep are trusted)
ip link add "$T-qv" type veth peer name "$T-qw" && LINK_LIST+=("$T-qv")
ip addr add 198.18.200.1/24 brd + dev "$T-qv"
# a subnet's broadcast is one whether or not the address was given it
# (`ip addr add A/24` without brd: the kernel's local table has it)
ip addr add 198.18.202.1/24 dev "$T-qv"
check "net add ov2 (an overlay network)" kvmbpf net add ov2 type internal vni 79 vtep 198.18.1.1
for vw in "127.0.0.1|not another host's unicast" "::1|not another host's unicast" \
	"198.18.200.1|an address of this host" \
	"198.18.200.255|a broadcast address of this host's" \
	"198.18.202.255|a broadcast address of this host's" \
	"198.18.200.0|the network address of a subnet of this host's"; do
	expect_err "vtep ${vw%%|*}: refused" "vtep ${vw%%|*}: ${vw#*|}" \
		kvmbpf net add ovx type internal vni 78 vtep "${vw%%|*}"
	expect_err "vtep-add ${vw%%|*}: refused" "vtep-add ${vw%%|*}: ${vw#*|}" \
		kvmbpf net set ov2 vtep-add "${vw%%|*}"
done
check_not "... no network made of them" kvmbpf net show ovx
check "a vtep that later becomes this host's address ..." \
	kvmbpf net set ov2 vtep-add 198.18.201.1
ip addr add 198.18.201.1/24 dev "$T-qv"
check "... is still taken out (vtep-del)" kvmbpf net set ov2 vtep-del 198.18.201.1
ip addr del 198.18.201.1/24 dev "$T-qv"
check "net del ov2" kvmbpf net del ov2
# IPv6 needs 1280 on every link: refused at once, not when the kernel
# refuses the gateway's address
expect_err "routed, IPv6 subnet, mtu 1279: refused" \
	"mtu 1279: a network with an IPv6 subnet needs 1280 or more" \
	kvmbpf net add r6 type routed subnet 10.77.0.0/24 subnet fd77::/64 mtu 1279
expect_err "nat, IPv6 subnet, mtu 1000: refused" \
	"mtu 1000: a network with an IPv6 subnet needs 1280 or more" \
	kvmbpf net add r6 type nat subnet 10.77.0.0/24 subnet fd77::/64 mtu 1000 dhcp off
check_not "... no network made of them" kvmbpf net show r6
check "routed, IPv6 subnet, mtu 1280: accepted" \
	kvmbpf net add r6 type routed subnet 10.77.0.0/24 subnet fd77::/64 mtu 1280
check "net del r6" kvmbpf net del r6
check "routed, IPv4 only, mtu 1000: accepted" \
	kvmbpf net add r6 type routed subnet 10.77.0.0/24 mtu 1000
check "net del r6" kvmbpf net del r6
expect_err "missing uplink device" "uplink nosuchdev0: no such device" \
	kvmbpf net add n1 type bridge uplink nosuchdev0
expect_err "uplink on internal" "uplink is for bridge networks only" \
	kvmbpf net add n1 type internal uplink "$T-up"
check "net add" kvmbpf net add n1 type bridge uplink "$T-up" mtu 1400
expect_err "duplicate name" "network n1 already exists" kvmbpf net add n1 type bridge
check "second net" kvmbpf net add n2 type internal
expect_err "attach unknown network" "network nonet does not exist" \
	kvmbpf attach "$T-a" net nonet
expect_err "attach missing device" "device nosuchdev0: no such device" \
	kvmbpf attach nosuchdev0 net n1
expect_err "attach bad mac" "mac 01:00:00:00:00:01" \
	kvmbpf attach "$T-a" net n1 mac 01:00:00:00:00:01
expect_err "attach bad mac text" "mac zz" kvmbpf attach "$T-a" net n1 mac zz
check "attach" kvmbpf attach "$T-a" net n1 mac 52:54:00:aa:00:01 xdp on
expect_err "attach twice" "already attached to network n1" \
	kvmbpf attach "$T-a" net n1
expect_err "attach to another net" "already attached to network n1" \
	kvmbpf attach "$T-a" net n2
expect_err "static MAC taken" "already the static address" \
	kvmbpf attach "$T-b" net n1 mac 52:54:00:aa:00:01
expect_err "attach bad ip" "ip 10.0.0.300" \
	kvmbpf attach "$T-b" net n1 ip 10.0.0.300
expect_err "attach multicast ip" "ip 224.0.0.1" \
	kvmbpf attach "$T-b" net n1 ip 224.0.0.1
expect_err "attach bad spoofcheck" "spoofcheck maybe: expected on or off" \
	kvmbpf attach "$T-b" net n1 spoofcheck maybe
check "attach second" kvmbpf attach "$T-b" net n1 ip 10.9.0.2 ip fd09::2 isolated on
check_not "attach: no XDP by default" sh -c "ip link show $T-b | grep -q xdp"
check_not "net add: no XDP on the uplink" sh -c "ip link show $T-up | grep -q xdp"
check "port show: xdp off by default" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j port show $T-b | grep -q '\"xdp\":false'"
check "port set xdp on" kvmbpf port set "$T-b" xdp on
check "port set xdp on: XDP attached" sh -c "ip link show $T-b | grep -q xdp"
check "port set xdp off" kvmbpf port set "$T-a" xdp off
check_not "port set xdp off: XDP gone" sh -c "ip link show $T-a | grep -q xdp"
check "port set xdp on again" kvmbpf port set "$T-a" xdp on
check "port show -j has identity" sh -c "
	\"\${0}\" --bpffs $BPFFS -j port show $T-b | $PY -c '
import json, sys
p = json.load(sys.stdin)
assert p[\"spoofcheck\"] is True and p[\"isolated\"] is True, p
ips = sorted(a[\"ip\"] for a in p[\"addresses\"])
assert ips == [\"10.9.0.2\", \"fd09::2\"], ips'" "$ROOT/build/kvmbpf"
check "bpftool shows kvb_addr with BTF" sh -c \
	"bpftool map dump pinned $BPFFS/kvb_addr | grep -q '\"family\": 6'"
expect_err "port set on the uplink" "uplink" kvmbpf port set "$T-up" isolated on
expect_err "port set unknown device" "not attached" kvmbpf port set nosuchdev0 isolated on
expect_err "port set nothing" "expected DEV and at least one setting" kvmbpf port set "$T-b"
expect_err "port set bad keyword" "unknown keyword 'colour'" kvmbpf port set "$T-b" colour red
# a refused port set leaves the running guest as it was: another port's
# address refused, and the port keeps its own address and its MAC
check "port set ip 10.9.0.1" kvmbpf port set "$T-a" ip 10.9.0.1
expect_err "port set: another port's address, with a new MAC: refused" \
	"already an address of another port" \
	kvmbpf port set "$T-a" mac 52:54:00:aa:00:09 ip 10.9.0.2
check "... and the port keeps its address and its MAC" sh -c "
	\"\${0}\" --bpffs $BPFFS -j port show $T-a | $PY -c '
import json, sys
p = json.load(sys.stdin)
assert p[\"mac\"] == \"52:54:00:aa:00:01\", p
assert [a[\"ip\"] for a in p[\"addresses\"]] == [\"10.9.0.1\"], p'" "$ROOT/build/kvmbpf"
check "... and the MAC table still has its MAC, not the refused one" sh -c "
	\"\${0}\" --bpffs $BPFFS -j fdb show net n1 | $PY -c '
import json, sys
m = {x[\"mac\"]: x for x in json.load(sys.stdin)}
assert m[\"52:54:00:aa:00:01\"][\"static\"], m
assert \"52:54:00:aa:00:09\" not in m, m'" "$ROOT/build/kvmbpf"
check "port set ip none" kvmbpf port set "$T-a" ip none
# A keyword given twice is an error (the later word used to win: dport 23
# alone, a udp rule, an internal network), and so is an empty element of
# a list (a trailing comma); the command changes nothing
A=$T-rk
check "acl add $A" kvmbpf acl add "$A"
check "acl rule add $A" kvmbpf acl rule add "$A" ingress allow proto tcp dport 22
saved=$(kvmbpf save)
expect_err "acl rule add: dport twice" "dport given twice (22, then 23)" \
	kvmbpf acl rule add "$A" ingress allow proto tcp dport 22 dport 23
expect_err "acl rule add: proto twice" "proto given twice (tcp, then udp)" \
	kvmbpf acl rule add "$A" ingress allow proto tcp proto udp dport 5
expect_err "acl rule add: src with a trailing comma" "src 10.0.0.0/8,: an empty element" \
	kvmbpf acl rule add "$A" ingress allow src 10.0.0.0/8,
expect_err "acl rule add: dst with an empty element" "dst 10.0.0.0/8,,10.1.0.0/16: an empty element" \
	kvmbpf acl rule add "$A" egress drop dst 10.0.0.0/8,,10.1.0.0/16
expect_err "net add: type twice" "type given twice (bridge, then internal)" \
	kvmbpf net add rky type bridge type internal
check_not "... no network made" kvmbpf net show rky
expect_err "net add: ct-timeout of one kind twice" "ct-timeout udp given twice (30, then 40)" \
	kvmbpf net add rky type nat ct-timeout udp 30 ct-timeout udp 40
expect_err "net set: acl-ct-max twice" "acl-ct-max given twice (5, then 6)" \
	kvmbpf net set n1 acl-ct-max 5 acl-ct-max 6
expect_err "net set: acl with a trailing comma" "acl $A,: an empty element" \
	kvmbpf net set n1 acl "$A,"
expect_err "port set: isolated twice" "isolated given twice (on, then off)" \
	kvmbpf port set "$T-b" isolated on isolated off
expect_err "port set: acl with a leading comma" "acl ,$A: an empty element" \
	kvmbpf port set "$T-b" acl ",$A"
expect_err "port set: ip none with an address" "ip none and ip ADDR together" \
	kvmbpf port set "$T-b" ip 10.9.0.7 ip none
expect_err "attach: mac twice" "mac given twice (52:54:00:aa:00:07, then 52:54:00:aa:00:08)" \
	kvmbpf attach "$T-lan" net n1 mac 52:54:00:aa:00:07 mac 52:54:00:aa:00:08
expect_err "monitor: count twice" "count given twice (1, then 2)" \
	timeout 10 "${K[@]}" monitor count 1 count 2
[ "$(kvmbpf save)" = "$saved" ] && pass "... the refused commands changed nothing" ||
	fail "the refused commands changed the configuration: $(diff <(echo "$saved") <(kvmbpf save))"
check "acl del $A" kvmbpf acl del "$A"
# one fabric whatever the spelling of --bpffs: what a trailing slash
# deletes is what the plain path made (the gateway interface's name is
# derived from the directory)
check "net add rs with --bpffs DIR" kvmbpf net add rs type routed subnet 10.231.0.0/24 dhcp off
rs_if=$(kvmbpf -j net show rs | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
check "net del rs with --bpffs DIR/" "$ROOT/build/kvmbpf" --bpffs "$BPFFS/" net del rs
check_not "... its gateway interface $rs_if is gone" ip link show "$rs_if"
# numbers and MACs: digits only, no sign, no wrap
expect_err "attach: a MAC with a sign" "mac -2:00:00:00:00:01" \
	kvmbpf attach "$T-lan" net n1 mac -2:00:00:00:00:01
expect_err "net add: two gateways in one subnet" \
	"gateways 10.232.0.1 and 10.232.0.2 are in the same subnet" \
	kvmbpf net add g2 type routed subnet 10.232.0.0/24 gateway 10.232.0.1 gateway 10.232.0.2 dhcp off
check_not "... and no network g2" kvmbpf net show g2
# a fabric is its network namespace's: from another one that sees its
# pins (nsenter --net, a container sharing /sys/fs/bpf) every command is
# refused (its upkeep would forget every port, their ifindexes naming
# other devices there, and hook that namespace's devices)
netns_add "$T-fns"
ports_before=$(kvmbpf port show 2>&1)
for c in gc "port show" "net add fx type internal"; do
	# shellcheck disable=SC2086
	expect_err "$c from another network namespace: refused" \
		"is the fabric of another network namespace" \
		nsenter --net="/run/netns/$T-fns" "${K[@]}" $c
done
[ "$(kvmbpf port show 2>&1)" = "$ports_before" ] &&
	pass "... and its ports are all still there" ||
	fail "... ports changed: $(kvmbpf port show 2>&1 | tr '\n' '|')"
# a fabric whose namespace is gone: reset force removes its pins, from
# anywhere, and touches nothing else
orphan=("$ROOT/build/kvmbpf" --bpffs "${BPFFS}_orphan")
netns_add "$T-ons"
ip -n "$T-ons" link add "$T-od" type veth peer name "$T-oe"
check "a fabric made in $T-ons" nsenter --net="/run/netns/$T-ons" "${orphan[@]}" net add on type bridge
check "... a port there" nsenter --net="/run/netns/$T-ons" "${orphan[@]}" attach "$T-od" net on
check "... a routed network there" nsenter --net="/run/netns/$T-ons" "${orphan[@]}" net add onr type routed subnet 10.77.250.0/24
# what a dnsmasq of it killed with its namespace would leave in the run
# directory: a later fabric at the same path would serve its leases
ogw=$(nsenter --net="/run/netns/$T-ons" "${orphan[@]}" -j net show onr | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
echo "0 52:54:00:77:25:01 10.77.250.9 * *" >"/run/kvmbpf/$ogw.leases"
ocookie=$("${orphan[@]}" reset 2>&1 | sed -n "s/.*'kvmbpf reset force \([0-9]*\)'.*/\1/p")
expect_err "reset force from here while its namespace lives: refused" \
	"namespace that still exists (/run/netns/$T-ons)" "${orphan[@]}" reset force "$ocookie"
check "... its port still attached" nsenter --net="/run/netns/$T-ons" "${orphan[@]}" port show "$T-od"
ip netns del "$T-ons"
expect_err "reset of it from here: refused" "reset force [0-9]*' removes its pins" "${orphan[@]}" reset
cookie=$("${orphan[@]}" reset 2>&1 | sed -n "s/.*'kvmbpf reset force \([0-9]*\)'.*/\1/p")
expect_err "reset force without its cookie: refused" "if that namespace is gone" "${orphan[@]}" reset force
out=$("${orphan[@]}" reset force "$cookie" 2>&1) && grep -q "its pins and files in /run/kvmbpf removed, nothing done" <<<"$out" &&
	pass "reset force COOKIE: its pins removed" || fail "reset force $cookie: '$out'"
check_not "... nothing of it left" test -e "${BPFFS}_orphan"
check_not "... nor its files in /run/kvmbpf" test -e "/run/kvmbpf/$ogw.leases"
rm -f "/run/kvmbpf/$ogw.leases"
# a nat network's dnsmasq and watcher keep its namespace after
# 'ip netns del': reset force refuses (the fabric lives) and names the
# command that resets it where it lives
kept=("$ROOT/build/kvmbpf" --bpffs "${BPFFS}_kept")
netns_add "$T-kns"
check "a nat network (dnsmasq on) in $T-kns" nsenter --net="/run/netns/$T-kns" "${kept[@]}" net add kn type nat subnet 10.77.251.0/24
kpids=$(ip netns pids "$T-kns")
for p in $kpids; do BG_PIDS+=("$p"); done
check "... its processes run there" test -n "$kpids"
kcookie=$("${kept[@]}" reset 2>&1 | sed -n "s/.*'kvmbpf reset force \([0-9]*\)'.*/\1/p")
ip netns del "$T-kns"
kout=$("${kept[@]}" reset force "$kcookie" 2>&1)
kwhere=$(sed -n 's/.*reset it there: nsenter --net=\(\/proc\/[0-9]*\/ns\/net\) .*/\1/p' <<<"$kout")
check "reset force after 'ip netns del' with its dnsmasq alive: refused, naming where to reset it" test -n "$kwhere"
check "... that command resets it" nsenter --net="${kwhere:-/nonexistent}" "${kept[@]}" reset
kleft=
for p in $kpids; do	# a zombie is gone
	case $(ps -o stat= -p "$p" 2>/dev/null) in ''|Z*) ;; *) kleft="$kleft $p" ;; esac
done
expect "... and its dnsmasq and watcher are gone" "" "$kleft"
check_not "... nothing of it left" test -e "${BPFFS}_kept"
[ -d "${BPFFS}_kept" ] && { "${kept[@]}" reset force "$kcookie"; rm -rf "${BPFFS}_kept"; } >/dev/null 2>&1
ip tuntap add "$T-un" mode tap && LINK_LIST+=("$T-un")
expect_err "detach a device never attached" "not attached" kvmbpf detach "$T-un"
expect_err "detach uplink" "uplink" kvmbpf detach "$T-up"

check "net show -j" sh -c "
	\"\${0}\" --bpffs $BPFFS -j net show | $PY -c '
import json, sys
n = {x[\"name\"]: x for x in json.load(sys.stdin)}
a = n[\"n1\"]
assert a[\"type\"] == \"bridge\" and a[\"mtu\"] == 1400, a
assert a[\"uplink\"] == \"$T-up\", a
assert sorted(a[\"ports\"]) == sorted([\"$T-up\", \"$T-a\", \"$T-b\"]), a
assert n[\"n2\"][\"type\"] == \"internal\" and n[\"n2\"][\"uplink\"] is None
assert isinstance(a[\"id\"], int)'" "$ROOT/build/kvmbpf"
check "port show -j" sh -c "
	\"\${0}\" --bpffs $BPFFS -p port show $T-a | $PY -c '
import json, sys
p = json.load(sys.stdin)
assert p[\"net\"] == \"n1\" and p[\"mac\"] == \"52:54:00:aa:00:01\", p'" "$ROOT/build/kvmbpf"
check "fdb show has the static entry" sh -c "
	\"\${0}\" --bpffs $BPFFS -j fdb show net n1 | $PY -c '
import json, sys
e = [x for x in json.load(sys.stdin) if x[\"mac\"] == \"52:54:00:aa:00:01\"]
assert e and e[0][\"static\"] and e[0][\"dev\"] == \"$T-a\", e'" "$ROOT/build/kvmbpf"
# A learned entry refreshed after `fdb show` read its clock (the datapath
# writes while the table is walked, with a coarser clock) is live: its
# seen time is after the reader's now, which must not wrap into "expired".
fkey=$($PY -c "
import json, struct, sys
n = [x['id'] for x in json.loads(sys.argv[1]) if x['name'] == 'n1'][0]
print(' '.join('%02x' % b for b in struct.pack('<I6sH', n, bytes.fromhex('020000009901'), 0)))" \
	"$(kvmbpf -j net show)")
fval=$($PY -c "
import struct, sys, time
print(' '.join('%02x' % b for b in struct.pack('<IIQ24s', int(sys.argv[1]), 0, time.monotonic_ns() + 60 * 10**9, bytes(24))))" \
	"$(cat /sys/class/net/"$T-a"/ifindex)")
check "fdb: a learned entry newer than the reader's clock" \
	bpftool map update pinned "$BPFFS/kvb_fdb" key hex $fkey value hex $fval
check "fdb show: an entry refreshed during the walk is not expired" sh -c "
	\"\${0}\" --bpffs $BPFFS -j fdb show net n1 | $PY -c '
import json, sys
e = [x for x in json.load(sys.stdin) if x[\"mac\"] == \"02:00:00:00:99:01\"]
assert e and not e[0][\"static\"] and not e[0][\"expired\"], e'" "$ROOT/build/kvmbpf"
check "stats -j names every drop reason" sh -c "
	\"\${0}\" --bpffs $BPFFS -j stats $T-a | $PY -c '
import json, sys
s = json.load(sys.stdin)
for r in (\"runt\", \"vlan-tagged\", \"mtu-exceeded\", \"l3-malformed\"):
    assert r in s[\"drop_reasons\"], r'" "$ROOT/build/kvmbpf"

# --- the output layer -------------------------------------------------------
check "options anywhere: net show -j" sh -c "\"\${0}\" --bpffs $BPFFS net show -j | $PY -c '
import json, sys
assert isinstance(json.load(sys.stdin), list)'" "$ROOT/build/kvmbpf"
check "net show NAME -j is the object" sh -c "\"\${0}\" net show n1 --bpffs=$BPFFS -j | $PY -c '
import json, sys
n = json.load(sys.stdin)
assert n[\"name\"] == \"n1\", n'" "$ROOT/build/kvmbpf"
check "an error under -j is {\"error\": ...}, on stdout" sh -c "
	out=\$(\"\${0}\" --bpffs $BPFFS -j net show nosuch 2>/dev/null); [ \$? -ne 0 ] || exit 1
	echo \"\$out\" | $PY -c '
import json, sys
e = json.load(sys.stdin)
assert e == {\"error\": \"net show: network nosuch does not exist\"}, e'" "$ROOT/build/kvmbpf"
# listings are sorted: ports made so that name order is not ifindex order
ip link add "$T-y" type veth peer name "$T-yp" && LINK_LIST+=("$T-y")
ip link add "$T-x" type veth peer name "$T-xp" && LINK_LIST+=("$T-x")
ip link add "$T-c" type veth peer name "$T-cp" && LINK_LIST+=("$T-c")
m=3
for d in "$T-y" "$T-x" "$T-c"; do
	sysctl -qw net.ipv6.conf."$d".disable_ipv6=1
	ip link set "$d" up
	kvmbpf attach "$d" net n1 xdp off mac 52:54:00:ee:00:0$((m--)) || fail "attach $d"
done
for l in "port show" "stats"; do
	check "$l: sorted by name" sh -c "\"\${0}\" --bpffs $BPFFS -j $l | $PY -c '
import json, sys
d = [p[\"dev\"] for p in json.load(sys.stdin)]
assert len(d) >= 5 and d == sorted(d), d'" "$ROOT/build/kvmbpf"
done
check "fdb show: sorted by network, MAC" sh -c "\"\${0}\" --bpffs $BPFFS -j fdb show | $PY -c '
import json, sys
m = [e[\"mac\"] for e in json.load(sys.stdin)]
assert len(m) >= 4 and m == sorted(m), m'" "$ROOT/build/kvmbpf"
# every command honours -j: stdout is one JSON document, success or not
for c in "--version" "net show" "net show n1" "port show" "port show $T-a" "stats" \
	"stats $T-a" "fdb show" "fdb show net n1" "ct show" "forward show" "save" \
	"net add jn type internal" "net set jn ct-max 5" "net del jn" "attach $T-c net n1" \
	"detach $T-c" "port set $T-y isolated on" "gc" "upgrade" "ct flush" "net show nosuch" \
	"net add" "frobnicate" "net peer n1 n2" "load /dev/null" "net leases n1"; do
	check "-j: $c" sh -c "\"\${0}\" --bpffs $BPFFS -j $c 2>/dev/null | $PY -c '
import json, sys
json.loads(sys.stdin.read())'" "$ROOT/build/kvmbpf"
done
check "save -j: the lines" sh -c "\"\${0}\" --bpffs $BPFFS -j save | $PY -c '
import json, sys
s = json.load(sys.stdin)
assert \"net add n1 type bridge uplink $T-up mtu 1400\" in s, s'" "$ROOT/build/kvmbpf"
for d in "$T-y" "$T-x"; do kvmbpf detach "$d" || fail "detach $d"; done

check "bpftool shows BTF field names" sh -c \
	"bpftool map dump pinned $BPFFS/kvb_port | grep -q '\"net_id\"'"
check "uplink is promiscuous" sh -c "ip link show $T-up | grep -q PROMISC"
check "XDP attached" sh -c "ip link show $T-a | grep -q xdp"
# an uplink's XDP would only pass frames to tc, and cost the veth peer its TSO
check_not "no XDP on the uplink" sh -c "ip link show $T-up | grep -q xdp"
check "tc filter attached" sh -c "tc filter show dev $T-a ingress | grep -q kvb_tc_ingress"

# Clean removal.
bidx=$(cat /sys/class/net/"$T-b"/ifindex)
check "attach: link pin present" test -e "$BPFFS/link_xdp_$bidx"
check "detach" kvmbpf detach "$T-b"
check_not "detach: no XDP left" sh -c "ip link show $T-b | grep -q xdp"
check_not "detach: no clsact left" sh -c "tc qdisc show dev $T-b | grep -q clsact"
check_not "detach: no link pin left" test -e "$BPFFS/link_xdp_$bidx"
check "net del" kvmbpf net del n1
check_not "net del: no XDP left" sh -c "ip link show $T-a | grep -q xdp"
check_not "net del: no clsact on ports" sh -c "tc qdisc show dev $T-a | grep -q clsact"
check_not "net del: no clsact on uplink" sh -c "tc qdisc show dev $T-up | grep -q clsact"
check_not "net del: uplink not promiscuous" sh -c "ip link show $T-up | grep -q PROMISC"
check_not "net del: no link pins" sh -c "ls $BPFFS | grep -q link_xdp"
check "net del: port map empty" sh -c \
	"[ \"\$(bpftool -j map dump pinned $BPFFS/kvb_port)\" = '[]' ]"
check "net del: fdb empty" sh -c \
	"[ \"\$(bpftool -j map dump pinned $BPFFS/kvb_fdb)\" = '[]' ]"
check "net del: address table empty" sh -c \
	"[ \"\$(bpftool -j map dump pinned $BPFFS/kvb_addr)\" = '[]' ]"
expect_err "net del twice" "network n1 does not exist" kvmbpf net del n1

# A tap that vanished while attached is forgotten by the next command that
# changes the fabric (the upkeep step); commands that read change nothing.
check "attach to n2" kvmbpf attach "$T-a" net n2
ip link del "$T-a"
check "vanished device: still in the map until a command runs" sh -c \
	"bpftool -j map dump pinned $BPFFS/kvb_port | grep -q '\"$T-a\"'"
for c in "net show" "port show" "stats" "fdb show" "ct show" "forward show" "save"; do
	kvmbpf $c >/dev/null 2>&1
done
check "reading commands leave it in the map" sh -c \
	"bpftool -j map dump pinned $BPFFS/kvb_port | grep -q '\"$T-a\"'"
check "a changing command collects it" kvmbpf net add n3 type internal
check "vanished device forgotten" sh -c \
	"[ \"\$(bpftool -j map dump pinned $BPFFS/kvb_port)\" = '[]' ]"
check "and gone from its network" sh -c \
	"\"$ROOT/build/kvmbpf\" --bpffs $BPFFS -j net show n2 | grep -q '\"ports\":\[\]'"
# detach of a vanished device is done, whoever collected its port (QEMU
# killed: qemu-ifdown and the libvirt hook detach after the fact)
out=$(kvmbpf detach "$T-a" 2>&1) && grep -q "nothing to detach" <<<"$out" &&
	pass "detach a collected device: nothing to detach, rc 0" ||
	fail "detach a collected device: rc $?, '$out'"
ip tuntap add "$T-v1" mode tap && LINK_LIST+=("$T-v1")
ip tuntap add "$T-v2" mode tap && LINK_LIST+=("$T-v2")
check "attach two taps" sh -c "${K[*]} attach $T-v1 net n2 && ${K[*]} attach $T-v2 net n2"
ip link del "$T-v1"; ip link del "$T-v2"
check "detach of a vanished tap (its upkeep collects both)" kvmbpf detach "$T-v1"
check "detach of the other (collected before)" kvmbpf detach "$T-v2"
check_not "... nothing left of either" sh -c "${K[*]} port show | grep -q '$T-v'"

# A fabric directory of another layout version is refused, not misread.
mkdir -p "$BPFFS"_old
bpftool map create "$BPFFS"_old/kvb_net_v1 type hash key 4 value 4 entries 1 name kvb_net_v1
expect_err "old layout refused" "layout v1" "$ROOT/build/kvmbpf" --bpffs "$BPFFS"_old net show
rm -rf "$BPFFS"_old
# From v5 the layout is the first field of kvb_meta.
mkdir -p "$BPFFS"_old
bpftool map create "$BPFFS"_old/kvb_meta type array key 4 value 40 entries 1 name kvb_meta
bpftool map update pinned "$BPFFS"_old/kvb_meta key 0 0 0 0 value 99 0 0 0 $(printf '0 %.0s' $(seq 36))
expect_err "newer layout refused" "layout v99" "$ROOT/build/kvmbpf" --bpffs "$BPFFS"_old net show
rm -rf "$BPFFS"_old

# A real fabric whose layout is another's (an upgrade changed it): every
# command says what to do, and reset removes it with all it made on the
# host: its programs on the ports (tc, XDP), its gateway interface and
# dnsmasq, its VXLAN device, its /run/kvmbpf files. Before, even reset was
# refused, and 'rm -r' of the directory left all of that behind.
OLD=("$ROOT/build/kvmbpf" --bpffs "$BPFFS"_old)
ip link add "$T-ol" type veth peer name "$T-olp" && LINK_LIST+=("$T-ol")
ip link set "$T-ol" up && ip link set "$T-olp" up
check "old fabric: net add nat (dhcp on)" "${OLD[@]}" net add ol type nat subnet 10.79.0.0/24
check "old fabric: attach with xdp on" "${OLD[@]}" attach "$T-ol" net ol ip 10.79.0.5 xdp on
check "old fabric: an overlay network" "${OLD[@]}" net add olv type internal vni 81 vtep 198.18.1.77
og=$("${OLD[@]}" -j net show ol | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["interface"])')
ov=$("${OLD[@]}" -j net show olv | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["overlay_device"])')
op=$(cat "/run/kvmbpf/$og.pid" 2>/dev/null)
meta=$(bpftool -j map lookup pinned "$BPFFS"_old/kvb_meta key 0 0 0 0 | "$PY" -c '
import json, sys
v = json.load(sys.stdin)["value"]
v[0:4] = ["0x18", "0x00", "0x00", "0x00"]	# layout 24
print(" ".join(v))')
bpftool map update pinned "$BPFFS"_old/kvb_meta key 0 0 0 0 value $meta
expect_err "a fabric of layout 24: net show says what to do" \
	"holds map layout v24, this build uses v$("$ROOT/build/kvmbpf" -j --version | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["layout"])'): save its configuration with the kvmbpf that made it .*'kvmbpf reset' with this one" \
	"${OLD[@]}" net show
check "... reset of it" "${OLD[@]}" reset
check_not "... no kvmbpf filter left on its port" sh -c "tc filter show dev $T-ol ingress | grep -q kvb_; tc filter show dev $T-ol egress | grep -q kvb_"
check_not "... no XDP left on its port" sh -c "ip link show $T-ol | grep -q xdp"
check_not "... its gateway interface is gone" ip link show "$og"
check_not "... its VXLAN device is gone" ip link show "$ov"
for i in $(seq 100); do	# gone, or a zombie its parent has not reaped yet
	[ -e "/proc/$op" ] && ! grep -q '^State:.*Z' "/proc/$op/status" 2>/dev/null || break
	sleep 0.05
done
check_not "... its dnsmasq is gone" sh -c "[ -n '$op' ] && [ -e /proc/$op ] && ! grep -q '^State:.*Z' /proc/$op/status"
check_not "... its /run/kvmbpf files are gone" sh -c "ls /run/kvmbpf | grep -q '^$og\.'"
check_not "... and its directory" test -e "$BPFFS"_old
[ -n "$op" ] && [ -n "$og" ] && [ -n "$ov" ] && pass "the old fabric had a dnsmasq, a gateway and a VXLAN device" ||
	fail "the old fabric: dnsmasq '$op', gateway '$og', VXLAN device '$ov'"
finish

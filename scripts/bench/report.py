#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turn scripts/bench/run.sh's raw lines into the table, JSON, chart and
docs/BENCHMARKS.md. Usage: report.py RAW OUTDIR DOCSDIR

The document is the measured tables, the issue's targets with the ratio
each reached in this run, the profiles, then scripts/bench/notes.md (the
hand-written reading of them: what limits each path and the next step)."""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

raw, out, docs = sys.argv[1:4]
here = os.path.dirname(os.path.abspath(__file__))
data = {}
for line in open(raw):
    kind, name, value = line.split()
    data.setdefault(kind, {}).setdefault(name, []).append(float(value))


def stat(v):
    return {"median": statistics.median(v), "min": min(v), "max": max(v),
            "runs": len(v)}


res = {k: {n: stat(v) for n, v in d.items()} for k, d in data.items()}
G = lambda k: res.get(k, {})
cost, sw, tcp, rt, nat = G("cost"), G("switch"), G("tcp"), G("route"), G("nat")
newc, tap, dlv = G("newconn"), G("tap"), G("delivered")
fastp = G("fastpath")


def med(d, k):
    return d[k]["median"] if k in d else float("nan")


def ratio(a, b):
    return a / b if b else float("nan")


rows = []
lines = []


def section(title):
    lines.extend(["", "### " + title, "",
                  "| figure | median | spread (min-max) | runs | delivered | ratio | against |",
                  "|---|---|---|---|---|---|---|"])


def row(name, d, key, unit, scale, base_key=None, base_d=None, against="",
        dkey=None):
    if key not in d:
        return
    s = d[key]
    r = ratio(s["median"], med(base_d or d, base_key)) if base_key else None
    dk = dkey if dkey is not None else key
    dl = "%.3f" % dlv[dk]["min"] if dk in dlv else ""
    lines.append("| %s | %.2f %s | %.2f-%.2f | %d | %s | %s | %s |" % (
        name, s["median"] / scale, unit, s["min"] / scale, s["max"] / scale,
        s["runs"], dl, "%.2fx" % r if r is not None else "", against))
    rows.append({"figure": name, "median": s["median"] / scale, "unit": unit,
                 "min": s["min"] / scale, "max": s["max"] / scale,
                 "runs": s["runs"], "ratio": r, "against": against})


section("1. Cost per packet, tc and XDP (BPF_PROG_RUN), kvmbpf defaults")
for k, label in [("tc-unicast", "tc: known unicast, hot loop"),
                 ("tc-drop-vlan", "tc: drop (VLAN), hot loop")]:
    row("cost " + label, cost, k, "ns", 1, "empty-tc", None, "empty tc program, hot loop")
row("cost tc: broadcast to 1 port, hot loop", cost, "tc-flood", "ns", 1,
    "empty-tc", None, "empty tc program, hot loop")
for k, label in [("tc-unicast-each", "tc: known unicast, established (single runs)"),
                 ("tc-routed-each", "tc: routed into a peered network, established (single runs)"),
                 ("tc-nat-each", "tc: NAT, established flow (single runs)"),
                 ("tc-nat-new", "tc: NAT, new flow every run (single runs)")]:
    row("cost " + label, cost, k, "ns", 1, "empty-tc-each", None,
        "empty tc program, single runs")
for k, label in [("xdp-pass", "XDP (xdp on): admit and pass, hot loop"),
                 ("xdp-drop-vlan", "XDP (xdp on): drop (VLAN), hot loop"),
                 ("xdp-fast", "XDP (xdp on): fast path, tap to tap, "
                  "complete UDP checksum, hot loop")]:
    row("cost " + label, cost, k, "ns", 1, "empty-xdp", None, "empty XDP program")
row("cost tc: known unicast, tap to tap, complete UDP checksum, hot loop",
    cost, "tc-unicast-tap", "ns", 1, "empty-tc", None, "empty tc program, hot loop")
row("cost baseline: empty tc program, hot loop", cost, "empty-tc", "ns", 1)
row("cost baseline: empty tc program, single runs", cost, "empty-tc-each", "ns", 1)

section("2. Switching, 60-byte UDP, one guest to another (flows: UDP ports)")
for f in ("1", "1000"):
    row("%s flow(s): Linux bridge, br_netfilter off" % f, sw, "bridge/" + f, "Mpps", 1e6)
    row("%s flow(s): Linux bridge, br_netfilter on" % f, sw, "bridge-nf/" + f, "Mpps", 1e6,
        "bridge/" + f, None, "bridge, br_netfilter off")
    row("%s flow(s): kvmbpf, defaults" % f, sw, "kvmbpf/" + f, "Mpps", 1e6,
        "bridge/" + f, None, "bridge, br_netfilter off")
    row("%s flow(s): kvmbpf, defaults" % f, sw, "kvmbpf/" + f, "Mpps", 1e6,
        "bridge-nf/" + f, None, "bridge, br_netfilter on")
    row("%s flow(s): kvmbpf, xdp on" % f, sw, "kvmbpf-xdp/" + f, "Mpps", 1e6,
        "bridge/" + f, None, "bridge, br_netfilter off")
    row("%s flow(s): kvmbpf, xdp on: share of frames on the XDP fast path "
        "(veths are no redirect targets)" % f, fastp, "kvmbpf-xdp/" + f, "", 1)
    row("%s flow(s): redirect_map ceiling" % f, sw, "ceiling/" + f, "Mpps", 1e6)
    row("%s flow(s): kvmbpf, defaults" % f, sw, "kvmbpf/" + f, "Mpps", 1e6,
        "ceiling/" + f, None, "redirect_map ceiling")
row("1000 flows, 64k MACs learned: kvmbpf, defaults", sw, "kvmbpf-64k-macs/1000",
    "Mpps", 1e6, "kvmbpf/1000", None, "empty table")

section("3. Routed between two networks, 60-byte UDP")
for f in ("1", "1000"):
    row("%s flow(s): kernel IP forwarding" % f, rt, "fwd/" + f, "Mpps", 1e6)
    row("%s flow(s): kvmbpf, defaults" % f, rt, "kvmbpf-routed/" + f, "Mpps", 1e6,
        "fwd/" + f, None, "kernel forwarding")

section("4-5. NAT, 60-byte UDP: established flows, new connections")
for f in ("1", "1000", "65536"):
    row("%s flow(s): kernel + nft masquerade" % f, nat, "nft-masq/" + f, "Mpps", 1e6)
    row("%s flow(s): kvmbpf, defaults" % f, nat, "kvmbpf-nat/" + f, "Mpps", 1e6,
        "nft-masq/" + f, None, "nft masquerade")
row("65536 flows vs 1: kvmbpf", nat, "kvmbpf-nat/65536", "Mpps", 1e6,
    "kvmbpf-nat/1", None, "kvmbpf, 1 flow")
row("65536 live flows among 1M tracked: kvmbpf", nat, "kvmbpf-nat-1M/65536",
    "Mpps", 1e6, "nft-masq/65536", None, "nft masquerade, 65,536 flows")
row("new connections: kernel + nft masquerade", newc, "nft-masq", "k/s", 1e3)
row("new connections: kvmbpf, defaults", newc, "kvmbpf-nat", "k/s", 1e3,
    "nft-masq", None, "nft masquerade")

section("7. Tap source: vnettap frames with virtio-net headers, tap to tap "
        "(frames/s through the path, in the writer's context, the receiving "
        "tap's queue held full so that every configuration ends in the same "
        "drop; in a run before it every frame received is verified, the "
        "reader keeping up with a part: delivered)")
for kind, label in [("tcp-full", "TCP, complete checksum"),
                    ("tcp-csum", "TCP, NEEDS_CSUM"),
                    ("udp-csum", "UDP, NEEDS_CSUM"),
                    ("tcp-gso", "TCP, TSO super-frame (3 x 1000 bytes)")]:
    row("%s: Linux bridge" % label, tap, "bridge/" + kind, "kfps", 1e3,
        dkey="tap-bridge/" + kind)
    row("%s: kvmbpf, defaults" % label, tap, "kvmbpf/" + kind, "kfps", 1e3,
        "bridge/" + kind, None, "Linux bridge", dkey="tap-kvmbpf/" + kind)
    row("%s: kvmbpf, xdp on" % label, tap, "kvmbpf-xdp/" + kind, "kfps", 1e3,
        "bridge/" + kind, None, "Linux bridge", dkey="tap-kvmbpf-xdp/" + kind)
    row("%s: kvmbpf before (KVB_BEFORE), xdp on" % label, tap,
        "kvmbpf-xdp-before/" + kind, "kfps", 1e3, "bridge/" + kind, None,
        "Linux bridge", dkey="tap-kvmbpf-xdp-before/" + kind)
    row("%s: kvmbpf, xdp on: share of frames on the XDP fast path" % label,
        fastp, "tap-kvmbpf-xdp/" + kind, "", 1)

acl = G("acl")
section("9. Security groups: a port with 1,000 rules, with 2, against none "
        "(switching, 60-byte UDP; BPF_PROG_RUN of tc ingress)")
for k, label in [("established", "established flow"), ("new", "new flow every packet")]:
    row("cost tc, %s: no ACL" % label, cost, "acl-none-" + k, "ns", 1)
    row("cost tc, %s: 2 rules" % label, cost, "acl-2-" + k, "ns", 1,
        "acl-none-" + k, None, "no ACL (ratio of costs)")
    row("cost tc, %s: 1,000 rules" % label, cost, "acl-1000-" + k, "ns", 1,
        "acl-none-" + k, None, "no ACL (ratio of costs)")
for fl, label in (("1", "1 flow"), ("1000", "1000 flows"),
                  ("new", "new connections (60,000, one packet each)")):
    row("rate, %s: no ACL" % label, acl, "acl-none/" + fl, "Mpps", 1e6)
    row("rate, %s: 2 rules" % label, acl, "acl-2/" + fl, "Mpps", 1e6,
        "acl-none/" + fl, None, "no ACL")
    row("rate, %s: 1,000 rules" % label, acl, "acl-1000/" + fl, "Mpps", 1e6,
        "acl-none/" + fl, None, "no ACL")

section("8. TCP (iperf3, namespace guests on veths, offloads on)")
row("Linux bridge, br_netfilter off", tcp, "bridge", "Gbit/s", 1e9)
row("Linux bridge, br_netfilter on", tcp, "bridge-nf", "Gbit/s", 1e9,
    "bridge", None, "bridge, br_netfilter off")
row("kvmbpf, defaults", tcp, "kvmbpf", "Gbit/s", 1e9, "bridge", None,
    "bridge, br_netfilter off")
row("kvmbpf, xdp on", tcp, "kvmbpf-xdp", "Gbit/s", 1e9, "bridge", None,
    "bridge, br_netfilter off")
row("routed: kernel IP forwarding", tcp, "routed-fwd", "Gbit/s", 1e9)
row("routed: kvmbpf, defaults (peered routed networks)", tcp,
    "routed-kvmbpf-routed", "Gbit/s", 1e9, "routed-fwd", None,
    "kernel forwarding")
row("through NAT: kernel + nft masquerade", tcp, "nat-nft-masq", "Gbit/s", 1e9)
row("through NAT: kvmbpf, defaults", tcp, "nat-kvmbpf-nat", "Gbit/s", 1e9,
    "nat-nft-masq", None, "nft masquerade")
mem = G("memory").get("kvmbpf-maps", {}).get("median")
mem1m = G("memory").get("kvmbpf-maps-1M", {}).get("median")
if mem or mem1m:
    lines.extend(["", "Memory of all kvmbpf maps: %s with 64k MACs learned, %s with "
                  "1M tracked flows." % ("%.1f MiB" % (mem / 2**20) if mem else "?",
                                         "%.1f MiB" % (mem1m / 2**20) if mem1m else "?")])

# The targets, with what this run reached.
tg = ["| target | reached in this run | met |", "|---|---|---|"]
# a kernel that refused live XDP frames: the generator wrote through
# AF_PACKET (kvbbench gen), whose own cost per frame is on the path's
# CPU for every configuration: packet-rate ratios are not the targets'
af_packet = "af_packet" in G("generator")
if af_packet:
    tg[:0] = ["The packet-rate figures of this run come from the AF_PACKET "
              "sender (this kernel refuses BPF_F_TEST_XDP_LIVE_FRAMES): its "
              "own cost per frame bounds every configuration, the redirect_map "
              "ceiling too, so their ratios say nothing about the targets "
              "(\"n/a\" below); TCP and BPF_PROG_RUN figures are unaffected.", ""]
RATE = ("switching", "routed", "NAT", "new connections", "ACL")


def target(name, value, goal):
    ok = "yes" if value == value and value >= goal else "no"
    if af_packet and name.startswith(RATE) and value == value:
        ok = "n/a (AF_PACKET sender)"
    tg.append("| %s | %s | %s |" % (name, "%.2fx" % value if value == value else "not measured", ok))


# name, the section's results, the configuration, the one it is against,
# the goal (a ratio)
for name, d, k, base, goal in [
        ("switching >= 3x the Linux bridge (br_netfilter off, 1000 flows)",
         sw, "kvmbpf/1000", "bridge/1000", 3),
        ("switching >= 0.75x the redirect_map ceiling (1000 flows)",
         sw, "kvmbpf/1000", "ceiling/1000", 0.75),
        ("routed >= 2.5x kernel forwarding (1000 flows)",
         rt, "kvmbpf-routed/1000", "fwd/1000", 2.5),
        ("NAT established >= 3x nft masquerade, 1 flow",
         nat, "kvmbpf-nat/1", "nft-masq/1", 3),
        ("NAT established >= 2x nft masquerade, 65,536 flows",
         nat, "kvmbpf-nat/65536", "nft-masq/65536", 2),
        ("new connections >= 2x nft masquerade",
         newc, "kvmbpf-nat", "nft-masq", 2),
        ("tc-only frames (tap, NEEDS_CSUM TCP) >= 1.3x the bridge",
         tap, "kvmbpf/tcp-csum", "bridge/tcp-csum", 1.3),
        ("TCP, defaults, veth guests >= 1.0x the Linux bridge",
         tcp, "kvmbpf", "bridge", 1.0),
        ("ACL: a port with 1,000 rules >= 0.9x no ACL, established (1000 flows; issue 18)",
         acl, "acl-1000/1000", "acl-none/1000", 0.9),
        ("ACL: a port with 1,000 rules >= 0.9x no ACL, new connections (issue 18)",
         acl, "acl-1000/new", "acl-none/new", 0.9)]:
    target(name, ratio(med(d, k), med(d, base)), goal)

# sections without a measured row (not run) are left out
kept, i = [], 0
while i < len(lines):
    if lines[i].startswith("### ") and \
            (i + 4 >= len(lines) or not lines[i + 4].startswith("| ")):
        kept.pop()  # the blank line before the heading
        i += 4
        continue
    kept.append(lines[i])
    i += 1
table = "\n".join(kept)
targets = "\n".join(tg)
print(table)
print()
print(targets)
os.makedirs(out, exist_ok=True)
machine = {
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "kernel": platform.release(), "cpus": os.cpu_count(),
    "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                 if l.startswith("model name")), "?"),
}
env = open(os.path.join(out, "env.txt")).read().strip() \
    if os.path.exists(os.path.join(out, "env.txt")) else ""
fails = open(os.path.join(out, "failures.txt")).read().strip() \
    if os.path.exists(os.path.join(out, "failures.txt")) else ""
json.dump({"machine": machine, "env": env, "results": res, "table": rows,
           "failures": fails.splitlines()},
          open(os.path.join(out, "results.json"), "w"), indent=2)

# chart: switching Mpps per configuration, 1 and 1000 flows
png = os.path.join(docs, "bench.png")
if sw:
    dat = os.path.join(out, "switch.dat")
    with open(dat, "w") as f:
        for cfg, label in [("bridge", "bridge"), ("bridge-nf", "bridge+br_nf"),
                           ("kvmbpf", "kvmbpf"), ("kvmbpf-xdp", "kvmbpf-xdp-on"),
                           ("ceiling", "redirect_map")]:
            f.write("%s %.3f %.3f\n" % (label, med(sw, cfg + "/1") / 1e6,
                                         med(sw, cfg + "/1000") / 1e6))
    os.makedirs(docs, exist_ok=True)
    subprocess.run(["gnuplot"], input="""
set terminal png size 900,500 noenhanced
set output '%s'
set title 'Guest-to-guest switching, 60-byte UDP, median of runs (Mpps at the receiver)'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'Mpps'
set yrange [0:*]
set key top left
plot '%s' using 2:xtic(1) title '1 flow', '' using 3 title '1000 flows'
""" % (png, dat), text=True, check=True)


def profile_block(cfg, label):
    p = os.path.join(out, "profile-%s.txt" % cfg)
    if not os.path.exists(p):
        return ""
    body = "".join("    " + l for l in open(p).readlines()[:12])
    return "%s:\n\n%s\n" % (label, body)


profiles = "".join(profile_block(c, l) for c, l in [
    ("bridge", "Linux bridge, br_netfilter off"), ("kvmbpf", "kvmbpf switching, defaults"),
    ("fwd", "kernel IP forwarding"), ("kvmbpf-routed", "kvmbpf routed, defaults"),
    ("nft-masq", "kernel forwarding + nft masquerade"),
    ("kvmbpf-nat", "kvmbpf NAT, defaults")])
notes_p = os.path.join(here, "notes.md")
notes = open(notes_p).read() if os.path.exists(notes_p) else ""

md = """# Benchmarks

Measured by `make bench` (`scripts/bench/run.sh`) on %(date)s: %(cpus)d
vCPUs (%(cpu)s), kernel %(kernel)s; %(env)s. Every figure is the median of
the runs with the spread; configurations are interleaved run by run, and
every ratio is against the kernel's own equivalent measured in the same run
on the same topology: two network namespaces joined through veth pairs, a
generator (`kvbbench gen`, XDP with `BPF_F_TEST_XDP_LIVE_FRAMES`, 60-byte
UDP) in one, an XDP sink counting arrivals in the other. "delivered" is the
smallest fraction of the sent packets that reached the receiver in any run
(a run that delivers nothing fails the bench). kvmbpf runs in its default
configuration: spoofcheck on, each port with its MAC and address, XDP off.
Raw numbers: `build/bench/results.json`.%(failnote)s

![switching](bench.png)

## The issue's targets (issue 17)

%(targets)s

## Measured
%(table)s

## Profiles

`perf record -C GENCPU` (the generator's CPU, where the path runs) while the generator runs (top symbols;
`scripts/bench/profile.sh`):

%(profiles)s
%(notes)s""" % dict(machine, env=env, table=table, targets=targets,
                    profiles=profiles or "(not run)\n", notes=notes,
                    failnote=("\n\n**Failed runs:**\n\n    " +
                              fails.replace("\n", "\n    ")) if fails else "")
os.makedirs(docs, exist_ok=True)
open(os.path.join(docs, "BENCHMARKS.md"), "w").write(md)
print("\nwrote %s, %s" % (os.path.join(out, "results.json"),
                          os.path.join(docs, "BENCHMARKS.md")))

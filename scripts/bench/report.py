#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turn scripts/bench/run.sh's raw lines into the table, JSON, chart and
docs/BENCHMARKS.md. Usage: report.py RAW OUTDIR DOCSDIR"""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

raw, out, docs = sys.argv[1:4]
data = {}
for line in open(raw):
    kind, name, value = line.split()
    data.setdefault(kind, {}).setdefault(name, []).append(float(value))


def stat(v):
    return {"median": statistics.median(v), "min": min(v), "max": max(v),
            "runs": len(v)}


res = {k: {n: stat(v) for n, v in d.items()} for k, d in data.items()}
cost, sw, tcp = res.get("cost", {}), res.get("switch", {}), res.get("tcp", {})
rt, nat = res.get("route", {}), res.get("nat", {})
newc = res.get("newconn", {})


def med(d, k):
    return d[k]["median"] if k in d else float("nan")


def ratio(a, b):
    return a / b if b else float("nan")


rows = []
lines = ["| figure | median | spread (min-max) | ratio | against |",
         "|---|---|---|---|---|"]


def row(name, d, key, unit, scale, base_key=None, base_d=None, against=""):
    if key not in d:
        return
    s = d[key]
    r = ratio(s["median"], med(base_d or d, base_key)) if base_key else None
    lines.append("| %s | %.2f %s | %.2f-%.2f | %s | %s |" % (
        name, s["median"] / scale, unit, s["min"] / scale, s["max"] / scale,
        "%.2fx" % r if r is not None else "", against))
    rows.append({"figure": name, "median": s["median"] / scale, "unit": unit,
                 "min": s["min"] / scale, "max": s["max"] / scale,
                 "ratio": r, "against": against})


for k, label in [("tc-unicast", "tc: known unicast"), ("tc-flood", "tc: broadcast to 1 port"),
                 ("tc-drop-vlan", "tc: drop (VLAN)")]:
    row("cost " + label, cost, k, "ns", 1, "empty-tc", None, "empty tc program")
for k, label in [("tc-routed", "tc: routed into a peered network (cold)"),
                 ("tc-nat-established", "tc: NAT, established flow (cold)")]:
    # one run per fresh frame: each figure carries the timer's own cost,
    # so the baseline is the empty program measured the same way
    row("cost " + label, cost, k, "ns", 1, "empty-tc-each", None,
        "empty tc program, one run each")
for k, label in [("xdp-pass", "XDP: admit and pass"), ("xdp-drop-vlan", "XDP: drop (VLAN)")]:
    row("cost " + label, cost, k, "ns", 1, "empty-xdp", None, "empty XDP program")
for f in ("1", "1000"):
    row("switching, %s flow(s): Linux bridge" % f, sw, "bridge/" + f, "Mpps", 1e6)
    row("switching, %s flow(s): kvmbpf" % f, sw, "kvmbpf/" + f, "Mpps", 1e6,
        "bridge/" + f, None, "Linux bridge")
    row("switching, %s flow(s): kvmbpf, tc only" % f, sw, "kvmbpf-tc/" + f,
        "Mpps", 1e6, "bridge/" + f, None, "Linux bridge")
    row("switching, %s flow(s): redirect_map ceiling" % f, sw, "ceiling/" + f,
        "Mpps", 1e6)
    if "kvmbpf/" + f in sw and "ceiling/" + f in sw:
        lines.append("| switching, %s flow(s): kvmbpf / ceiling | | | %.2fx | redirect_map |"
                     % (f, ratio(med(sw, "kvmbpf/" + f), med(sw, "ceiling/" + f))))
for f in ("1", "1000"):
    row("routed, %s flow(s): kernel IP forwarding" % f, rt, "fwd/" + f, "Mpps", 1e6)
    row("routed, %s flow(s): kvmbpf" % f, rt, "kvmbpf-routed/" + f, "Mpps", 1e6,
        "fwd/" + f, None, "kernel forwarding")
    row("routed, %s flow(s): kvmbpf, tc only" % f, rt, "kvmbpf-routed-tc/" + f,
        "Mpps", 1e6, "fwd/" + f, None, "kernel forwarding")
for f in ("1", "65536"):
    row("NAT established, %s flow(s): kernel + nft masquerade" % f, nat,
        "nft-masq/" + f, "Mpps", 1e6)
    row("NAT established, %s flow(s): kvmbpf" % f, nat, "kvmbpf-nat/" + f,
        "Mpps", 1e6, "nft-masq/" + f, None, "nft masquerade")
    row("NAT established, %s flow(s): kvmbpf, tc only" % f, nat,
        "kvmbpf-nat-tc/" + f, "Mpps", 1e6, "nft-masq/" + f, None, "nft masquerade")
row("NAT established, 65536 flows vs 1: kvmbpf, tc only", nat,
    "kvmbpf-nat-tc/65536", "Mpps", 1e6, "kvmbpf-nat-tc/1", None, "kvmbpf, 1 flow")
row("NAT established, 65536 flows among 1M tracked: kvmbpf, tc only", nat,
    "kvmbpf-nat-tc-1M/65536", "Mpps", 1e6, "kvmbpf-nat-tc/65536", None,
    "65,536 flows, empty table")
row("NAT new connections: kernel + nft masquerade", newc, "nft-masq", "k/s", 1e3)
row("NAT new connections: kvmbpf, tc only", newc, "kvmbpf-nat-tc", "k/s", 1e3,
    "nft-masq", None, "nft masquerade")
row("switching, 1000 flows, 64k MACs learned: kvmbpf", sw,
    "kvmbpf-64k-macs/1000", "Mpps", 1e6, "kvmbpf/1000", None, "empty table")
row("TCP (iperf3): Linux bridge", tcp, "bridge", "Gbit/s", 1e9)
row("TCP (iperf3): kvmbpf", tcp, "kvmbpf", "Gbit/s", 1e9, "bridge", None, "Linux bridge")
row("TCP (iperf3): kvmbpf, tc only", tcp, "kvmbpf-tc", "Gbit/s", 1e9, "bridge", None,
    "Linux bridge")
row("TCP (iperf3) through NAT: kernel + nft masquerade", tcp, "nft-masq", "Gbit/s", 1e9)
row("TCP (iperf3) through NAT: kvmbpf, tc only", tcp, "kvmbpf-nat-tc", "Gbit/s", 1e9,
    "nft-masq", None, "nft masquerade")
mem = res.get("memory", {}).get("kvmbpf-maps", {}).get("median")
if mem:
    lines.append("| memory of all kvmbpf maps (64k MACs) | %.1f MiB | | | |" % (mem / 2**20))
mem1m = res.get("memory", {}).get("kvmbpf-maps-1M", {}).get("median")
if mem1m:
    lines.append("| memory of all kvmbpf maps (1M tracked flows) | %.1f MiB | | | |"
                 % (mem1m / 2**20))

table = "\n".join(lines)
print(table)
os.makedirs(out, exist_ok=True)
machine = {
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "kernel": platform.release(), "cpus": os.cpu_count(),
    "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                 if l.startswith("model name")), "?"),
}
json.dump({"machine": machine, "results": res, "table": rows},
          open(os.path.join(out, "results.json"), "w"), indent=2)

# chart: switching Mpps per configuration, 1 and 1000 flows
dat = os.path.join(out, "switch.dat")
with open(dat, "w") as f:
    for cfg, label in [("bridge", "Linux-bridge"), ("kvmbpf", "kvmbpf"),
                       ("kvmbpf-tc", "kvmbpf-tc-only"), ("ceiling", "redirect_map")]:
        f.write("%s %.3f %.3f\n" % (label, med(sw, cfg + "/1") / 1e6,
                                     med(sw, cfg + "/1000") / 1e6))
png = os.path.join(docs, "bench.png")
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
    body = "".join("    " + l for l in open(p).readlines()[:10])
    return "  %s:\n\n%s\n" % (label, body)


profiles = "".join(profile_block(c, l) for c, l in [
    ("bridge", "Linux bridge"), ("kvmbpf-tc", "kvmbpf switching, tc only"),
    ("fwd", "kernel IP forwarding"), ("kvmbpf-routed-tc", "kvmbpf routed, tc only"),
    ("nft-masq", "kernel forwarding + nft masquerade"),
    ("kvmbpf-nat-tc", "kvmbpf NAT, tc only")])

md = """# Benchmarks

Measured by `make bench` (`scripts/bench/run.sh`) on %(date)s: %(cpus)d
vCPUs (%(cpu)s), kernel %(kernel)s. Every figure is the median of the runs
with the spread, and every ratio is against the kernel's own equivalent
measured in the same run on the same topology: two network namespaces
joined through veth pairs, a generator (`kvbbench gen`, XDP with
`BPF_F_TEST_XDP_LIVE_FRAMES`, 60-byte UDP) in one, an XDP sink counting
arrivals in the other. Raw numbers: `build/bench/results.json`.

![switching](bench.png)

%(table)s

## What the numbers say

- **Switching: %(sw_ratio).2fx the Linux bridge, %(ceil_ratio).2fx the
  bare redirect_map ceiling** (1000 flows). kvmbpf forwards in tc
  (DESIGN.md: tc is authoritative; XDP may forward only what is provably
  correct, and an `XDP_REDIRECT` between taps loses the virtio-net checksum
  state, so kvmbpf's XDP only admits and passes). Every frame therefore
  becomes an skb at the ingress veth, as with the bridge, while the ceiling
  never builds one. The program itself costs %(uni).0f ns for a known
  unicast frame (section 1), a small part of the per-packet budget: the
  limit is the skb path. The issue's targets (3x the bridge, 0.8x the
  ceiling) need forwarding in XDP for the frames where it is provably safe
  (from NICs; from guests whose checksums are complete); not done yet.
- **XDP on veth takes the guest's TSO.** The veth driver turns off GSO on
  a peer whose partner runs XDP, so with XDP on, a namespace guest
  segments in software; in this run TCP reached %(tcp_x).2fx the bridge
  with XDP on and %(tcp_tc).2fx with tc alone (this machine is noisy: see
  the spreads). Taps, the real case, keep TSO with XDP attached; the guest
  tests check that TSO super-frames cross the fabric.
- **64k learned MACs**: %(big).2fx the empty table's rate (hash lookups,
  one per frame). All of kvmbpf's maps take %(mem).1f MiB (section 6),
  most of it the preallocated NAT flow table.
- The broadcast cost in section 1 includes the kernel transmitting the
  clone (BPF_PROG_RUN executes `bpf_clone_redirect`).
- **Routing: %(rt_ratio).2fx kernel IP forwarding** (1000 flows, tc only;
  target 2x: missed). Routing in kvmbpf is a tc program like switching:
  admission, the route table (LPM trie), the FIB lookup the issue asks for
  (`bpf_fib_lookup`), the destination network's MAC table, the TTL and MAC
  rewrites, then `bpf_redirect` to the guest's port. The kernel's own
  forwarding does the FIB lookup and the neighbour output and nothing
  else, on the same skb path, so kvmbpf pays its policy on top. The
  profiles below show where: the program itself, and hash-map work
  (`htab_map_hash`, `lookup_nulls_elem_raw`: port, counters, network, MAC
  table learn and lookup, the flow table) that the kernel's path does not
  have. An early profile showed the precise clock (`kvm-clock` reads,
  ~10%% of every packet); the datapath now reads the coarse clock. The win
  over the kernel would need XDP forwarding, which DESIGN.md allows only
  where it is provably correct (not for frames from taps).
- **NAT, established flows: %(nat1_ratio).2fx nft masquerade with one flow,
  %(nat_ratio).2fx with 65,536** (tc only; target 3x: missed), and
  65,536 flows run at %(nat_scale).2fx of kvmbpf's own 1-flow rate
  (target: within 10%%: missed; the flow table's random accesses miss the
  cache). **New connections: %(new_ratio).2fx nft masquerade** (target 2x:
  missed). The flows go to 16 ports of one remote host: a NAT port range
  is per remote endpoint (28,232 ports), so 65,536 flows to one endpoint
  cannot exist in either implementation.
- **TCP through NAT: %(tcp_nat).2fx kernel forwarding plus nft
  masquerade** (offloads on: the rewrites keep GSO super-frames and
  CHECKSUM_PARTIAL intact).
- **Profiles** (`perf record -a` while the generator runs; top symbols,
  whole system; `scripts/bench/profile.sh`):

%(profiles)s

- The two "(cold)" costs are one program run per fresh copy of the frame
  (a routed or translated frame is rewritten, so repeating the run on it
  measures something else): the median includes cold caches and the
  timer, and the baseline is the empty program measured the same way.
- **1M tracked connections**: 65,536 live flows among idle ones that fill
  the table to 1,048,576 flows run at %(ct1m).2fx the rate with the table
  otherwise empty (the table is not preallocated: its entries cost memory
  as flows come).
""" % dict(machine, table=table,
           rt_ratio=ratio(med(rt, "kvmbpf-routed-tc/1000"), med(rt, "fwd/1000")),
           nat1_ratio=ratio(med(nat, "kvmbpf-nat-tc/1"), med(nat, "nft-masq/1")),
           nat_ratio=ratio(med(nat, "kvmbpf-nat-tc/65536"), med(nat, "nft-masq/65536")),
           nat_scale=ratio(med(nat, "kvmbpf-nat-tc/65536"), med(nat, "kvmbpf-nat-tc/1")),
           new_ratio=ratio(med(newc, "kvmbpf-nat-tc"), med(newc, "nft-masq")),
           tcp_nat=ratio(med(tcp, "kvmbpf-nat-tc"), med(tcp, "nft-masq")),
           profiles=profiles,
           ct1m=ratio(med(nat, "kvmbpf-nat-tc-1M/65536"), med(nat, "kvmbpf-nat-tc/65536")),
           sw_ratio=ratio(med(sw, "kvmbpf/1000"), med(sw, "bridge/1000")),
           ceil_ratio=ratio(med(sw, "kvmbpf/1000"), med(sw, "ceiling/1000")),
           uni=med(cost, "tc-unicast"),
           tcp_x=ratio(med(tcp, "kvmbpf"), med(tcp, "bridge")),
           tcp_tc=ratio(med(tcp, "kvmbpf-tc"), med(tcp, "bridge")),
           big=ratio(med(sw, "kvmbpf-64k-macs/1000"), med(sw, "kvmbpf/1000")),
           mem=(mem or 0) / 2**20)
open(os.path.join(docs, "BENCHMARKS.md"), "w").write(md)
print("\nwrote %s, %s, %s" % (os.path.join(out, "results.json"), png,
                              os.path.join(docs, "BENCHMARKS.md")))

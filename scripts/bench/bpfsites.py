#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bpfsites.py LINES CALLCHAINS NS_PER_SAMPLE [TOP]

The kernel's time under BPF call sites: which map lookup, update or
helper call of the programs costs what. LINES is bpflines' output (taken
while the programs were loaded), CALLCHAINS `perf script -F ip,sym` of a
`perf record -g -F HZ` on the CPU the path runs on; NS_PER_SAMPLE turns
counts into nanoseconds a packet (1e9 / HZ / packets). A kernel sample
(a hash, a bucket walk, a helper) whose call chain passes through one of
the table's functions counts for the source line of that call (the
return address's record); the BPF code's own samples are bpflines.py's.
Prints the time per call site, then per call site and kernel symbol.
"""
import bisect
import collections
import sys


def load(path):
    table, funcs = [], []
    with open(path) as f:
        for line in f:
            addr, _, src = line.rstrip("\n").partition(" ")
            if src.startswith("+"):
                length, _, name = src[1:].partition(" ")
                funcs.append((int(addr, 16), int(length), name))
            else:
                table.append((int(addr, 16), src))
    table.sort()
    funcs.sort()
    return table, funcs


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    table, funcs = load(sys.argv[1])
    addrs = [a for a, _ in table]
    starts = [f[0] for f in funcs]
    ns = float(sys.argv[3])
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 25

    def site(ip, sym):
        i = bisect.bisect_right(starts, ip) - 1
        if i < 0 or ip >= funcs[i][0] + funcs[i][1]:
            return None
        if not sym.startswith("bpf_prog_") or \
                funcs[i][2] not in (sym.split("_", 3)[-1], "", "?"):
            return None
        # a return address: the call is the record before it
        j = bisect.bisect_right(addrs, ip - 1) - 1
        return table[j][1][:100] if j >= 0 else "?"

    sites, pairs = collections.Counter(), collections.Counter()
    chain = []

    def flush():
        if len(chain) < 2 or chain[0][1].startswith("bpf_prog_"):
            return
        for ip, sym in chain[1:]:
            s = site(ip, sym)
            if s:
                sites[s] += 1
                pairs[(s, chain[0][1])] += 1
                return

    with open(sys.argv[2]) as f:
        for line in f:
            if line[:1] in ("\t", " ") and line.strip():
                p = line.split()
                try:
                    chain.append((int(p[0], 16), p[1] if len(p) > 1 else "?"))
                except ValueError:
                    pass
                continue
            flush()
            chain = []
    flush()
    print("kernel time under BPF call sites, ns a packet:")
    for s, n in sites.most_common(top):
        print("%7.2f ns  %s" % (n * ns, s))
    print("\nby call site and kernel symbol:")
    for (s, k), n in pairs.most_common(top):
        print("%7.2f ns  %-28s %s" % (n * ns, k, s))


if __name__ == "__main__":
    main()

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
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bpflines import LineTable, prog_name  # noqa: E402


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    lt = LineTable(sys.argv[1])
    ns = float(sys.argv[3])
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 25

    def site(ip, sym):
        # a return address: the call is the record before it
        name = prog_name(sym)
        src = lt.line(ip - 1, name) if name is not None else None
        return src[:100] if src is not None else None

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

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bpflines.py LINES SAMPLES NS_PER_SAMPLE [TOP]

Source lines of BPF programs by their share of a profile. LINES is
bpflines' output (the JIT's line table, taken while the programs were
loaded), SAMPLES `perf script -F ip,sym` of a `perf record -F HZ` on the
CPU the path runs on; NS_PER_SAMPLE turns counts into nanoseconds a packet
(1e9 / HZ / packets). A sample inside one of the table's functions is the
record at or below its address, when perf names the same function; other
programs' samples (the generator's) count by symbol only. Prints the time per symbol (kernel and BPF), per
source file and the TOP lines (30).
"""
import bisect
import collections
import sys


def prog_name(sym):
    """The function a perf symbol of a BPF program names (bpf_prog_TAG_NAME),
    or None for a kernel symbol."""
    return sym.split("_", 3)[-1] if sym.startswith("bpf_prog_") else None


class LineTable:
    """bpflines' output: the JIT's line records and function extents."""

    def __init__(self, path):
        self.table, self.funcs = [], []
        with open(path) as f:
            for line in f:
                addr, _, src = line.rstrip("\n").partition(" ")
                if src.startswith("+"):
                    length, _, name = src[1:].partition(" ")
                    self.funcs.append((int(addr, 16), int(length), name))
                else:
                    self.table.append((int(addr, 16), src))
        self.table.sort()
        self.funcs.sort()
        self.addrs = [a for a, _ in self.table]
        self.starts = [f[0] for f in self.funcs]

    def line(self, ip, name):
        """The source record at or below ip, when ip is inside one of the
        table's functions and perf names it so (name): an address of a
        program loaded and gone meanwhile, the generator's, is not the
        table's. Else None."""
        i = bisect.bisect_right(self.starts, ip) - 1
        if i < 0 or ip >= self.funcs[i][0] + self.funcs[i][1] or \
                self.funcs[i][2] not in (name, "", "?"):
            return None
        j = bisect.bisect_right(self.addrs, ip) - 1
        return self.table[j][1] if j >= 0 else None


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    lt = LineTable(sys.argv[1])
    ns = float(sys.argv[3])
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 30
    syms, files, lines = (collections.Counter() for _ in range(3))
    total = 0
    with open(sys.argv[2]) as f:
        for line in f:
            p = line.split()
            if not p:
                continue
            total += 1
            if len(p) < 2:
                continue
            sym = p[1]
            name = prog_name(sym)
            if name is None:
                syms[sym] += 1
                continue
            syms["bpf:" + name] += 1
            src = lt.line(int(p[0], 16), name)
            if src is None:
                continue
            files[src.split(":")[0]] += 1
            lines[(name, src[:100])] += 1
    print("%.1f ns a packet in all (%d samples)" % (total * ns, total))
    print("\nby symbol:")
    for s, n in syms.most_common(20):
        print("%7.2f ns  %s" % (n * ns, s))
    print("\nBPF by source file:")
    for s, n in files.most_common(12):
        print("%7.2f ns  %s" % (n * ns, s))
    print("\nBPF by source line:")
    for (name, src), n in lines.most_common(top):
        print("%7.2f ns  %-18s %s" % (n * ns, name, src))


if __name__ == "__main__":
    main()

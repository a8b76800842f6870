# SPDX-License-Identifier: MIT
"""The tables of the tap benches (uplink.sh, natwan.sh): their raw lines
("KIND NAME VALUE", NAME "CONFIG/FLOWS") read, and the rate table with the
same-run ratios printed. Imported by the benches' report snippets."""
import statistics


def load(path):
    """{KIND: {NAME: [VALUE, ...]}} of a bench's raw lines"""
    d = {}
    for l in open(path):
        k, n, v = l.split()
        d.setdefault(k, {}).setdefault(n, []).append(float(v))
    return d


def ms(v, scale=1e6, f="%.2f"):
    """median (min-max) of v, divided by scale"""
    return (f + " (" + f + "-" + f + ")") % (statistics.median(v) / scale,
                                             min(v) / scale, max(v) / scale)


def rate_table(d, configs, base, xdp_off, kinds=(("", ""),)):
    """The rate table: configs [(CONFIG, label)], the kernel's path, the
    fabric's default and the fabric with XDP, in that order, each row
    paired with the kernel's (headed "vs BASE") and the XDP row with the
    default's (headed "vs XDP_OFF"); kinds [(SUFFIX, label)]: the
    configurations' variants (CONFIG + SUFFIX), one block each, paired with
    the kernel's only without a suffix"""
    rate = d.get("rate", {})
    flows = sorted({n.split("/")[-1] for n in rate}, key=int)
    kernel, default, xdp = (c for c, _ in configs)
    print("| flows | configuration | Mpps median (min-max) | runs | delivered (min) | reached tap (min) | fast path | paired ratio vs %s | paired vs %s |" % (base, xdp_off))
    print("|---|---|---|---|---|---|---|---|---|")
    for kz, kl in kinds:
        for fl in flows:
            for cfg, label in configs:
                k = cfg + kz + "/" + fl
                if kl:
                    label += ", " + kl
                if k not in rate:
                    continue
                v = rate[k]

                def paired(b):
                    r = [x / y for x, y in zip(v, rate.get(b + kz + "/" + fl, [])) if y]
                    return ms(r, 1, "%.2fx") if r and cfg != b else ""
                fp = d.get("fastpath", {}).get(k)
                print("| %s | %s | %s | %d | %.3f | %.3f | %s | %s | %s |" % (
                    fl, label, ms(v), len(v), min(d["delivered"][k]),
                    min(d["reached"][k]),
                    "%.0f%%" % (100 * statistics.median(fp)) if fp else "",
                    paired(kernel) if not kz else "",
                    paired(default) if cfg == xdp else ""))

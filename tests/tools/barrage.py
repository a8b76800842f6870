#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Send every hostile frame from craft.py through one port and assert its
verdict from the fabric's counters. Prints PASS/FAIL lines.

barrage.py HOW PORT MAC IP4 IP6 VICTIM_PORT VICTIM_MAC OTHER_PORT OTHER_MAC
           UPLINK_PORT
HOW: "tap" (written into the tap behind a virtio-net header) or "veth"
(written from inside namespace PORT onto its eth0). Environment: KVMBPF
(the command with --bpffs), SENDRAW (path).
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import craft  # noqa: E402

KVMBPF = os.environ["KVMBPF"].split()
SENDRAW = os.environ["SENDRAW"]


def stats():
    out = subprocess.run(KVMBPF + ["-j", "stats"], check=True,
                         capture_output=True, text=True).stdout
    return {s["dev"]: s for s in json.loads(out)}


def send(how, port, frame, gso):
    if how == "tap":
        cmd = [SENDRAW, "--tap", port, frame.hex(), "1", str(gso)]
    else:
        cmd = ["ip", "netns", "exec", port, SENDRAW, "eth0", frame.hex()]
    subprocess.run(cmd, check=True)


def main():
    how, port, mac, ip4, ip6, vic, vmac, oth, omac, up = sys.argv[1:11]
    failed = 0
    for name, verdict, frame, gso in craft.cases(mac, ip4, ip6, vmac, omac):
        if how == "veth" and gso:
            continue  # AF_PACKET here has no virtio-net header
        b = stats()
        send(how, port, frame, gso)
        a = stats()

        def d(dev, key):
            return a[dev][key] - b[dev][key]

        def r(reason):
            return (a[port]["drop_reasons"][reason] -
                    b[port]["drop_reasons"][reason])
        got = (f"victim +{d(vic, 'tx_packets')} other +{d(oth, 'tx_packets')}"
               f" uplink +{d(up, 'tx_packets')} drops +{d(port, 'drops')}")
        if verdict == "deliver":
            ok = (d(vic, "tx_packets") == 1 and d(oth, "tx_packets") == 0
                  and d(port, "drops") == 0)
            what = "delivered to the victim, nowhere else"
        elif verdict == "deliver-flood":
            ok = (d(vic, "tx_packets") == 1 and d(up, "tx_packets") >= 1
                  and d(oth, "tx_packets") == 0 and d(port, "drops") == 0)
            what = "flooded within its own network only"
        else:
            ok = (r(verdict) == 1 and d(vic, "tx_packets") == 0
                  and d(oth, "tx_packets") == 0)
            what = f"dropped as {verdict}"
            got += f" {verdict} +{r(verdict)}"
        if ok:
            print(f"PASS {how}: {name}: {what}")
        else:
            print(f"FAIL {how}: {name}: want {what}; got {got}")
            failed += 1
    return 1 if failed else 0


sys.exit(main())

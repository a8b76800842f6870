#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hostile frames for tests/netns/hostile.sh, one per line:

    NAME VERDICT HEX GSO_SIZE

VERDICT is the drop reason the fabric must count on the sending port, or
"deliver" when the frame must reach the victim (and nothing else must).
Usage: craft.py ATTACKER_MAC ATTACKER_IP4 ATTACKER_IP6 VICTIM_MAC OTHER_MAC
"""
import struct
import sys
import socket


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def eth(dst, src, proto, payload):
    return dst + src + struct.pack("!H", proto) + payload


def ip4(src, dst, proto, payload, ihl=5, tot=None, frag=0, opts=b""):
    tot = 4 * ihl + len(payload) if tot is None else tot
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tot, 1, frag, 64,
                      proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return hdr + opts + payload


def ip6(src, dst, nh, payload):
    return (struct.pack("!IHBB", 6 << 28, len(payload), nh, 64) +
            socket.inet_pton(socket.AF_INET6, src) +
            socket.inet_pton(socket.AF_INET6, dst) + payload)


def udp(sport, dport, data=b"", length=None):
    length = 8 + len(data) if length is None else length
    return struct.pack("!HHHH", sport, dport, length, 0) + data


def tcp(sport, dport, doff=5, data=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, doff << 4, 0x02,
                       65535, 0, 0) + b"\0" * max(0, doff * 4 - 20) + data


def arp(sha, spa, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, sha,
                       socket.inet_aton(spa), b"\0" * 6, socket.inet_aton(tpa))


def cases(A, a4, a6, V, O):
    """(name, verdict, frame bytes, gso_size) for every hostile frame."""
    A, V, O = mac(A), mac(V), mac(O)
    BC = b"\xff" * 6
    EVIL = mac("52:54:00:ee:ee:ee")
    v4 = "10.93.0.11"
    v6 = "fd93::11"
    ok_udp = ip4(a4, v4, 17, udp(1000, 2000, b"x" * 20))
    table = [
        # identity
        ("spoofed-source-mac", "spoof-mac", eth(V, EVIL, 0x0800, ok_udp)),
        ("spoofed-ipv4-source", "spoof-ip",
         eth(V, A, 0x0800, ip4("10.93.0.99", v4, 17, udp(1, 2, b"x" * 20)))),
        # the victim's (static) address: SAVI refuses another port's
        ("spoofed-ipv6-source", "savi-conflict",
         eth(V, A, 0x86DD, ip6(v6, "fd93::99", 17, udp(1, 2, b"x" * 20)))),
        ("ipv6-multicast-source", "spoof-ip",
         eth(V, A, 0x86DD, ip6("ff02::1", v6, 17, udp(1, 2, b"x" * 20)))),
        ("arp-forged-sender-ip", "spoof-arp",
         eth(BC, A, 0x0806, arp(A, "10.93.0.11", "10.93.0.1"))),
        ("arp-forged-sender-mac", "spoof-arp",
         eth(BC, A, 0x0806, arp(EVIL, a4, "10.93.0.1"))),
        ("guest-dhcp-server", "spoof-dhcp-server",
         eth(BC, A, 0x0800, ip4(a4, "255.255.255.255", 17,
                                udp(67, 68, b"\0" * 240)))),
        ("guest-router-advert", "spoof-router-msg",
         eth(BC, A, 0x86DD, ip6("fe80::1", "ff02::1", 58,
                                bytes([134, 0, 0, 0]) + b"\0" * 12))),
        # other networks
        ("forged-dst-other-network", "deliver-flood", eth(O, A, 0x0800, ok_udp)),
        ("broadcast", "deliver-flood", eth(BC, A, 0x0800, ok_udp)),
        ("multicast", "deliver-flood",
         eth(mac("01:00:5e:00:00:fb"), A, 0x0800,
             ip4(a4, "224.0.0.251", 17, udp(5353, 5353, b"x" * 20)))),
        # tags
        ("8021q-tagged", "vlan-tagged",
         eth(V, A, 0x8100, struct.pack("!HH", 5, 0x0800) + ok_udp)),
        ("qinq-tagged", "vlan-tagged",
         eth(V, A, 0x88A8, struct.pack("!HHHH", 5, 0x8100, 6, 0x0800) + ok_udp)),
        # truncation and lies
        ("14-byte-frame", "l3-malformed", eth(V, A, 0x0800, b"")),
        ("ipv4-cut-at-10", "l3-malformed", eth(V, A, 0x0800, ok_udp[:10])),
        ("ipv4-ihl-4", "l3-malformed",
         eth(V, A, 0x0800, bytes([0x44]) + ok_udp[1:])),
        ("ipv4-options-nop", "ip-options",
         eth(V, A, 0x0800, ip4(a4, v4, 17, udp(1, 2, b"x" * 20), ihl=6,
                               opts=b"\x01\x01\x01\x01"))),
        ("ipv4-tot-len-too-large", "l3-malformed",
         eth(V, A, 0x0800, ip4(a4, v4, 17, udp(1, 2, b"x" * 20), tot=400))),
        ("ipv4-tot-len-smaller-than-frame", "deliver",
         eth(V, A, 0x0800, ip4(a4, v4, 17, udp(1, 2, b"x" * 20), tot=48)
             + b"\0" * 30)),
        ("ipv6-cut-at-30", "l3-malformed",
         eth(V, A, 0x86DD, ip6(a6, v6, 17, udp(1, 2))[:30])),
        ("tcp-doff-4", "l4-malformed",
         eth(V, A, 0x0800, ip4(a4, v4, 6, tcp(1, 2, doff=4)))),
        ("udp-length-lies", "l4-malformed",
         eth(V, A, 0x0800, ip4(a4, v4, 17, udp(1, 2, b"x" * 4, length=200)))),
        ("icmp-error-truncated-quote", "l4-malformed",
         eth(V, A, 0x0800, ip4(a4, v4, 1, bytes([3, 3, 0, 0]) + b"\0" * 12))),
        ("icmp-error-full-quote", "deliver",
         eth(V, A, 0x0800, ip4(a4, v4, 1, bytes([3, 3, 0, 0, 0, 0, 0, 0]) +
                               ip4(v4, a4, 17, udp(2, 1))))),
        # fragments
        ("ipv4-fragment-first", "deliver",
         eth(V, A, 0x0800, ip4(a4, v4, 17, udp(1, 2, b"x" * 32, length=80),
                               frag=0x2000))),
        ("ipv4-fragment-overlapping", "deliver",
         eth(V, A, 0x0800, ip4(a4, v4, 17, b"y" * 48, frag=2))),
        ("ipv4-fragment-over-tcp-header", "frag-overlap",
         eth(V, A, 0x0800, ip4(a4, v4, 6, b"z" * 24, frag=1))),
        ("ipv4-tiny-first-tcp-fragment", "l4-malformed",
         eth(V, A, 0x0800, ip4(a4, v4, 6, b"z" * 8, frag=0x2000))),
        # IPv6 extension headers
        ("ipv6-ext-chain-7", "ipv6-ext-header",
         eth(V, A, 0x86DD, ip6(a6, v6, 60, (bytes([60, 0]) + b"\0" * 6) * 6 +
                               bytes([59, 0]) + b"\0" * 6))),
        ("ipv6-rh0", "ipv6-ext-header",
         eth(V, A, 0x86DD, ip6(a6, v6, 43, bytes([59, 0, 0, 0]) + b"\0" * 4))),
        ("ipv6-ext-chain-ok", "deliver",
         eth(V, A, 0x86DD, ip6(a6, v6, 0, bytes([60, 0]) + b"\0" * 6 +
                               bytes([17, 0]) + b"\0" * 6 + udp(1, 2, b"ok")))),
        # size
        ("oversized-frame", "mtu-exceeded",
         eth(V, A, 0x0800, ip4(a4, v4, 17, udp(1, 2, b"x" * 1600)))),
        ("unknown-ethertype", "deliver", eth(V, A, 0x88B5, b"\0" * 46)),
    ]
    out = [(n, v, f, 0) for n, v, f in table]
    # TSO super-frames: within the MTU once segmented, and beyond it
    big = eth(V, A, 0x0800, ip4(a4, v4, 6, tcp(1, 2, data=b"t" * 4000)))
    out.append(("gso-superframe-within-mtu", "deliver", big, 1448))
    out.append(("gso-superframe-segments-over-mtu", "mtu-exceeded", big, 1600))
    return out


def legit(A, a4, V):
    """A frame the attacker may send: its own identity, to the victim."""
    return eth(mac(V), mac(A), 0x0800,
               ip4(a4, "10.93.0.11", 17, udp(1, 2, b"legit")))


if __name__ == "__main__":
    for n, v, f, g in cases(*sys.argv[1:6]):
        print(n, v, f.hex(), g)

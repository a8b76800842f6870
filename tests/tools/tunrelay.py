#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A point-to-point layer-3 link between two network namespaces, as a VPN
gives a host: tun devices (IFF_TUN, no packet information, so ARPHRD_NONE
and packets that start with their IP header, as WireGuard's and a VPN
client's tun), every packet read from one written into the other.

    tunrelay.py NS_A DEV_A NS_B DEV_B

creates DEV_A in namespace NS_A and DEV_B in NS_B (/run/netns/NAME), prints
"ready" once both exist, and relays until it is killed. The devices go
with the process. Configure them (addresses, up) from outside.
"""
import ctypes
import fcntl
import os
import select
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000

libc = ctypes.CDLL(None, use_errno=True)


def tun_in(ns, name):
    """An IFF_TUN device NAME made in namespace NS; its file descriptor."""
    nsfd = os.open("/run/netns/" + ns, os.O_RDONLY)
    if libc.setns(nsfd, CLONE_NEWNET):
        err = ctypes.get_errno()
        raise OSError(err, "setns %s: %s" % (ns, os.strerror(err)))
    os.close(nsfd)
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(),
                                           IFF_TUN | IFF_NO_PI))
    return fd


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: tunrelay.py NS_A DEV_A NS_B DEV_B")
    a = tun_in(sys.argv[1], sys.argv[2])
    b = tun_in(sys.argv[3], sys.argv[4])
    other = {a: b, b: a}
    print("ready", flush=True)
    while True:
        ready, _, _ = select.select([a, b], [], [])
        for fd in ready:
            try:
                pkt = os.read(fd, 65536)
                os.write(other[fd], pkt)
            except OSError:
                pass    # the other side down: the packet is lost, as on a wire


if __name__ == "__main__":
    main()

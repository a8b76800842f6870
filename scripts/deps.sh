#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install every Debian package that building, the demo and the tests need.
# Idempotent: when everything is present it only asks dpkg and exits.
set -euo pipefail

PKGS=(
	make gcc clang llvm pkg-config
	libbpf-dev libelf-dev zlib1g-dev libmnl-dev linux-libc-dev bpftool
	python3 iproute2 iputils-ping nftables iptables dnsmasq-base ethtool netcat-openbsd socat tcpdump python3-scapy iperf3 nmap
	qemu-system-x86 busybox-static cpio kmod
	libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
	isc-dhcp-client ndisc6 stun-client stun-server
	dhcpcd-base traceroute iputils-tracepath strace
)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# libvirtd (tests/guest/libvirt.sh) resolves its default QEMU user before
# reading qemu.conf; libvirt-daemon-system would create it, but also start
# a host libvirtd, which the test does not want.
if ! getent passwd libvirt-qemu >/dev/null; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps.sh: user libvirt-qemu missing; run as root to create it" >&2
		exit 1
	fi
	useradd --system --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin --user-group libvirt-qemu
fi

# bpffs: the fabric and the tests pin everything below /sys/fs/bpf.
if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf
fi

# The real-guest tests' kernel and initramfs, built once into an ignored
# cache (tests/guest/cache) from Debian's packages.
bash "$(dirname "$0")/guest-image.sh"

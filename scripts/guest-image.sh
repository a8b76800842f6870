#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the real-guest test image into tests/guest/cache/ (ignored by git):
# Debian's cloud kernel (apt-get download + dpkg-deb -x) and a busybox-static
# initramfs that loads the virtio-net stack and runs the scenario script the
# host passes on the kernel command line (kvb.run=BASE64). Idempotent: a
# cache for the current kernel package is reused.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=$ROOT/tests/guest/cache
MODS="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net"

cloud_kernel() {
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
pkg=$(cloud_kernel)
if [ -z "$pkg" ]; then
	apt-get update -qq
	pkg=$(cloud_kernel)
fi
[ -n "$pkg" ] || { echo "guest-image.sh: no linux-image-cloud-amd64 package found" >&2; exit 1; }
if [ -s "$CACHE/vmlinuz" ] && [ -s "$CACHE/initrd.img" ] &&
   [ "$(cat "$CACHE/kernel-package" 2>/dev/null)" = "$pkg" ]; then
	exit 0
fi

echo "guest-image.sh: building the guest image from $pkg"
rm -rf "$CACHE"
mkdir -p "$CACHE"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# a package list older than the mirror names a .deb it no longer has:
# the lists again, the package they name, once more; apt's own words if
# that fails too
if ! (cd "$work" && apt-get download -q "$pkg" >"$work/apt.log" 2>&1); then
	apt-get update -qq || true
	pkg=$(cloud_kernel)
	if [ -z "$pkg" ] ||
	   ! (cd "$work" && apt-get download -q "$pkg" >"$work/apt.log" 2>&1); then
		echo "guest-image.sh: cannot download ${pkg:-linux-image-cloud-amd64}:" >&2
		grep -E '^(E|Err):' "$work/apt.log" >&2 || tail -3 "$work/apt.log" >&2
		exit 1
	fi
fi
dpkg-deb -x "$work"/"$pkg"_*.deb "$work/k"
kver=${pkg#linux-image-}
cp "$work/k/boot/vmlinuz-$kver" "$CACHE/vmlinuz"

r=$work/root
mkdir -p "$r"/{bin,proc,sys,dev,tmp,lib/mod}
cp /bin/busybox "$r/bin/busybox"
for m in $MODS; do
	f=$(find "$work/k/lib/modules/$kver" -name "$m.ko*" | head -1)
	[ -n "$f" ] || { echo "guest-image.sh: module $m missing in $pkg" >&2; exit 1; }
	cp "$f" "$r/lib/mod/"
done
cat >"$r/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net; do
	insmod /lib/mod/$m.ko* || echo "KVB-ERROR insmod $m"
done
ip link set lo up
run=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^kvb.run=//p')
echo "$run" | base64 -d >/tmp/scenario.sh
echo "KVB-BOOTED"
sh /tmp/scenario.sh 2>&1
echo "KVB-DONE"
poweroff -f
INIT
chmod +x "$r/init"
(cd "$r" && find . | cpio -o -H newc --quiet | gzip -1) >"$CACHE/initrd.img"
echo "$pkg" >"$CACHE/kernel-package"

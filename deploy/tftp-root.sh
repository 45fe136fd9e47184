#!/bin/sh
# Fills a TFTP root with the iPXE boot programs of Debian's ipxe package, the files the
# dnsmasq configuration of `anemosctl dnsmasq config` names:
#   undionly.kpxe   BIOS PXE (iPXE over the NIC's UNDI driver)
#   ipxe.efi        x86-64 UEFI (iPXE's own NIC drivers)
#   snponly.efi     x86-64 UEFI through the firmware's network driver, for NICs iPXE lacks
#   ipxe-arm64.efi  arm64 UEFI, only where IPXE_ARM64 names a binary (Debian 12 has none)
# Files are copied (a chrooted TFTP server cannot follow links out) and replaced only when
# they changed. Usage: deploy/tftp-root.sh DIR [IPXE_DIR (default /usr/lib/ipxe)]
set -eu
dest=${1:?usage: tftp-root.sh DIR [IPXE_DIR]}
src=${2:-/usr/lib/ipxe}
mkdir -p "$dest"
for f in undionly.kpxe ipxe.efi snponly.efi; do
	[ -s "$src/$f" ] || { echo "tftp-root: $src/$f missing (Debian package ipxe)" >&2; exit 1; }
	cmp -s "$src/$f" "$dest/$f" 2>/dev/null || { cp "$src/$f" "$dest/$f.new" && mv "$dest/$f.new" "$dest/$f"; }
	chmod 0644 "$dest/$f"
done
if [ -n "${IPXE_ARM64:-}" ]; then
	cp "$IPXE_ARM64" "$dest/ipxe-arm64.efi.new" && mv "$dest/ipxe-arm64.efi.new" "$dest/ipxe-arm64.efi"
	chmod 0644 "$dest/ipxe-arm64.efi"
fi

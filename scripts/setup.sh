#!/usr/bin/env bash
# Set-up shared by the demo and the tests, for a fresh Debian 12 machine:
# the apt packages moss's tests boot and build with, and a virtualenv in .venv
# with moss installed in editable mode.  Safe to run again: it only installs
# what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
    python3 python3-venv python3-pip
    qemu-system-x86 ovmf systemd-boot-efi systemd-boot
    busybox-static cpio mtools dosfstools dracut-core kmod zstd e2fsprogs
    minisign util-linux ostree python3-solv
    mmdebstrap fdisk fusefat nginx
    cryptsetup btrfs-progs lvm2 sbsigntool  # real machines: boot/topology, boot/secureboot
    xfsprogs  # the blit's reflinks are tested on loop-mounted btrfs and xfs images
    swtpm swtpm-tools tpm2-tools openssl  # the real-OS guest's TPM; dracut's tpm2-tss needs tpm2
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

scripts/install-docs.sh .venv

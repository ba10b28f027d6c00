#!/bin/sh
# Capture the modalias list of a QEMU q35 guest with virtio devices, as
# tests/data/qemu-q35-virtio.modalias was made:
#   sh tests/data/capture-qemu-modalias.sh VMLINUZ > tests/data/qemu-q35-virtio.modalias
# The guest runs a busybox initramfs that prints every device's modalias on the
# serial console (TCG, no KVM needed).  The drivers are modules, not loaded, so
# devices behind a virtio bus are added from the virtio device ids by hand.
set -eu
vmlinuz=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/bin" "$work/root/proc" "$work/root/sys"
cp /usr/bin/busybox "$work/root/bin/busybox"
cat > "$work/root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
echo MODALIAS-BEGIN
for f in /sys/bus/*/devices/*/modalias; do
  d=$(/bin/busybox readlink -f "${f%/modalias}")
  echo "$d $(/bin/busybox cat "$f")"
done
echo MODALIAS-END
/bin/busybox poweroff -f
INIT
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet) > "$work/initrd"
qemu-system-x86_64 -machine q35 -accel tcg -m 512 -nographic -no-reboot \
  -kernel "$vmlinuz" -initrd "$work/initrd" -append "console=ttyS0 quiet panic=-1" \
  -device virtio-net-pci,netdev=n0 -netdev user,id=n0 \
  -drive if=none,id=d0,file="$work/initrd",format=raw,readonly=on \
  -device virtio-blk-pci,drive=d0 -device virtio-rng-pci -device virtio-balloon-pci \
  -device virtio-serial-pci -device virtio-gpu-pci -device virtio-scsi-pci \
  -device virtio-keyboard-pci -device virtio-mouse-pci \
  > "$work/console" 2>&1 || true
echo "# QEMU q35 guest (-accel tcg), virtio net/blk/rng/balloon/serial/gpu/scsi/input"
sed -n '/MODALIAS-BEGIN/,/MODALIAS-END/p' "$work/console" | tr -d '\r' | grep '^/sys' \
  > "$work/list"
cat "$work/list"
# What virtio_pci would add: a virtio device under each virtio PCI function.
# Transitional ids 0x1000-0x103f carry the virtio id as PCI subsystem id;
# modern ids are 0x1040 + the virtio id.
n=0
grep ' pci:v00001AF4d0000' "$work/list" | while read -r path alias; do
  dev=$((0x$(echo "$alias" | cut -c19-22))); sub=$((0x$(echo "$alias" | cut -c39-42)))
  if [ "$dev" -ge $((0x1040)) ]; then id=$((dev - 0x1040)); else id=$sub; fi
  printf '%s/virtio%d virtio:d%08Xv00001AF4\n' "$path" "$n" "$id"
  n=$((n + 1))
done

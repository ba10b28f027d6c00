#!/bin/sh
# Install the 90moss dracut module, with the pivot agent beside it, for a
# distribution package or a test:  dracut-module/install.sh [DESTDIR]
#   -> $DESTDIR/usr/lib/dracut/modules.d/90moss/{module-setup.sh,pivot.py,...}
# The agent is initrd/pivot.py (the entry point), its modules initrd/moss_pivot.py,
# initrd/pivot_record.py, initrd/pivot_sysroot.py and initrd/pivot_readonly.py, and the on-disk contract it
# shares with moss, moss/core/ondisk.py, installed flat beside them as ondisk.py.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
destdir=${1:-${DESTDIR:-}}
moddir="$destdir/usr/lib/dracut/modules.d/90moss"

install -d -m 0755 "$moddir"
install -m 0755 "$here/90moss/module-setup.sh" "$moddir/module-setup.sh"
install -m 0755 "$here/90moss/moss-pivot.sh" "$moddir/moss-pivot.sh"
install -m 0644 "$here/90moss/moss-pivot.service" "$moddir/moss-pivot.service"
for file in pivot.py moss_pivot.py pivot_record.py pivot_sysroot.py pivot_readonly.py; do
    install -m 0644 "$here/../initrd/$file" "$moddir/$file"
done
install -m 0644 "$here/../moss/core/ondisk.py" "$moddir/ondisk.py"
echo "installed the moss dracut module to $moddir"

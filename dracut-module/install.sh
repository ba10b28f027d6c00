#!/bin/sh
# Install the 90moss dracut module, with the pivot agent beside it, for a
# distribution package or a test:  dracut-module/install.sh [DESTDIR]
#   -> $DESTDIR/usr/lib/dracut/modules.d/90moss/{module-setup.sh,pivot.py,...}
set -eu
here=$(cd "$(dirname "$0")" && pwd)
destdir=${1:-${DESTDIR:-}}
moddir="$destdir/usr/lib/dracut/modules.d/90moss"

install -d -m 0755 "$moddir"
install -m 0755 "$here/90moss/module-setup.sh" "$moddir/module-setup.sh"
install -m 0755 "$here/90moss/moss-pivot.sh" "$moddir/moss-pivot.sh"
install -m 0644 "$here/90moss/moss-pivot.service" "$moddir/moss-pivot.service"
install -m 0644 "$here/../initrd/pivot.py" "$moddir/pivot.py"
install -m 0644 "$here/../initrd/moss_pivot.py" "$moddir/moss_pivot.py"
echo "installed the moss dracut module to $moddir"

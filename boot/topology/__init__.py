"""The block devices under the root, and what the kernel command line must say to reach it.

``probe`` reads the live system (mountinfo, ``/dev/disk/by-*``, ``blkid``,
the usual ESP mount points); ``rootstack`` walks from the root's mount down
through LUKS, LVM and btrfs subvolumes to the ``root=``, ``rd.luks.*``,
``rd.lvm.*`` and ``rootflags=`` words an entry needs.  Kept apart because it is
the one place that reads sysfs and device-mapper names, and its tests feed it
captured layouts instead of a machine.
"""

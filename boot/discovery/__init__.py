"""Which ESP and XBOOTLDR the boot loader uses, and its EFI variables.

``partitions`` picks, on a live system, the ESP the firmware started
systemd-boot from (its ``LoaderDevicePartUUID``), else one on the root's disk,
and the XBOOTLDR beside it; an image under ``-D`` is described by its
``boot.conf`` instead.  ``efivars`` reads and writes systemd-boot's variables,
in efivarfs or in a plain folder.
"""

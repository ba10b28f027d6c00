"""The entry writers: one module per boot backend, and what they write entries from.

``bls`` writes Boot Loader Specification type #1 entries, ``loader.conf`` and
systemd-boot in crash-safe order; ``cbm`` stages kernels for clr-boot-manager
instead (``backend =`` in ``boot.conf`` picks one).  ``entrytemplates`` renders
entries from the Jinja templates in ``boot/templates/``; ``initramfs`` checks,
before an entry is written, that its initramfs can mount the root.  A new
backend goes here, beside ``bls`` and ``cbm``.
"""

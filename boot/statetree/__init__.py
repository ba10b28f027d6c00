"""What a root's and a state's trees hold for booting, each file read inside its tree.

A state's ``/usr`` comes from packages, so nothing in it is trusted: every path
is resolved with the tree as ``/`` (:mod:`boot.statetree.inroot`).  On that
rests finding the kernels a state ships (``kernels``), the name its os-release
gives the OS (``identity``) and the command-line snippets of the root and the
state (``cmdline``).  The lowest room of ``boot/``: it reads files and knows
nothing of disks, $BOOT or entries.
"""

"""How a file reaches $BOOT: whole or not at all, once, and never through a link.

``esp`` writes (temp file, fsync, rename; space checked before the first byte;
no write through a symlink in ``EFI/`` or ``loader/``), ``filehash`` compares by
BLAKE3 digest so that an unchanged file is never rewritten and a kernel is hashed
once.  Apart because the crash safety of every writer above rests on these few
functions.
"""

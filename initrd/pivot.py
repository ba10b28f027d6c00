"""Entry point of the moss pivot agent (the code is in ``moss_pivot.py`` beside it).

    python3 -I -S pivot.py [--sysroot DIR] [--cmdline STRING] [--run-dir DIR] [--kmsg PATH]

This stub stays tiny because Python compiles a script from source on every run,
while an imported module comes from its cached (or, in the initramfs,
precompiled) bytecode.  ``-I`` leaves the script's directory off ``sys.path``,
so the stub puts it there itself.

The agent's modules import the shared on-disk contract as ``ondisk``.  In the
initramfs the dracut module installs ``ondisk.py`` beside this file; in a source
tree it is ``moss/core/ondisk.py``, whose folder is appended to ``sys.path``
(after the standard library, so nothing else in it can shadow a standard
module).  Only the contract is imported from there: never ``moss/__init__.py``.
"""

import time

_START = time.perf_counter()

import os  # noqa: E402  (the clock starts before anything else)
import sys  # noqa: E402

_HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, _HERE)
if not os.path.exists(os.path.join(_HERE, "ondisk.py")):  # a source tree, not the initramfs
    sys.path.append(os.path.join(os.path.dirname(_HERE), "moss", "core"))

from moss_pivot import main  # type: ignore[import-not-found]  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], _START))

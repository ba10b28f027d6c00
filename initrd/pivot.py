"""Entry point of the moss pivot agent (the code is in ``moss_pivot.py`` beside it).

    python3 -I -S pivot.py [--sysroot DIR] [--cmdline STRING] [--run-dir DIR] [--kmsg PATH]

This stub stays tiny because Python compiles a script from source on every run,
while an imported module comes from its cached (or, in the initramfs,
precompiled) bytecode.  ``-I`` leaves the script's directory off ``sys.path``,
so the stub puts it there itself, and in a source tree the folder of the
contract ``ondisk`` too (see ``moss/core/ondisk.py``).
"""

import time

_START = time.perf_counter()

import os  # noqa: E402  (the clock starts before anything else)
import sys  # noqa: E402

_HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, _HERE)
if not os.path.exists(_HERE + "/ondisk.py"):  # a source tree: after the stdlib, never before
    sys.path.append(os.path.dirname(_HERE) + "/moss/core")

from moss_pivot import main  # type: ignore[import-not-found]  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], _START))

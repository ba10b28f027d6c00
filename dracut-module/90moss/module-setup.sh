#!/bin/bash
# 90moss: puts moss's pivot agent into the initramfs and runs it after the real root
# is mounted at /sysroot and before switch-root, so the state named by moss.fstx=
# on the kernel command line becomes the live /usr (see initrd/pivot.py).
#
# Only the interpreter, the few standard-library files the agent imports and libffi
# (for ctypes) are installed: the whole stdlib would add tens of megabytes.

# The modules pivot.py imports, installed beside it in /usr/lib/moss: the agent's own and
# ondisk, the on-disk contract the agent shares with moss (moss/core/ondisk.py).
_moss_agent_modules="moss_pivot pivot_record pivot_sysroot pivot_readonly ondisk"

# The interpreter the image runs.  The distribution's python3, not one found first on
# a developer's PATH (pyenv shims are scripts).
_moss_python() {
    local py
    for py in /usr/bin/python3 /bin/python3; do
        if [[ -x $py ]]; then
            echo "$py"
            return 0
        fi
    done
    py=$(command -v python3) || return 1
    echo "$py"
}

# Files of every module the agent can import, asked of that same interpreter so the
# paths (/usr/lib/python3.X, lib-dynload, the .so suffix) are right for it.  Modules
# frozen into the interpreter need no file, except os.py: Python finds its prefix
# by it.  The agent's imports (its own and ondisk's) are os, sys, stat, time (frozen or
# built in) and ctypes (lazily); encodings.* are what the interpreter itself loads at start.
_moss_stdlib_files() {
    "$1" -I -S -c '
import os, sys
for name in sys.argv[1:]:
    __import__(name)
files = {os.__file__}
for module in list(sys.modules.values()):
    spec = getattr(module, "__spec__", None)
    origin = getattr(spec, "origin", None)
    if origin and origin.startswith("/"):
        files.add(origin)
from importlib.util import cache_from_source  # only now: it imports more modules
# The compiled bytecode the distribution ships, too: without it every cold start in the
# initramfs compiles these files again.
for source in list(files):
    if source.endswith(".py") and os.path.exists(cache_from_source(source)):
        files.add(cache_from_source(source))
print("\n".join(sorted(files)))
' ctypes encodings.utf_8 encodings.ascii encodings.latin_1
}

# called by dracut
check() {
    _moss_python > /dev/null || return 1
    return 0
}

# called by dracut
depends() {
    return 0
}

# called by dracut
install() {
    local py files
    py=$(_moss_python) || return 1
    files=$(_moss_stdlib_files "$py") || {
        derror "90moss: $py cannot list the modules the moss pivot agent needs"
        return 1
    }
    inst_binary "$py" /usr/bin/python3
    # shellcheck disable=SC2086
    inst_multiple $files
    # _ctypes links libffi, but dracut does not follow libraries of a non-executable .so.
    inst_libdir_file "libffi.so*"
    inst_simple "$moddir/pivot.py" /usr/lib/moss/pivot.py
    local module
    for module in $_moss_agent_modules; do
        inst_simple "$moddir/$module.py" "/usr/lib/moss/$module.py"
    done
    # Precompiled, so the first (cold, maybe emulated) run does not compile the agent.
    # shellcheck disable=SC2086
    "$py" -I -S -c '
import py_compile, sys
from importlib.util import cache_from_source
moddir, initdir = sys.argv[1:3]
for module in sys.argv[3:]:
    target = f"/usr/lib/moss/{module}.py"
    py_compile.compile(f"{moddir}/{module}.py", cfile=initdir + cache_from_source(target),
                       dfile=target, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
' "$moddir" "$initdir" $_moss_agent_modules || {
        derror "90moss: cannot compile the moss pivot agent"
        return 1
    }

    if dracut_module_included "systemd"; then
        inst_simple "$moddir/moss-pivot.service" "$systemdsystemunitdir/moss-pivot.service"
        $SYSTEMCTL -q --root "$initdir" add-wants initrd-root-fs.target moss-pivot.service
    else
        inst_hook pre-pivot 50 "$moddir/moss-pivot.sh"
    fi
}

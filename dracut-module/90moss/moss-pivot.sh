#!/bin/sh
# dracut pre-pivot hook (sourced by dracut's init, non-systemd images): run moss's
# pivot agent when the kernel command line carries moss.fstx.  The agent keeps the
# current /usr whenever it cannot honour the request; a failure of the agent itself
# is reported and ignored, so the machine boots on rather than dropping to a shell.

read -r _moss_cmdline < /proc/cmdline || _moss_cmdline=""
case " $_moss_cmdline " in
    *" moss.fstx "* | *" moss.fstx="* | *' "moss.fstx'*)
        /usr/bin/python3 -I -S /usr/lib/moss/pivot.py --sysroot "${NEWROOT:-/sysroot}"
        _moss_rc=$?
        if [ "$_moss_rc" -ne 0 ]; then
            echo "<3>moss-pivot: the agent exited with status $_moss_rc; booting on" > /dev/kmsg
        fi
        unset _moss_rc
        ;;
esac
unset _moss_cmdline

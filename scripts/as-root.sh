# Sourced by demo.sh and test.sh: run the calling script as root.  Root runs it as it
# is (a fresh machine or a container often has no sudo); anyone else goes through sudo.
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo -- "$0" "$@"
    fi
    echo "$(basename "$0"): needs root (apt packages, mounts, namespaces) and there is no sudo; run it as root" >&2
    exit 1
fi

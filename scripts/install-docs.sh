#!/usr/bin/env bash
# Man pages and shell completions, generated from moss's own parser, installed
# under PREFIX/share (default: .venv): man finds PREFIX/share/man when
# PREFIX/bin is on PATH; bash-completion, zsh and fish look in the places below.
# Usage: scripts/install-docs.sh [PREFIX [PYTHON]]
set -euo pipefail
PREFIX=${1:-.venv}
PYTHON=${2:-$PREFIX/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m moss --generate-manpages "$work/man"
"$PYTHON" -m moss --generate-completions "$work/completions"
mkdir -p "$PREFIX/share/man/man1"
install -m 644 "$work"/man/*.1 "$PREFIX/share/man/man1/"
install -D -m 644 "$work/completions/moss.bash" "$PREFIX/share/bash-completion/completions/moss"
install -D -m 644 "$work/completions/_moss" "$PREFIX/share/zsh/site-functions/_moss"
install -D -m 644 "$work/completions/moss.fish" "$PREFIX/share/fish/vendor_completions.d/moss.fish"

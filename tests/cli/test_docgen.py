"""Man pages and completions: generated from the parser, installed by scripts/setup.sh.

The pages must render with man(1) and cover every command and its flags; the bash
completion must, sourced in a real bash, complete commands, nested commands,
aliases and flags after global options (``moss -D /x repo a<TAB>``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def moss(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", *args], capture_output=True,
                          text=True, timeout=120, check=False, cwd=REPO)


def test_manpages_cover_every_command_and_render(tmp_path: Path) -> None:
    proc = moss("--generate-manpages", str(tmp_path / "man"))
    assert proc.returncode == 0, proc.stderr
    pages = {p.name for p in (tmp_path / "man").iterdir()}
    for page in ("moss.1", "moss-install.1", "moss-repo-add.1", "moss-state-query.1",
                 "moss-list-sync.1", "moss-fetch.1", "moss-version.1", "moss-search.1"):
        assert page in pages
    assert "moss-ar.1" not in pages  # an alias is a word in its command's page, not a page
    if shutil.which("man") is None:
        pytest.skip("man(1) is not installed")
    shown = subprocess.run(["man", "-l", str(tmp_path / "man/moss-search.1")],
                           capture_output=True, text=True, check=True,
                           env={**os.environ, "MANWIDTH": "100", "MANPAGER": "cat"}).stdout
    assert "moss-search" in shown and "--installed" in shown and "--provides" in shown
    top = subprocess.run(["man", "-l", str(tmp_path / "man/moss.1")], capture_output=True,
                         text=True, check=True,
                         env={**os.environ, "MANWIDTH": "100", "MANPAGER": "cat"}).stdout
    assert "--generate-completions" in top and "moss-repo(1)" in top


def complete(script: Path, line: str) -> list[str]:
    """What bash offers for ``line`` (the cursor at its end) with the generated script."""
    words = line.split(" ")
    program = (f"source {script}\nCOMP_WORDS=({' '.join(repr(w) for w in words)})\n"
               f"COMP_CWORD={len(words) - 1}\n_moss\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    out = subprocess.run(["bash", "-c", program], capture_output=True, text=True,
                         check=True).stdout
    return out.split()


def test_setup_installs_pages_and_completions_that_work(tmp_path: Path) -> None:
    prefix = tmp_path / "venv"
    subprocess.run([str(REPO / "scripts/install-docs.sh"), str(prefix), sys.executable],
                   check=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    share = prefix / "share"
    assert (share / "man/man1/moss-state-remove.1").is_file()
    for path in ("bash-completion/completions/moss", "zsh/site-functions/_moss",
                 "fish/vendor_completions.d/moss.fish"):
        assert (share / path).is_file(), path
    bash = share / "bash-completion/completions/moss"
    assert "repo" in complete(bash, "moss re")
    assert complete(bash, "moss -D /x repo a") == ["add", "ar"]
    assert set(complete(bash, "moss ar --p")) == {"--priority"}
    assert set(complete(bash, "moss li -")) >= {"-e", "--explicit", "-D", "--yes-all"}
    assert "--include-newer" in complete(bash, "moss state prune --")
    assert complete(bash, "moss list s") == ["sync"]
    zsh = (share / "zsh/site-functions/_moss").read_text()
    assert zsh.startswith("#compdef moss") and '"moss repo ar") echo "moss repo add"' in zsh
    fish = (share / "fish/vendor_completions.d/moss.fish").read_text()
    assert "-a 'install'" in fish and "-l upgrade-only" in fish
    for shell, script in (("zsh", share / "zsh/site-functions/_moss"),
                          ("fish", share / "fish/vendor_completions.d/moss.fish")):
        if shutil.which(shell):
            subprocess.run([shell, "-n", str(script)], check=True)

"""Triggers written in KDL, found where real moss looks: ``triggers/{tx,sys}.{yaml,kdl}``
and ``triggers/{tx,sys}.d/*.{yaml,kdl}``, a KDL file shadowing its YAML twin."""

from __future__ import annotations

from pathlib import Path

import pytest

from moss.cli import main
from moss.core.errors import MossError
from moss.triggers.collect import collect, walk_tree
from moss.triggers.definition import load_triggers
from tests.actions.test_install_triggers import shell_package
from tests.support.packages import make_package
from tests.triggers.test_triggers_format import DEPMOD_YAML
from tests.triggers.test_triggers_run import _REASON, BUSYBOX

# The depmod trigger as real moss's serde (kdl-rs, KDL v2) reads it: a list is a
# node's arguments, a mapping a node's children.
DEPMOD_KDL = """\
name depmod
description "Update kernel module dependencies"
handlers {
    depmod {
        run "/usr/sbin/depmod"
        args "-a" "$(version)"
    }
}
paths {
    "/usr/lib/modules/(version:*)/*" {
        handlers depmod
        type directory
    }
}
"""


def module_tree(root: Path) -> None:
    (root / "usr/lib/modules/6.6.15/kernel/fs").mkdir(parents=True)
    (root / "usr/lib/modules/6.6.15/modules.order").write_text("")


def commands(root: Path) -> list[str]:
    triggers = load_triggers(root / "usr/share/moss/triggers/tx.d")
    return [c.describe() for c in collect(triggers, walk_tree(root / "usr"))]


def test_kdl_trigger_runs_like_its_yaml_twin(tmp_path: Path) -> None:
    tx = tmp_path / "usr/share/moss/triggers/tx.d"
    tx.mkdir(parents=True)
    (tx / "depmod.kdl").write_text(DEPMOD_KDL)
    module_tree(tmp_path)
    assert commands(tmp_path) == ["/usr/sbin/depmod -a 6.6.15"]


def test_kdl_shadows_yaml_and_the_scope_file_is_read(tmp_path: Path) -> None:
    tx = tmp_path / "usr/share/moss/triggers/tx.d"
    tx.mkdir(parents=True)
    (tx / "depmod.yaml").write_text(DEPMOD_YAML.replace("/usr/sbin/depmod", "/usr/bin/old"))
    (tx / "depmod.kdl").write_text(DEPMOD_KDL)
    # triggers/tx.kdl, beside tx.d: real moss's config crate reads it too.
    (tx.parent / "tx.kdl").write_text(DEPMOD_KDL.replace("name depmod", "name other")
                                      .replace("/usr/sbin/depmod", "/usr/bin/other"))
    module_tree(tmp_path)
    assert sorted(commands(tmp_path)) == ["/usr/bin/other -a 6.6.15",
                                          "/usr/sbin/depmod -a 6.6.15"]


def test_broken_kdl_trigger_names_its_file(tmp_path: Path) -> None:
    tx = tmp_path / "usr/share/moss/triggers/tx.d"
    tx.mkdir(parents=True)
    (tx / "bad.kdl").write_text("name bad\nhandlers {\n")
    with pytest.raises(MossError, match=r"bad\.kdl"):
        load_triggers(tx)


@pytest.mark.skipif(_REASON is not None, reason=_REASON or "")
def test_kdl_transaction_trigger_runs_in_a_real_install(tmp_path: Path) -> None:
    stamp = """\
name stamp
description "writes a stamp"
handlers {
    run {
        run "/usr/bin/sh"
        args "-c" "echo built > /usr/share/stamp"
    }
}
paths {
    "/usr/share/marker/*" {
        handlers run
    }
}
"""
    pkg = make_package(tmp_path, "stamp", {
        "bin/busybox": BUSYBOX.read_bytes(),
        "share/moss/triggers/tx.d/stamp.kdl": stamp,
        "share/marker/stamp": "x",
    })
    root = tmp_path / "root"
    assert main(["-D", str(root), "-y", "--quiet", "install",
                 str(shell_package(tmp_path)), str(pkg)]) == 0
    assert (root / "usr/share/stamp").read_text() == "built\n"

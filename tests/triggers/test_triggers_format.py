"""Trigger definitions, patterns, ordering and de-duplication (no processes run)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from moss.core.errors import MossError
from moss.triggers.collect import collect, walk_tree
from moss.triggers.definition import load_triggers, parse_trigger
from moss.triggers.pattern import compile_pattern

# A faithful copy of the depmod trigger in Serpent OS's packaging documentation
# (serpent-os/docs, docs/packaging/triggers/tx_triggers.md).
DEPMOD_YAML = """\
name: depmod
description: |
    Update kernel module dependencies

# Define all of our handlers
handlers:
    depmod:
        # Run `depmod` with these arguments
        run: /usr/sbin/depmod
        args: ["-a", "$(version)"]

paths:
    # Set up a match
    "/usr/lib/modules/(version:*)/*" :
        # Run these handlers for this match.
        handlers:
            - depmod
        type: directory
"""


def trigger(name: str, pattern: str, *, args: list[str], **extra: str) -> str:
    body = {
        "name": name,
        "description": name,
        "handlers": {"h": {"run": "/usr/bin/true", "args": args}},
        "paths": {pattern: {"handlers": ["h"]}},
        **extra,
    }
    return yaml.safe_dump(body)


def test_pattern_syntax_matches_real_moss() -> None:
    pattern = compile_pattern("/usr/lib/modules/(version:*)/*")
    assert pattern.match("/usr/lib/modules/6.2.6/modules.symbols") == {"version": "6.2.6"}
    # `*` stays within one path component.
    assert pattern.match("/usr/lib/modules/6.6.67-51.kvm/kernel/net/nft_hash.ko.zst") is None
    assert compile_pattern("/usr/lib/lib?.so").match("/usr/lib/libz.so") == {}
    assert compile_pattern("/usr/lib/lib?.so").match("/usr/lib/libzz.so") is None
    # Dots and other regex characters are literal.
    assert compile_pattern("/usr/a.b").match("/usr/axb") is None
    with pytest.raises(MossError, match="malformed capture"):
        compile_pattern("/usr/(broken")


def test_real_depmod_trigger_matches_module_directories(tmp_path: Path) -> None:
    tx = tmp_path / "usr/share/moss/triggers/tx.d"
    tx.mkdir(parents=True)
    (tx / "depmod.yaml").write_text(DEPMOD_YAML)
    (tmp_path / "usr/lib/modules/6.6.15/kernel/fs").mkdir(parents=True)
    (tmp_path / "usr/lib/modules/6.6.15/modules.order").write_text("")
    (tmp_path / "usr/lib/modules/6.7.1/kernel").mkdir(parents=True)
    triggers = load_triggers(tx)
    assert [t.name for t in triggers] == ["depmod"]
    commands = collect(triggers, walk_tree(tmp_path / "usr"))
    # Only directories match (type: directory), and each kernel version runs once.
    assert [c.describe() for c in commands] == [
        "/usr/sbin/depmod -a 6.6.15",
        "/usr/sbin/depmod -a 6.7.1",
    ]


def test_identical_commands_run_once_across_triggers() -> None:
    a = parse_trigger(yaml.safe_load(trigger("a", "/usr/lib/*.so", args=["x"])), "a")
    b = parse_trigger(yaml.safe_load(trigger("b", "/usr/lib/*.a", args=["x"])), "b")
    paths = [("/usr/lib/libz.so", "file"), ("/usr/lib/libc.so", "file"), ("/usr/lib/l.a", "file")]
    commands = collect([a, b], paths)
    assert [(c.trigger, c.describe()) for c in commands] == [("a", "/usr/bin/true x")]


def test_before_and_after_order_triggers() -> None:
    defs = [
        trigger("zz-first", "/usr/x", args=["1"], before="mm-second"),
        trigger("mm-second", "/usr/x", args=["2"]),
        trigger("aa-last", "/usr/x", args=["3"], after="mm-second"),
    ]
    triggers = [parse_trigger(yaml.safe_load(d), "t") for d in defs]
    commands = collect(triggers, [("/usr/x", "file")])
    assert [c.trigger for c in commands] == ["zz-first", "mm-second", "aa-last"]


def test_cycle_and_bad_definitions_are_errors() -> None:
    defs = [
        trigger("a", "/usr/x", args=["1"], before="b"),
        trigger("b", "/usr/x", args=["2"], before="a"),
    ]
    triggers = [parse_trigger(yaml.safe_load(d), "t") for d in defs]
    with pytest.raises(MossError, match="cycle: a, b"):
        collect(triggers, [("/usr/x", "file")])
    with pytest.raises(MossError, match="unknown handler 'nope'"):
        parse_trigger({"name": "t", "handlers": {}, "paths": {"/x": {"handlers": ["nope"]}}}, "t")
    with pytest.raises(MossError, match="needs a 'name'"):
        parse_trigger({"handlers": {}}, "t")

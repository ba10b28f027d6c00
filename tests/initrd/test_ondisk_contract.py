"""The on-disk contract (moss/core/ondisk.py): standard library only, and one rule for both sides.

moss reads state ids with ``moss.core.root.read_state_id``; the agent reads them
the way the initramfs runs it (``python3 -I -S initrd/pivot.py``, the contract
imported flat as ``ondisk``).  Both must say the same of every odd input.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from moss.core import ondisk
from moss.core.root import read_state_id
from tests.support.pivot import AGENT, PROJECT, run_agent
from tests.support.sysroot import make_sysroot

CONTRACT = PROJECT / "moss" / "core" / "ondisk.py"
AGENT_MODULES = {"moss_pivot", "pivot_record", "pivot_sysroot", "pivot_readonly"}

# (what .stateID or moss.fstx= holds, the id it is): the rule in ondisk's docstring.
ODD_IDS: list[tuple[str, bytes, int | None]] = [
    ("plain", b"2", 2),
    ("superscript two", "²".encode(), None),  # str.isdigit() says yes, int() says no
    ("arabic-indic three", "٣".encode(), None),  # str.isdigit() and int() both say yes
    ("negative", b"-1", None),
    ("leading zero", b"01", 1),  # older copies of the rule read it; moss never writes it
    ("leading space", b" 2", 2),
    ("trailing newline", b"2\n", 2),  # existing .stateID files may end in one
    ("crlf and tab", b"\t2\r\n", 2),
    ("empty", b"", None),
    ("ten megabytes of digits", b"1" * 10_000_000, None),
    ("plus sign", b"+2", None),
    ("decimal point", b"2.0", None),
    ("no-break space", "\u00a02".encode(), None),  # not ASCII whitespace
    ("nul", b"2\x00", None),
    ("largest id", b"9223372036854775807", 2**63 - 1),
    ("one too large", b"9223372036854775808", None),
    ("twenty digits", b"00000000000000000002", None),
    ("zero", b"0", None),  # ids start at 1, as the state table's; generated, test_disk_agreement
    ("zeros", b"000\n", None),
]


def imports(tree: ast.AST) -> list[tuple[str, int]]:
    """Top-level module names imported anywhere under ``tree``, with their line."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, node.lineno))
    return found


def test_contract_imports_only_os_stat_sys_and_ctypes_lazily() -> None:
    module = ast.parse(CONTRACT.read_text())
    at_import_time = [name for stmt in module.body for name, _ in imports(stmt)
                      if not isinstance(stmt, ast.FunctionDef)]
    in_functions = [name for stmt in module.body if isinstance(stmt, ast.FunctionDef)
                    for name, _ in imports(stmt)]
    assert sorted(at_import_time) == ["os", "stat", "sys"]
    assert set(in_functions) <= {"ctypes"}


def test_agent_imports_only_the_stdlib_its_own_modules_and_the_contract() -> None:
    allowed = {*AGENT_MODULES, "ondisk", "initrd", "moss.core", "moss.core.ondisk",
               *(f"initrd.{name}" for name in AGENT_MODULES)}
    wrong = []
    for path in sorted((PROJECT / "initrd").glob("*.py")):
        for name, line in imports(ast.parse(path.read_text())):
            if name.split(".")[0] not in sys.stdlib_module_names and name not in allowed:
                wrong.append(f"{path.name}:{line} imports {name}")
            if name == "moss.core":  # only ``from moss.core import ondisk``
                assert "import ondisk" in path.read_text().splitlines()[line - 1], path
    assert not wrong, "\n".join(wrong)


DRIVER = """
import sys
before = set(sys.modules)
path = sys.argv[1]
sys.argv = sys.argv[1:]
try:
    exec(compile(open(path).read(), path, "exec"), {"__name__": "__main__", "__file__": path})
except SystemExit:
    pass
print(" ".join(sorted(set(sys.modules) - before)))
print(sys.modules["ondisk"].__file__)
"""


@pytest.mark.parametrize("cmdline", ["quiet", "moss.fstx=3"])
def test_agent_loads_only_the_stdlib_itself_and_the_contract(tmp_path: Path, cmdline: str) -> None:
    """Run as the initramfs runs it; ctypes only when a syscall is made, never moss's package."""
    root = make_sysroot(tmp_path / "sysroot", active=1, archived=(2, 3))
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", DRIVER, str(AGENT), "--sysroot", str(root),
         "--cmdline", cmdline, "--run-dir", str(tmp_path / "run"), "--kmsg", str(tmp_path / "k")],
        capture_output=True, text=True, check=True,
    )
    loaded, contract_file = proc.stdout.splitlines()
    ours = {m for m in loaded.split() if m.split(".")[0] not in sys.stdlib_module_names}
    assert ours == {*AGENT_MODULES, "ondisk"}
    assert Path(contract_file) == CONTRACT
    assert ("ctypes" in loaded.split()) == (cmdline != "quiet")


@pytest.mark.parametrize(("name", "content", "expected"), ODD_IDS, ids=[c[0] for c in ODD_IDS])
def test_moss_and_the_agent_read_the_same_state_id(
    tmp_path: Path, name: str, content: bytes, expected: int | None
) -> None:
    root = make_sysroot(tmp_path / "sysroot", active=1, archived=(2,))
    (root / "usr" / ".stateID").write_bytes(content)

    agent = run_agent(root, "quiet", tmp_path)

    assert agent.returncode == 0, agent.stderr
    assert agent.record is not None
    assert read_state_id(root / "usr") == expected
    assert agent.record["active"] == expected


ODD_FSTX = [case for case in ODD_IDS if b"\x00" not in case[1]]  # no NUL on a command line


@pytest.mark.parametrize(("name", "content", "expected"), ODD_FSTX, ids=[c[0] for c in ODD_FSTX])
def test_moss_fstx_values_follow_the_same_rule(
    tmp_path: Path, name: str, content: bytes, expected: int | None
) -> None:
    value = content.decode()[:100_000]  # one argument may not exceed 128 KiB: still too long
    root = make_sysroot(tmp_path / "sysroot", active=1, archived=(2,))

    agent = run_agent(root, f'quiet "moss.fstx={value}"', tmp_path)

    assert agent.record is not None
    assert ondisk.parse_state_id(value) == expected
    assert agent.record["requested"] == expected
    results = {1: "already-active", 2: "activated"}
    assert agent.record["result"] == results.get(expected, "kept-current")  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "content", "expected"), ODD_IDS, ids=[c[0] for c in ODD_IDS])
def test_a_slot_is_named_by_the_id_exactly_as_moss_writes_it(
    name: str, content: bytes, expected: int | None
) -> None:
    text = content.decode()
    slot = ondisk.slot_state_id(text)
    assert slot == (expected if expected is not None and text == str(expected) else None)

"""The CLI's table of compiled dataclass methods (`railguard._dataclass_code`): classes made through
it behave exactly as `dataclasses` makes them, a second process compiles none of their methods, and
a damaged table is ignored. Each case runs in a fresh process: installing replaces what
`dataclasses` calls for the rest of the process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# A frozen, slotted class with defaults and a factory, as the engine's model writes them; the probe
# prints what the generated methods do, and how many of their texts it compiled.
PROBE = """
import dataclasses, json, sys
if sys.argv[1] == "table":
    from railguard._dataclass_code import install
    install("probe")
from dataclasses import dataclass, field, FrozenInstanceError

@dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int = 2
    tags: tuple[str, ...] = field(default_factory=tuple)

p = Point(1)
try:
    p.x = 5
    frozen = False
except FrozenInstanceError:
    frozen = True
print(json.dumps({
    "repr": repr(p), "eq": p == Point(1, 2, ()), "ne": p != Point(1, 3), "hash": hash(p) == hash(Point(1)),
    "frozen": frozen, "init_annotations": repr(Point.__init__.__annotations__),
    "qualname": Point.__init__.__qualname__,
    # methods compiled in this process (through the table; None: no table)
    "compiled": dataclasses.exec.__self__.added if "exec" in vars(dataclasses) else None,
}))
"""


def run_probe(mode: str, cache: Path) -> dict[str, object]:
    env = {**os.environ, "RAILGUARD_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    return dict(json.loads(done.stdout.splitlines()[-1]))


def tables(cache: Path) -> list[Path]:
    return sorted((cache / "parsed").glob("dataclass-code-probe-*.marshal"))


def test_classes_made_through_the_table_behave_as_dataclasses_makes_them(tmp_path: Path) -> None:
    plain = run_probe("plain", tmp_path)
    first = run_probe("table", tmp_path)  # compiles and writes the table
    assert len(tables(tmp_path)) == 1
    second = run_probe("table", tmp_path)  # reads it: nothing to compile
    assert plain["compiled"] is None
    assert first["compiled"] and second["compiled"] == 0
    for result in (first, second):
        assert {k: v for k, v in result.items() if k != "compiled"} == {
            k: v for k, v in plain.items() if k != "compiled"
        }
    assert "'return': None" in str(plain["init_annotations"])  # objects, not `from __future__` strings


def test_a_damaged_table_is_compiled_afresh_and_rewritten(tmp_path: Path) -> None:
    run_probe("table", tmp_path)
    [table] = tables(tmp_path)
    table.write_bytes(b"\x00not marshal")
    result = run_probe("table", tmp_path)
    assert result["compiled"] and result["eq"] and result["frozen"]
    assert run_probe("table", tmp_path)["compiled"] == 0


def test_no_table_when_the_cache_is_off() -> None:
    env = {**os.environ, "RAILGUARD_CACHE_DIR": ""}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "table"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["compiled"] is None and result["eq"]  # left to `dataclasses` as it is


def test_the_command_line_keeps_a_table_per_command_and_decides_the_same(tmp_path: Path) -> None:
    env = {**os.environ, "RAILGUARD_CACHE_DIR": str(tmp_path)}
    action = json.dumps({"tool": "Bash", "args": {"command": "rm -rf /"}}) + "\n"
    argv = [sys.executable, "-m", "railguard.cli", "check", "--json"]
    runs = [
        subprocess.run(argv, input=action, capture_output=True, text=True, env=env, timeout=120) for _ in "12"
    ]
    assert [r.returncode for r in runs] == [0, 0]
    decisions = [json.loads(r.stdout.splitlines()[0]) for r in runs]
    assert decisions[0]["verdict"] == "block"
    assert [{k: v for k, v in d.items() if k != "latency_us"} for d in decisions] == [
        {k: v for k, v in decisions[0].items() if k != "latency_us"}
    ] * 2
    assert len(list((tmp_path / "parsed").glob("dataclass-code-check-*.marshal"))) == 1

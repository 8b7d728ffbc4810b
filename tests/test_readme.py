"""The docs test: the README's shell blocks, run in order, verbatim, in a fresh empty folder, with the
installed `railguard` first on PATH (what `make demo` / `pip install -e '.[server,mcp]'` gives a
newcomer). A block may be skipped only with `<!-- docs-test: skip (why) -->` right above it, for a
command that cannot run here (it needs the checkout itself, a server, or the network); the reason is
required and the skips are few."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```(sh|bash|shell)\n(.*?)^```", re.MULTILINE | re.DOTALL)
SKIP = re.compile(r"<!-- docs-test: skip \((?P<why>[^)]+)\) -->\s*$")
MAX_SKIPS = 2
BLOCK_TIMEOUT_S = 600


@dataclass(frozen=True)
class Block:
    line: int
    code: str
    skip_reason: str | None


def shell_blocks(text: str) -> list[Block]:
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.search(before)
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(Block(line, match.group(2), skip.group("why") if skip else None))
    return blocks


def test_the_readme_has_shell_blocks_and_few_skips() -> None:
    blocks = shell_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 4
    skipped = [b for b in blocks if b.skip_reason]
    assert len(skipped) <= MAX_SKIPS, [b.line for b in skipped]
    assert all(len(b.skip_reason or "") > 10 for b in skipped)  # a real reason, not a shrug


@pytest.mark.slow
def test_the_readme_shell_blocks_run_in_order_in_an_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "newcomer"
    folder.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAILGUARD_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(tmp_path),  # `install claude-code --user` and friends stay inside the test
        COLUMNS="80",
    )
    ran = 0
    for block in shell_blocks(README.read_text(encoding="utf-8")):
        if block.skip_reason:
            continue
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block.code],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT_S,
        )
        assert result.returncode == 0, (
            f"README.md:{block.line}: the block failed (exit {result.returncode})\n"
            f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
        )
        ran += 1
    assert ran >= 4
    # What the blocks left behind is what the README says they do.
    assert (folder / ".railguard" / "railguard.db").is_file()
    assert (folder / "decisions.db").is_file() and (folder / "run.json").stat().st_size > 0


def test_every_cel_function_railguard_adds_is_listed() -> None:
    from railguard.policy._cel import RAILGUARD_FUNCTIONS

    text = README.read_text(encoding="utf-8")
    assert [name for name in RAILGUARD_FUNCTIONS if f"`{name}(" not in text] == []


def test_the_claude_code_doc_shows_the_command_the_installer_writes(tmp_path: Path) -> None:
    import shlex

    from railguard.integrations._claude_code_install import hook_commands

    doc = (README.parent / "docs" / "integrations" / "claude-code.md").read_text(encoding="utf-8")
    pre = shlex.split(hook_commands(packs=["coding-agent"])["PreToolUse"].removesuffix(" || exit 2"))
    assert pre[1] == "-S" and pre[2].endswith("/railguard/integrations/_hook_client.py")
    shown = f"-S /path/to/site-packages/railguard/integrations/_hook_client.py {' '.join(pre[3:])} || exit 2"
    assert shown in doc  # the interpreter and the client as installed, paths shortened

"""What a fresh process loads: `import railguard` and a check of one everyday command stay clear of
the heavy modules (they load when a command or a fact needs them), and the CEL evaluator comes
without the `cel` package's command line. Checked in a subprocess's sys.modules."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["cel.cli", "prompt_toolkit", "typer", "sqlglot", "sqlalchemy", "fastapi", "opentelemetry.sdk"]


def loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(__import__('json').dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=120, check=True)
    return list(json.loads(done.stdout.splitlines()[-1]))


def test_import_railguard_loads_no_heavy_module() -> None:
    assert loaded_after("import railguard") == []


def test_a_git_status_check_in_process_loads_no_heavy_module() -> None:
    code = (
        "import railguard as rg\n"
        "decision = rg.Engine(packs=['default'], warm=False).check(rg.Action('Bash', {'command': 'git status'}))\n"
        "assert decision.verdict is rg.Verdict.ALLOW, decision\n"
    )
    assert loaded_after(code) == []


def test_the_cel_evaluator_works_without_its_cli_and_the_cli_still_imports() -> None:
    code = (
        "import railguard, cel\n"
        "assert cel.evaluate('1 + 2') == 3\n"
        "assert 'cel.cli' not in sys.modules\n"
        "import cel.cli\n"
    )
    assert "cel.cli" in loaded_after(code)

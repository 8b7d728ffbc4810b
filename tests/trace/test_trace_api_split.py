"""Tracing is split like OpenTelemetry's API and SDK: what the engine and the integrations need to
create spans and record decisions loads neither the OpenTelemetry SDK, nor SQLAlchemy, nor the store;
and the modules that trace model calls do not import each other in a circle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import railguard

API_USERS = (
    "railguard",
    "railguard.trace",
    "railguard._guard",
    "railguard.integrations.generic",
    "railguard.integrations._toolcalls",
    "railguard.integrations.claude_code",
    "railguard.integrations.mcp_proxy",
)
SDK_PREFIXES = ("sqlalchemy", "opentelemetry.sdk", "railguard.store")


def test_the_span_api_loads_without_the_sdk_or_the_store() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {API_USERS!r}: importlib.import_module(name)\n"
        "import railguard.trace as t\n"
        "with t.tool_call('x'): pass\n"  # tracing off: a no-op span, still no SDK
        "assert t.active_tracing() is None\n"
        f"print(sorted(m for m in sys.modules if m.startswith({SDK_PREFIXES!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_sdk_half_loads_on_first_use() -> None:
    code = (
        "import sys, railguard.trace as t\n"
        "assert 'opentelemetry.sdk.trace' not in sys.modules\n"
        "assert t.configure_tracing is t._setup.configure_tracing\n"
        "print('opentelemetry.sdk.trace' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def _runtime_imports(module: str) -> set[str]:
    """Railguard modules `module` imports when it runs (in functions too; not under TYPE_CHECKING)."""
    path = Path(railguard.__file__).parent.joinpath(*module.split(".")[1:]).with_suffix(".py")
    tree = ast.parse(path.read_text())
    skipped = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for stmt in branch.body
        for node in ast.walk(stmt)
    }
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and id(node) not in skipped:
            found.add(node.module)
    return found


def test_no_import_cycle_between_the_model_call_modules() -> None:
    calls, streams, spans = (f"railguard.integrations._model_{m}" for m in ("calls", "streams", "spans"))
    assert streams in _runtime_imports(calls)
    assert calls not in _runtime_imports(streams)
    assert not {calls, streams} & _runtime_imports(spans)


def test_the_engine_reaches_the_guard_only_at_run_time_and_not_back() -> None:
    assert "railguard.engine" not in _runtime_imports("railguard._guard")

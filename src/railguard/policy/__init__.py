"""The policy language: YAML files of `list`, `macro` and `rule` items with CEL conditions.

load_policy(paths, packs)  ->  CompiledPolicy   (raises PolicyError with file:line and the fix)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

# First: `cel` as the evaluator alone, before any module here says `import cel` (see _celrt).
from railguard.policy import _celrt  # noqa: F401  # isort: skip
from railguard.policy._compile import CompiledPolicy, CompiledRule, ToolPlan
from railguard.policy._contracts import Contract, compile_contract, schema_of
from railguard.policy._loader import PolicySource, available_packs, load_source


def load_policy(
    paths: Sequence[str | Path] | str | Path | None = None,
    *,
    packs: list[str] | None = None,
    text: str | None = None,
) -> CompiledPolicy:
    """Load and compile policy files, built-in packs and/or inline YAML into one policy."""
    if isinstance(paths, str | Path):
        paths = [paths]
    return CompiledPolicy(load_source([str(p) for p in paths or []], packs, text))


__all__ = [
    "CompiledPolicy",
    "CompiledRule",
    "Contract",
    "PolicySource",
    "ToolPlan",
    "available_packs",
    "compile_contract",
    "load_policy",
    "load_source",
    "schema_of",
]

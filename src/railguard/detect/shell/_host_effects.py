"""Host effects kept as data (`host_effects.yaml`): accounts, capabilities, boot, namespaces, backups,
broker and graph stores, message sending, DNS, process memory, clocks — kinds of action that no vendor
verb describes, each judged by the program's flags and words. The table's format is documented at its
top; docs/shell.md lists the classes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from railguard.detect._budget import off_the_clock
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._view import CommandView, Ctx, classify_target, finding

_SUBCOMMAND = re.compile(r"^[A-Za-z][\w-]*$")
_VERDICTS = frozenset({"ask", "block"})
_OWN_ZONES = frozenset({"workspace", "scratch", "workspace_root", "scratch_root"})


@dataclass(frozen=True, slots=True)
class HostEffect:
    names: frozenset[str]
    rule: str
    category: str
    verdict: str
    why: str
    flags: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()
    sub: frozenset[str] = frozenset()
    regex: re.Pattern[str] | None = None
    min_operands: int = 0
    outside: bool = False
    unless: frozenset[str] = frozenset()
    examples: tuple[str, ...] = ()


def _strings(raw: Any, where: str) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ValueError(f"host_effects.yaml: {where} must be a list of strings")
    return frozenset(raw)


def parse_effects(data: dict[str, Any]) -> tuple[HostEffect, ...]:
    """Validate the table: a typo in the data fails loudly at load, not silently at check time."""
    out: list[HostEffect] = []
    known = set(HostEffect.__dataclass_fields__)
    for i, raw in enumerate(data.get("effects") or []):
        where = f"effects[{i}]"
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"host_effects.yaml: {where} has unknown keys {sorted(unknown)}")
        if raw.get("verdict") not in _VERDICTS:
            raise ValueError(f"host_effects.yaml: {where}.verdict must be ask or block")
        for key in ("rule", "category", "why"):
            if not isinstance(raw.get(key), str):
                raise ValueError(f"host_effects.yaml: {where}.{key} must be a string")
        out.append(
            HostEffect(
                names=_strings(raw.get("names"), f"{where}.names"),
                rule=raw["rule"],
                category=raw["category"],
                verdict=raw["verdict"],
                why=raw["why"],
                flags=_strings(raw.get("flags", []), f"{where}.flags"),
                words=_strings(raw.get("words", []), f"{where}.words"),
                sub=_strings(raw.get("sub", []), f"{where}.sub"),
                regex=re.compile(raw["regex"]) if raw.get("regex") else None,
                min_operands=int(raw.get("min_operands", 0)),
                outside=bool(raw.get("outside", False)),
                unless=_strings(raw.get("unless", []), f"{where}.unless"),
                # the file's order (a set's would differ between processes)
                examples=tuple(
                    sorted(_strings(raw.get("examples", []), f"{where}.examples"), key=raw["examples"].index)
                ),
            )
        )
    return tuple(out)


def read_effect_table(file: str, kind: str) -> tuple[tuple[HostEffect, ...], tuple[str, ...]]:
    """A host-effect table shipped in this package: its effects and its `allowed` examples."""
    from railguard._parsed_cache import package_yaml

    data = package_yaml("railguard.detect.shell", file, kind)
    return parse_effects(data), tuple(str(x) for x in data.get("allowed") or [])


@lru_cache(maxsize=1)
def _table() -> tuple[tuple[HostEffect, ...], tuple[str, ...]]:
    # Read on the first command that needs it, inside an evaluation: off the deadline's clock.
    return off_the_clock(lambda: read_effect_table("host_effects.yaml", "shell-host-effects"))


def host_effects() -> tuple[HostEffect, ...]:
    return _table()[0]


def index_by_name(effects: tuple[HostEffect, ...]) -> dict[str, tuple[HostEffect, ...]]:
    """Each program's effects in table order (the first that matches wins): a command looks up its
    own few instead of testing every entry of the table."""
    by_name: dict[str, list[HostEffect]] = {}
    for effect in effects:
        for name in effect.names:
            by_name.setdefault(name, []).append(effect)
    return {name: tuple(found) for name, found in by_name.items()}


@lru_cache(maxsize=1)
def _effects_by_name() -> dict[str, tuple[HostEffect, ...]]:
    return index_by_name(host_effects())


def allowed_examples() -> list[str]:
    return list(_table()[1])


def names() -> tuple[str, ...]:
    return tuple(sorted({n for effect in host_effects() for n in effect.names}))


def _subcommand(view: CommandView) -> str:
    return next((w.text for w in view.operands if _SUBCOMMAND.match(w.text)), "")


def _matches(effect: HostEffect, view: CommandView, ctx: Ctx) -> bool:
    operand_texts = [w.text for w in view.operands]
    if effect.unless and (view.has(*effect.unless) or effect.unless & set(operand_texts)):
        return False
    if effect.flags and not view.has(*effect.flags):
        return False
    if effect.words:
        pieces = {p for w in view.args for p in re.split(r"[,=]", w.text)}
        if not effect.words & pieces:
            return False
    if effect.sub and _subcommand(view) not in effect.sub:
        return False
    if effect.regex is not None and not effect.regex.search(" ".join(w.text for w in view.args)):
        return False
    if len(operand_texts) < effect.min_operands:
        return False
    return not effect.outside or bool(
        view.operands and classify_target(view.operands[0], ctx).zone not in _OWN_ZONES
    )


def first_match_findings(
    by_name: dict[str, tuple[HostEffect, ...]], view: CommandView, ctx: Ctx
) -> Iterator[ShellFinding]:
    """The finding of the program's first entry that matches (a table indexed by `index_by_name`)."""
    for effect in by_name.get(view.name, ()):
        if _matches(effect, view, ctx):
            severity = "critical" if effect.verdict == "block" else "high"
            yield finding(effect.category, effect.rule, effect.verdict, severity, f"{view.name} {effect.why}")
            return


def check_host_effects(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    yield from first_match_findings(_effects_by_name(), view, ctx)

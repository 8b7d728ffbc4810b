"""Find and redact secrets and personal data: in one string, in nested tool arguments, and as the
`secrets` fact that policy rules read. Output never contains a found value: each is replaced by
`[redacted:<kind>]`, and findings carry only kinds and positions."""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from railguard.detect.pii import PII_KINDS, PII_PRIORITY, PII_RULES
from railguard.detect.secrets import SECRET_KINDS, SECRET_PRIORITY
from railguard.detect.secrets._rules import SECRET_RULES
from railguard.detect.secrets._scanner import Scanner, resolve_overlaps
from railguard.model import Finding

__all__ = [
    "ALL_KINDS",
    "PII_KINDS",
    "SECRET_KINDS",
    "RedactionResult",
    "fact",
    "find_sensitive",
    "redact",
    "redact_value",
]

ALL_KINDS: frozenset[str] = SECRET_KINDS | PII_KINDS
_PRIORITY: dict[str, int] = {**PII_PRIORITY, **SECRET_PRIORITY}


@dataclass(frozen=True, slots=True)
class RedactionResult:
    """The redacted text and what was found; positions refer to the ORIGINAL text."""

    text: str
    findings: tuple[Finding, ...]

    def __repr__(self) -> str:
        kinds = ", ".join(f.kind for f in self.findings)
        return f"RedactionResult(len={len(self.text)}, findings=[{kinds}])"


def _normalise_kinds(kinds: Collection[str] | None) -> frozenset[str]:
    if kinds is None:
        return ALL_KINDS
    wanted = frozenset(kinds)
    unknown = wanted - ALL_KINDS
    if unknown:
        raise ValueError(f"unknown redaction kind(s) {sorted(unknown)}; known kinds: {sorted(ALL_KINDS)}")
    return wanted


@functools.lru_cache(maxsize=64)
def _scanner(kinds: frozenset[str]) -> Scanner | None:
    """One combined scanner per kind selection, so a scan is a single multi-pattern pass."""
    rules = [r for r in (*SECRET_RULES, *PII_RULES) if r.kind in kinds]
    return Scanner(rules, detector="redact") if rules else None


def find_sensitive(text: str, kinds: Collection[str] | None = None) -> list[Finding]:
    """Secrets and PII in `text` (all kinds, or only `kinds`): non-overlapping, sorted by start.
    Secrets win overlaps against PII (the password in `postgres://u:pw@host.com` is not an email)."""
    scanner = _scanner(_normalise_kinds(kinds))
    if scanner is None:
        return []
    return resolve_overlaps(scanner.candidates(text), _PRIORITY)


def _apply(text: str, findings: Iterable[Finding]) -> str:
    parts: list[str] = []
    cursor = 0
    for finding in findings:
        parts.append(text[cursor : finding.start])
        parts.append(f"[redacted:{finding.kind}]")
        cursor = finding.end
    parts.append(text[cursor:])
    return "".join(parts)


def redact(text: str, kinds: Collection[str] | None = None) -> RedactionResult:
    """`text` with each finding replaced by `[redacted:<kind>]`."""
    findings = find_sensitive(text, kinds)
    if not findings:
        return RedactionResult(text, ())
    return RedactionResult(_apply(text, findings), tuple(findings))


def _child_path(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    name = str(key)
    if name.isidentifier():
        return f"{path}.{name}"
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'{path}["{escaped}"]'


def redact_value(
    value: Any, kinds: Collection[str] | None = None, *, safe_keys: Collection[str] = ()
) -> tuple[Any, list[tuple[str, str]]]:
    """Redact every string inside dicts/lists/tuples (integers too: a card number may be an int).
    Returns the new value and `[(json_path, kind)]`, e.g. `("$.headers.Authorization", "generic_secret")`.
    Values under a key in `safe_keys` (at any depth) are left as they are; dict keys are never changed."""
    wanted = _normalise_kinds(kinds)
    hits: list[tuple[str, str]] = []
    safe = frozenset(safe_keys)
    return _redact_any(value, "$", wanted, safe, hits), hits


def _redact_any(
    value: Any, path: str, kinds: frozenset[str], safe: frozenset[str], hits: list[tuple[str, str]]
) -> Any:
    if isinstance(value, str):
        result = redact(value, kinds)
        hits.extend((path, f.kind) for f in result.findings)
        return result.text
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**6:
        result = redact(str(value), kinds)
        if not result.findings:
            return value
        hits.extend((path, f.kind) for f in result.findings)
        return result.text
    if isinstance(value, Mapping):
        return {
            key: item if key in safe else _redact_any(item, _child_path(path, key), kinds, safe, hits)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        items = [_redact_any(item, _child_path(path, i), kinds, safe, hits) for i, item in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    return value


def fact(text_values: Iterable[str]) -> dict[str, Any]:
    """The CEL fact policies read: `{"found", "kinds", "count", "secrets", "pii"}`. Kinds and counts
    only, never values."""
    kinds: set[str] = set()
    count = 0
    for text in text_values:
        findings = find_sensitive(text)
        count += len(findings)
        kinds.update(f.kind for f in findings)
    return {
        "found": count > 0,
        "kinds": sorted(kinds),
        "count": count,
        "secrets": bool(kinds & SECRET_KINDS),
        "pii": bool(kinds & PII_KINDS),
    }

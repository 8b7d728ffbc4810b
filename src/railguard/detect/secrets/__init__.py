"""Secrets in text: vendor tokens, private keys, credentials in URLs and DSNs, and high-entropy values
assigned to secret-like names. `find_secrets` is pure and fast enough for the guard's hot path."""

from __future__ import annotations

import functools

from railguard.detect.secrets._rules import SECRET_RULES
from railguard.detect.secrets._scanner import Scanner, resolve_overlaps
from railguard.model import Finding

__all__ = ["SECRET_KINDS", "find_secrets"]

SECRET_KINDS: frozenset[str] = frozenset(rule.kind for rule in SECRET_RULES)
SECRET_PRIORITY: dict[str, int] = {rule.kind: rule.priority for rule in SECRET_RULES}


@functools.cache
def _scanner() -> Scanner:
    return Scanner(SECRET_RULES, detector="secrets")


def find_secrets(text: str) -> list[Finding]:
    """Secrets in `text`: non-overlapping findings sorted by position (offsets into `text`)."""
    return resolve_overlaps(_scanner().candidates(text), SECRET_PRIORITY)

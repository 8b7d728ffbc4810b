"""Collecting every error of a policy instead of stopping at the first (`railguard policy validate`).

Loading normally raises the first `PolicyError`. Inside `collect_errors()`, the places that load one
item at a time (a tool declaration, a list/macro/rule item, a rule's compilation) record the item's
error and skip the item, so the rest of the file is still checked; the caller gets the list. Only the
items are skipped, so an error that stops the file as a whole (YAML syntax) still ends loading."""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from railguard.errors import PolicyError

if TYPE_CHECKING:
    from railguard.policy._compile import CompiledPolicy

MAX_ERRORS = 50

_errors: contextvars.ContextVar[list[PolicyError] | None] = contextvars.ContextVar(
    "railguard_policy_errors", default=None
)


@contextmanager
def collect_errors() -> Iterator[list[PolicyError]]:
    """Inside the block, item errors are appended to the yielded list (up to MAX_ERRORS) instead of
    raised; the error that finally stops loading, if any, is for the caller to append."""
    collected: list[PolicyError] = []
    token = _errors.set(collected)
    try:
        yield collected
    finally:
        _errors.reset(token)


def skip_item(error: PolicyError) -> None:
    """Record `error` and return (the caller skips the item) when collecting; raise it otherwise."""
    collected = _errors.get()
    if collected is None or len(collected) >= MAX_ERRORS:
        raise error
    collected.append(error)


def close_matches(word: str, possibilities: Iterable[str], n: int = 1) -> list[str]:
    """`difflib.get_close_matches`, for an error's "did you mean" (difflib loads only for one)."""
    import difflib

    return difflib.get_close_matches(word, possibilities, n=n)


def validate(
    paths: list[str] | None = None, packs: list[str] | None = None
) -> tuple[CompiledPolicy | None, list[PolicyError]]:
    """Load the policy collecting every error (file:line each, at most MAX_ERRORS + 1): the compiled
    policy when there was none, else None and the errors sorted by file and line."""
    from railguard.policy import load_policy

    with collect_errors() as errors:
        try:
            policy = load_policy(paths, packs=packs)
        except PolicyError as final:
            errors.append(final)
    errors.sort(key=lambda e: (e.file or "", e.line or 0))
    return (None if errors else policy), errors

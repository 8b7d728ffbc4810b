"""The digests start-up computes (cache keys, policy revisions, decision ids), from CPython's own
hash modules: importing `hashlib` loads OpenSSL, about 3 ms of a one-action `railguard check`. The
digests are the same bytes either way; `hashlib`'s are used where the built-in modules are absent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

blake2b: Callable[..., Any]
sha256: Callable[..., Any]

try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import blake2b

try:
    from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]  # Python 3.11
except ImportError:  # pragma: no cover - 3.12 renamed it
    try:
        from _sha2 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
    except ImportError:
        from hashlib import sha256

__all__ = ["blake2b", "sha256"]

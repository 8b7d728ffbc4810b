"""Optional parts need their extra installed; say which one instead of failing with an import error."""

from __future__ import annotations

import importlib.util

from railguard.errors import ConfigurationError


def require(extra: str, *modules: str) -> None:
    """Raise `ConfigurationError` naming the pip extra when any of `modules` is not installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigurationError(
            f"this needs {', '.join(missing)}, which is part of the '{extra}' extra: "
            f"pip install 'railguard[{extra}]'"
        )

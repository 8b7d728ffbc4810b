"""Optional parts need their extra installed; say which one instead of failing with an import error."""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path

from railguard.errors import ConfigurationError

# src/railguard/_extras.py -> the checkout's root, when Railguard runs from a source checkout.
_CHECKOUT = Path(__file__).resolve().parents[2]


def install_hint(extra: str, checkout: Path | None = _CHECKOUT) -> str:
    """The pip command that installs `extra` here: an editable install of the checkout when Railguard
    runs from one (the package is not on PyPI under that name for a clone), else the package."""
    if checkout is not None and (checkout / "pyproject.toml").is_file() and (checkout / "src").is_dir():
        return f"pip install -e {shlex.quote(f'{checkout}[{extra}]')}"
    return f"pip install 'railguard[{extra}]'"


def require(extra: str, *modules: str) -> None:
    """Raise `ConfigurationError` naming the pip extra when any of `modules` is not installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigurationError(
            f"this needs {', '.join(missing)}, which is part of the '{extra}' extra: {install_hint(extra)}"
        )

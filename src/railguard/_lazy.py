"""Attributes of a package that load their module on first use (PEP 562 module `__getattr__`)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any


def load_lazy(namespace: dict[str, Any], table: Mapping[str, str], package: str, name: str) -> Any:
    """Import the module `table[name]`, cache its `name` in the package's `namespace`, return it."""
    module = table.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    namespace[name] = value
    return value

"""Import one compiled submodule of a third-party package without running the package's
`__init__`, when that `__init__` imports much more than the submodule needs (`tree_sitter_bash`
imports `importlib.resources` for query files the analyzer never reads; see also
`railguard.policy._celrt` for the `cel` package).

The package is stood in by an empty module only while the submodule loads, then taken out of
`sys.modules` again: a later ordinary `import package` runs its real `__init__`, which finds the
submodule already loaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType


def submodule(package: str, name: str) -> ModuleType:
    """`package.name`, loaded without running `package/__init__.py` if it has not run yet."""
    qualified = f"{package}.{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    if package in sys.modules:
        return importlib.import_module(qualified)
    spec = importlib.util.find_spec(package)  # locates the package; runs none of its code
    if spec is None or not spec.submodule_search_locations:
        return importlib.import_module(qualified)  # not a layout we know: the ordinary import
    sys.modules[package] = importlib.util.module_from_spec(spec)
    try:
        return importlib.import_module(qualified)
    finally:
        del sys.modules[package]


__all__ = ["submodule"]

"""The CEL evaluator without the `cel` package's command line.

`cel/__init__.py` imports `cel.cli` (typer, rich, prompt_toolkit) every time: about half of
Railguard's import time, for a REPL the engine never uses. Loaded here instead: the `cel` package
object without running its `__init__`, filled from the compiled evaluator `cel.cel`; its other
submodules (`cel.stdlib`, and `cel.cli` for anyone who wants it) still import on demand through the
package path. If `cel` is already imported, that module is used as is.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def _load() -> ModuleType:
    loaded = sys.modules.get("cel")
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("cel")  # locates the package; runs none of its code
    if spec is None or not spec.submodule_search_locations:
        import cel  # not the layout we know: the ordinary import (with its CLI)

        return cel
    package = importlib.util.module_from_spec(spec)  # an empty package with the real path and spec
    sys.modules["cel"] = package
    try:
        evaluator = importlib.import_module("cel.cel")
    except BaseException:
        del sys.modules["cel"]
        raise
    package.__dict__.update({k: v for k, v in evaluator.__dict__.items() if not k.startswith("__")})
    package.cel = evaluator  # type: ignore[attr-defined]
    return package


_load()

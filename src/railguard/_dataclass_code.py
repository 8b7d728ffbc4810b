"""The compiled methods that `dataclasses` writes for each class, kept in the per-user parsed-data
cache so a fresh CLI process does not compile them again.

`dataclasses` makes `__init__`, `__repr__`, `__eq__`, `__hash__` ... of every class by compiling
source text with `exec`. Some 60 classes load for a one-action `railguard check`; compiling their
~350 methods was about a third of its start-up CPU. The CLI, which owns its process (importing
`railguard` as a library never does this), points the `exec` that `dataclasses` calls at a cached
one: the same text always compiles to the same code, so the code is looked up by the text itself
and run exactly as `exec` runs a string. A text not seen before compiles as usual and joins the
table, which is written back once, at exit. Each command keeps its own table (a check reads only
the methods a check makes).

The table is a `railguard._code_table` (beside the parsed packs, per user, turned off by
`RAILGUARD_CACHE_DIR=`); a damaged or foreign table is ignored, never an error.
"""

from __future__ import annotations

import builtins
import dataclasses
from types import CodeType
from typing import Any

from railguard._code_table import CodeTable, table_path


class _Table(CodeTable):
    def exec(self, source: Any, globals: Any = None, locals: Any = None, /) -> None:
        if globals is None:  # `exec` would run it in its caller's namespace: the `dataclasses` module's
            globals = vars(dataclasses)
        if not isinstance(source, str):  # not the text `dataclasses` writes: untouched
            builtins.exec(source, globals, locals)
            return
        code = self.entries.get(source)
        if not isinstance(code, CodeType):
            # as `exec(text)` compiles it; `dont_inherit`: not this module's `from __future__`
            code = compile(source, "<string>", "exec", dont_inherit=True)
            self.add(source, code)
        builtins.exec(code, globals, locals)


def install(scope: str) -> None:
    """Compile the methods of dataclasses made from now on in this process through the table of
    `scope` (a command name). For a process the CLI owns: it replaces what `dataclasses` calls."""
    import atexit

    path = table_path("dataclass-code", scope)
    if path is None or "exec" in vars(dataclasses):
        return  # the cache is off, or already installed
    table = _Table(path)
    dataclasses.exec = table.exec  # type: ignore[attr-defined]
    atexit.register(table.save)


__all__ = ["install"]

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

The table lives beside the parsed packs (`railguard._parsed_cache`, a directory only this user can
write, turned off by `RAILGUARD_CACHE_DIR=`); a damaged or foreign table is ignored, never an error.
"""

from __future__ import annotations

import builtins
import dataclasses
import marshal
import sys
from pathlib import Path
from types import CodeType
from typing import Any

MAX_ENTRIES = 4000  # a bound on the file, far above what any one command makes


class _Table:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.codes: dict[str, CodeType] = {}
        self.added = 0  # texts compiled by this process
        try:
            loaded = marshal.loads(path.read_bytes())
        except Exception:  # missing, truncated or from another Python: compile afresh
            loaded = None
        if isinstance(loaded, dict):
            self.codes = loaded

    def exec(self, source: Any, globals: Any = None, locals: Any = None, /) -> None:
        if globals is None:  # `exec` would run it in its caller's namespace: the `dataclasses` module's
            globals = vars(dataclasses)
        if not isinstance(source, str):  # not the text `dataclasses` writes: untouched
            builtins.exec(source, globals, locals)
            return
        code = self.codes.get(source)
        if not isinstance(code, CodeType):
            # as `exec(text)` compiles it; `dont_inherit`: not this module's `from __future__`
            code = compile(source, "<string>", "exec", dont_inherit=True)
            if len(self.codes) < MAX_ENTRIES:
                self.codes[source] = code
                self.added += 1
        builtins.exec(code, globals, locals)

    def save(self) -> None:
        if not self.added:
            return
        from railguard._parsed_cache import write_entry

        write_entry(self.path, marshal.dumps(self.codes))
        self.added = 0


def _table_path(scope: str) -> Path | None:
    from railguard._parsed_cache import cache_dir

    directory = cache_dir()
    if directory is None or not (scope.replace("-", "").isalnum() and scope.isascii() and len(scope) <= 40):
        return None
    tag = f"{sys.implementation.cache_tag}.{sys.version_info[2]}-m{marshal.version}-o{sys.flags.optimize}"
    return directory / f"dataclass-code-{scope}-{tag}.marshal"


def install(scope: str) -> None:
    """Compile the methods of dataclasses made from now on in this process through the table of
    `scope` (a command name). For a process the CLI owns: it replaces what `dataclasses` calls."""
    import atexit

    path = _table_path(scope)
    if path is None or "exec" in vars(dataclasses):
        return  # the cache is off, or already installed
    table = _Table(path)
    dataclasses.exec = table.exec  # type: ignore[attr-defined]
    atexit.register(table.save)


__all__ = ["install"]

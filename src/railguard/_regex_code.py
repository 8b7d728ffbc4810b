"""The compiled form of regular expressions, kept in a per-user table so a fresh CLI process does not
parse and compile them again.

`re.compile` parses a pattern and translates it into the code its C matcher runs, both in Python: a
one-action `railguard check` compiles about a hundred patterns, a fifth of its start-up CPU. The
CLI, which owns its process (importing `railguard` as a library never does this), points the
compile step of `re` at a table of that code, keyed by the pattern's text and flags: a pattern seen
before becomes a `re.Pattern` straight from its code, equal to what `re` would have made. A pattern
not seen before is parsed and translated as `re` does it and joins the table when a module's code
compiles it as it is imported: a pattern written in the code, never one made from data at run time
(a glob in a command line, a pattern a policy builds), which would put that data on disk. This
module's copy of that last step (`re._compiler.compile`) is checked against `re` itself when the
table opens, and a process where they disagree leaves every pattern to `re` and adds nothing. Patterns with
`re.DEBUG`, and every pattern compiled before installing, are left to `re`.

The table is a `railguard._code_table` (per user and command, turned off by `RAILGUARD_CACHE_DIR=`);
its name carries the matcher's code format (`_sre.MAGIC`) besides the interpreter's version.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from railguard._code_table import CodeTable, table_path

# `re`'s internals this relies on, or None on an interpreter that lays them out differently
try:
    import _sre
    from re import _compiler, _parser  # type: ignore[attr-defined]

    _ORIGINAL: Callable[..., Any] | None = _compiler.compile
    _code_of: Callable[..., list[int]] | None = _compiler._code
except (ImportError, AttributeError):  # pragma: no cover - another interpreter
    _ORIGINAL = _code_of = None


def _entry(pattern: str | bytes, flags: int) -> tuple[Any, ...]:
    """What `re._compiler.compile` hands `_sre.compile` after the pattern itself."""
    parsed = _parser.parse(pattern, flags)
    assert _code_of is not None
    code = [int(op) for op in _code_of(parsed, flags)]  # opcodes are an int subclass marshal cannot keep
    groups = parsed.state.groups
    indexgroup: list[str | None] = [None] * groups
    for name, index in parsed.state.groupdict.items():
        indexgroup[index] = name
    groupindex = {str(name): int(index) for name, index in parsed.state.groupdict.items()}
    return (int(flags | parsed.state.flags), code, groups - 1, groupindex, tuple(indexgroup))


def _agrees_with_re() -> bool:
    probe = r"(?P<word>[A-Za-z_]\w*)\s*(?:=|:)\s*(?:'[^']*'|\d+(?:\.\d+)?)|(?i:fall)back$"
    try:
        assert _ORIGINAL is not None
        return bool(_sre.compile(probe, *_entry(probe, 0)) == _ORIGINAL(probe, 0))
    except Exception:
        return False


def _compiled_by_an_import() -> bool:
    """Whether the import system is running a module's body further up the stack: only then is the
    pattern part of the code (the table is written to disk and kept). Import frames, not module
    bodies: a program's main module, or code run by `exec` (a test runner's worker), is not an import."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith(_IMPORT_SYSTEM):
            return True
        frame = frame.f_back
    return False


_IMPORT_SYSTEM = "<frozen importlib._bootstrap"  # both `_bootstrap` and `_bootstrap_external`


class _Table(CodeTable):
    # Whether this module compiles exactly as `re` does (checked on the first pattern not in the
    # table, against `re` itself); when not, `re` compiles every new pattern and none joins the table.
    trusted: bool | None = None

    def compile(self, pattern: Any, flags: int = 0) -> re.Pattern[Any]:
        assert _ORIGINAL is not None
        if type(pattern) not in (str, bytes) or flags & re.DEBUG:  # (marshal keeps exact types only)
            return _ORIGINAL(pattern, flags)
        key = (pattern, int(flags))  # 'a' and b'a' are different keys
        entry = self.entries.get(key)
        if isinstance(entry, tuple):
            try:
                return _sre.compile(pattern, *entry)
            except Exception:  # a damaged entry: compile it afresh, and replace it
                pass
        if not _compiled_by_an_import():
            return _ORIGINAL(pattern, flags)
        if self.trusted is None:
            self.trusted = _agrees_with_re()
        if self.trusted:
            try:
                entry = _entry(pattern, flags)
                made: re.Pattern[Any] = _sre.compile(pattern, *entry)
            except re.error:
                pass  # an invalid pattern: `re` raises its error below
            except Exception:  # internals this module does not know: `re` alone compiles from now on
                self.trusted = False
            else:
                self.add(key, entry)
                return made
        return _ORIGINAL(pattern, flags)


def install(scope: str) -> None:
    """Compile the regular expressions made from now on in this process through the table of `scope`
    (a command name). For a process the CLI owns: it replaces what `re.compile` calls."""
    import atexit

    if _ORIGINAL is None or _compiler.compile is not _ORIGINAL:
        return  # unknown internals, or already installed
    path = table_path("regex-code", scope, f"-sre{_sre.MAGIC}")
    if path is None:
        return  # the cache is off
    table = _Table(path)
    _compiler.compile = table.compile
    atexit.register(table.save)


__all__ = ["install"]

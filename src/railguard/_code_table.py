"""A per-user table of compiled code for one CLI command (`_dataclass_code`, `_regex_code`): read
once when the command starts, written back whole at exit if the process added to it.

Tables live beside the parsed packs (`railguard._parsed_cache`: a directory only this user can write,
turned off by `RAILGUARD_CACHE_DIR=`). Compiled code belongs to one interpreter, so a table's name
carries the exact Python version and marshal format; its entries are keyed by the text they were
compiled from, so a change to Railguard or a policy can only add entries, never make one stale. A
damaged or foreign table is ignored, never an error.
"""

from __future__ import annotations

import marshal
import sys
from pathlib import Path
from typing import Any

MAX_ENTRIES = 4000  # a bound on the file, far above what any one command makes


class CodeTable:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[Any, Any] = {}
        self.added = 0  # entries compiled by this process
        try:
            loaded = marshal.loads(path.read_bytes())
        except Exception:  # missing, truncated or from another Python: compile afresh
            loaded = None
        if isinstance(loaded, dict):
            self.entries = loaded

    def add(self, key: Any, value: Any) -> None:
        if len(self.entries) < MAX_ENTRIES:
            self.entries[key] = value
            self.added += 1

    def save(self) -> None:
        if not self.added:
            return
        from railguard._parsed_cache import write_entry

        try:
            data = marshal.dumps(self.entries)
        except ValueError:  # an entry marshal cannot keep: no table this time, never an error
            return
        write_entry(self.path, data)
        self.added = 0


def table_path(kind: str, scope: str, version: str = "") -> Path | None:
    """Where the `kind` table of command `scope` lives, or None (the cache is off, or an odd scope).
    `version`: the format of the compiled code, when it has one beyond the interpreter's."""
    from railguard._parsed_cache import cache_dir

    directory = cache_dir()
    if directory is None or not (scope.replace("-", "").isalnum() and scope.isascii() and len(scope) <= 40):
        return None
    tag = f"{sys.implementation.cache_tag}.{sys.version_info[2]}-m{marshal.version}-o{sys.flags.optimize}{version}"
    return directory / f"{kind}-{scope}-{tag}.marshal"


__all__ = ["MAX_ENTRIES", "CodeTable", "table_path"]

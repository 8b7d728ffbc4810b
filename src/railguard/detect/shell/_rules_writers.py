"""Writes by non-obvious writers that erase a trail or swap a system program (issue 16, round 9).

Every writer (`truncate`, `: >`, `cat /dev/null >`, `cp /dev/null`, `ln -sf /dev/null`, `dd of=`, `tee`,
`sponge`) reaches `write_target_findings`; emptying a security log or a shell history through any of them
removes the record of what ran, so it is judged by the path, whatever the writer. Replacing a program or
library in the system's own directories with a file from a temporary directory, `/dev/null` or a shell,
or installing a setuid copy, swaps what every user runs.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from railguard.detect._re2_search import LazyRe2
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._view import CommandView, Ctx, classify_target

_SECURITY_LOGS = LazyRe2(
    r"^/var/log/(?:auth\.log|secure|syslog|messages|wtmp|btmp|lastlog|faillog|kern\.log|audit/|journal/|sudo\.log)"
)
_HISTORY_FILES = frozenset({".bash_history", ".zsh_history", ".history", ".sh_history", ".python_history",
                            ".mysql_history", ".psql_history", ".node_repl_history", ".sqlite_history",
                            ".lesshst", ".viminfo", "fish_history"})  # fmt: skip


def trail_erasure_findings(path: str, *, append: bool) -> Iterator[ShellFinding]:
    """An overwrite of a security log or a shell history (appending keeps the record)."""
    if append:
        return
    if _SECURITY_LOGS.match(path):
        yield ShellFinding("system", "audit-trail-erased", "block", "critical", f"empties or replaces {path}")
    elif posixpath.basename(path) in _HISTORY_FILES:
        yield ShellFinding("system", "history-erased", "block", "critical", f"empties or replaces {path}")


# The system's own program and library directories (/usr/local is where people install by hand).
_SYSTEM_PROGRAMS = LazyRe2(r"^/(?:usr/)?(?:s?bin|lib(?:32|64|x32)?|libexec)/")
_FOREIGN_SOURCES = LazyRe2(
    r"^(?:/tmp/|/var/tmp/|/dev/shm/|/dev/null$|/dev/zero$|/(?:usr/)?bin/(?:ba|z|da|k)?sh$)"
)
_SETUID_MODE = LazyRe2(r"^(?:[4-7][0-7]{3}|u\+s|[ug]\+[rwx]*s)")


def check_system_program_swap(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """cp/install/ln/mv/rsync: a system program or library replaced by a temporary file, /dev/null or a
    shell; install with a setuid mode."""
    operands = [w for w in view.operands if not w.dynamic]
    if len(operands) < 2:
        return
    destination = classify_target(operands[-1], ctx).path
    sources = [classify_target(w, ctx).path for w in operands[:-1]]
    if _SYSTEM_PROGRAMS.match(destination) and any(_FOREIGN_SOURCES.match(s) for s in sources):
        yield ShellFinding("system", "system-program-swapped", "block", "critical",
                           f"{view.name} replaces {destination} with {sources[0]}")  # fmt: skip
    if view.name == "install":
        modes = [w.text for w in view.args]
        mode = next((modes[i + 1] for i, m in enumerate(modes[:-1]) if m in ("-m", "--mode")), "")
        mode = mode or next((m.split("=", 1)[1] for m in modes if m.startswith("--mode=")), "")
        if _SETUID_MODE.match(mode):
            yield ShellFinding("system", "setuid-install", "block", "critical",
                               f"install makes {destination} setuid ({mode})")  # fmt: skip

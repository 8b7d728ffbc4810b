"""persistence: shell startup files that shadow common commands.

Text appended to `~/.bashrc`, `~/.zshrc`, `~/.profile` or fish's config runs in every later shell. An
alias, function or trap written there decides what `sudo`, `git` or `cd` do from then on (a password
prompt replaced, every command logged to a host), so a human looks. An alias that only adds options
to the same command (`alias ls='ls --color=auto'`, `alias rm='rm -i'`) is a preference and stays allowed.
Fish's universal variables (`set -U fish_user_paths /tmp/x`) persist the same way.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import TYPE_CHECKING

from railguard.detect._re2_search import LazyRe2
from railguard.detect.shell._model import ShellFinding

if TYPE_CHECKING:  # `_walk` imports this module, and `_view` imports `_walk`
    from railguard.detect.shell._view import CommandView, Ctx

# Commands an agent or a person runs without looking at what they resolve to.
_COMMON = frozenset({"sudo", "su", "doas", "ls", "cd", "cat", "cp", "mv", "rm", "git", "ssh", "scp", "sftp",
                     "curl", "wget", "python", "python3", "pip", "pip3", "npm", "npx", "node", "docker",
                     "kubectl", "ps", "grep", "find", "which", "type", "command", "builtin", "passwd", "gpg",
                     "echo", "printf", "make", "vim", "vi", "nano", "less", "apt", "apt-get", "brew", "bash",
                     "sh", "zsh", "env", "export", "source", "history", "clear", "exit", "kill", "top",
                     "mkdir", "chmod", "chown", "ln", "tar", "unzip", "pwd", "id", "whoami"})  # fmt: skip
_ALIAS = re.compile(r"^\s*alias\s+(?:-[sg]\s+)?([\w.-]+)\s*=\s*(.*)$")
_FISH_ALIAS = re.compile(r"^\s*alias\s+(?:-s\s+|--save\s+)?([\w.-]+)\s+(['\"].*)$")
_FUNCTION = re.compile(r"^\s*(?:function\s+([\w.-]+)|([\w.-]+)\s*\(\s*\))")
_TRAP = re.compile(r"^\s*trap\s+.*\b(DEBUG|EXIT|RETURN|ERR|ZERR|0)\s*$")
# A line that runs or sources a program kept in a temporary directory or hidden in the cache: nothing
# installed it there (tools keep their own environments in named cache dirs: ~/.cache/pypoetry/...).
_TEMP_PROGRAM = LazyRe2(
    r"^\s*(?:(?:nohup|exec|setsid|source|\.|command|python3?|bash|sh|zsh|node|perl|ruby)\s+)*['\"]?"
    r"(?:/tmp/|/var/tmp/|/dev/shm/|(?:~|\$HOME|\$\{HOME\}|/home/[^/\s]+)/\.cache/\.)\S"
)
_TEMP = re.compile(r"^(?:/tmp|/var/tmp|/dev/shm)(?:/|$)|/\.[^/]+/?$")


def _only_options(name: str, value: str) -> bool:
    """`ls --color=auto`: the same command with options, nothing chained or substituted."""
    try:
        words = shlex.split(value.strip())
    except ValueError:
        return False
    if len(words) == 1 and any(c in words[0] for c in " ;|&$`"):
        return _only_options(name, words[0])
    return bool(words) and words[0] == name and all(w.startswith("-") for w in words[1:])


def startup_text_findings(content: str, file_name: str) -> Iterator[ShellFinding]:
    """The first alias, function or trap in text written to a shell startup file that shadows a command,
    or the first line that runs a program kept in a temporary or cache directory."""
    for line in content.splitlines()[:64]:
        alias = _ALIAS.match(line) or _FISH_ALIAS.match(line)
        function = _FUNCTION.match(line)
        trap = _TRAP.match(line)
        if alias and alias.group(1) in _COMMON and not _only_options(alias.group(1), alias.group(2)):
            what = f"alias {alias.group(1)}"
        elif function and (function.group(1) or function.group(2)) in _COMMON:
            what = f"function {function.group(1) or function.group(2)}"
        elif trap:
            what = f"trap on {trap.group(1)}"
        elif _TEMP_PROGRAM.match(line):
            yield ShellFinding("persistence", "rc-runs-temp-program", "block", "critical",
                               f"{file_name} runs a program from a temporary or cache directory in every later shell")  # fmt: skip
            return
        else:
            continue
        yield ShellFinding("persistence", "rc-command-shadowed", "ask", "high",
                      f"{file_name} gets {what}, which runs in every later shell")  # fmt: skip
        return


def check_fish_universal(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """`set -U fish_user_paths /tmp/tools ...`: a temporary or hidden directory first on PATH, for good."""
    texts = [w.text for w in view.args]
    flags = {c for t in texts if t.startswith("-") and not t.startswith("--") for c in t[1:]}
    values = [t for t in texts if not t.startswith("-")]
    if ("U" in flags or "--universal" in texts) and values[:1] in (["fish_user_paths"], ["PATH"]):
        temp = [v for v in values[1:] if _TEMP.search(v)]
        if temp:
            yield ShellFinding("persistence", "path-from-temp", "ask", "high",
                          f"set -U {values[0]} puts {temp[0]} first in every later fish shell")  # fmt: skip

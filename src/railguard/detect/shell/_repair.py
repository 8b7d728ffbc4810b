"""Rewrites for valid bash that tree-sitter-bash cannot parse, tried only after a parse error.

- `exec 3<>/dev/tcp/h/p`: the grammar lacks the read-write redirect with a descriptor; `3<` keeps the
  target and the descriptor, which is all the rules need.
- `{rm,-rf,/}` at command position: bash brace-expands the word into `rm -rf /`; the grammar reads
  `{` as a group. The expansion is written out as plain words.

Both are single left-to-right scans (no regex), so the cost is linear in the script length.
"""

from __future__ import annotations

_COMMAND_START = frozenset(";&|(\n`")
_MAX_BRACE_BODY = 256
_UNSAFE_IN_BRACE = frozenset(" \t\n'\"$`{\\;&|<>()")


def repair_syntax(script: str) -> str:
    return _expand_command_braces(_read_write_redirects(script))


def _read_write_redirects(script: str) -> str:
    if "<>" not in script:
        return script
    out: list[str] = []
    i = 0
    while i < len(script):
        if script.startswith("<>", i) and i > 0 and script[i - 1].isdigit():
            out.append("<")
            i += 2
            continue
        out.append(script[i])
        i += 1
    return "".join(out)


def _at_command_start(script: str, index: int) -> bool:
    j = index - 1
    while j >= 0 and script[j] in " \t":
        j -= 1
    return j < 0 or script[j] in _COMMAND_START or script.endswith(("&&", "||", "do", "then"), 0, j + 1)


def _expand_command_braces(script: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(script):
        char = script[i]
        if char == "{" and _at_command_start(script, i):
            end = script.find("}", i + 1, i + 2 + _MAX_BRACE_BODY)
            body = script[i + 1 : end] if end > 0 else ""
            if "," in body and not any(c in _UNSAFE_IN_BRACE for c in body):
                out.append(" ".join(part for part in body.split(",") if part))
                i = end + 1
                continue
        out.append(char)
        i += 1
    return "".join(out)

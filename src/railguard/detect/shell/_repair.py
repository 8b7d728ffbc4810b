"""Rewrites for valid bash that tree-sitter-bash cannot parse, tried only after a parse error.

- `exec 3<>/dev/tcp/h/p`: the grammar lacks the read-write redirect with a descriptor; `3<` keeps the
  target and the descriptor, which is all the rules need.
- `{rm,-rf,/}` at command position: bash brace-expands the word into `rm -rf /`; the grammar reads
  `{` as a group. The expansion is written out as plain words.
- `((cmd))` at command position (or `$((cmd))`): not arithmetic, so bash runs nested subshells (a
  substitution of a subshell): `( (cmd))`.

- a heredoc body line that begins with the delimiter (`EOF'`): the grammar ends the body there, bash
  does not; the delimiter is renamed.

All are left-to-right scans, so the cost is linear in the script length.
"""

from __future__ import annotations

import re

_COMMAND_START = frozenset(";&|(\n`")
_MAX_BRACE_BODY = 256
_UNSAFE_IN_BRACE = frozenset(" \t\n'\"$`{\\;&|<>()")


def repair_syntax(script: str) -> str:
    return _rename_heredoc_delimiters(
        _split_double_parens(_expand_command_braces(_read_write_redirects(script)))
    )


_HEREDOC_OPENER = re.compile(r"<<(-?)[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


def _ends_heredoc(line: str, word: str) -> bool:
    """The delimiter line; inside `$(...)` bash also takes the delimiter right before the closing `)`."""
    return line == word or (line.startswith(word) and line[len(word) :].lstrip().startswith(")"))


def _rename_heredoc_delimiters(script: str) -> str:
    """A heredoc body line that only begins with the delimiter (`EOF'` before `EOF`) ends the body for
    the grammar, not for bash. Such a heredoc gets a delimiter no body line begins with."""
    if "<<" not in script:
        return script
    out: list[str] = []
    start = 0
    for number, match in enumerate(_HEREDOC_OPENER.finditer(script)):
        if match.start() < start:
            continue  # inside a body already handled
        word, tabs = match.group(3), match.group(1) == "-"
        body_start = script.find("\n", match.end())
        if body_start < 0:
            break
        lines = script[body_start + 1 :].split("\n")
        end_line = next(
            (i for i, line in enumerate(lines) if _ends_heredoc(line.lstrip("\t") if tabs else line, word)),
            None,
        )
        if end_line is None or not any(line.lstrip("\t").startswith(word) for line in lines[:end_line]):
            continue
        fresh = f"{word}_RAILGUARD_{number}"
        body = "\n".join(lines[:end_line])
        terminator = body_start + 1 + len(body) + (1 if end_line else 0)
        out.append(script[start : match.start(3)] + fresh + script[match.end(3) : terminator])
        out.append(lines[end_line].replace(word, fresh, 1))
        start = terminator + len(lines[end_line])
    out.append(script[start:])
    return "".join(out)


def _split_double_parens(script: str) -> str:
    """`((rm -rf /))` at command position: bash tries arithmetic and, when that fails, runs nested
    subshells; the grammar only knows the arithmetic reading, so `((` becomes `( (`."""
    if "((" not in script:
        return script
    out: list[str] = []
    start = 0
    index = script.find("((")
    while index >= 0:
        end = index + 2
        while end < len(script) and script[end] == "(":
            end += 1
        if _at_command_start(script, index) or script[index - 1 : index] == "$":
            out.append(script[start:index] + " ".join("(" * (end - index)))
            start = end
        index = script.find("((", end)
    out.append(script[start:])
    return "".join(out)


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

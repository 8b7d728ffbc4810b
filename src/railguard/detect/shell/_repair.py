"""Rewrites for valid bash that tree-sitter-bash cannot parse, tried only after a parse error.

- `exec 3<>/dev/tcp/h/p`: the grammar lacks the read-write redirect with a descriptor; `3<` keeps the
  target and the descriptor, which is all the rules need.
- `{rm,-rf,/}` at command position: bash brace-expands the word into `rm -rf /`; the grammar reads
  `{` as a group. The expansion is written out as plain words.
- a final unescaped backslash (a continuation with no next line) is dropped.
- `((cmd))` at command position (or `$((cmd))`): not arithmetic, so bash runs nested subshells (a
  substitution of a subshell): `( (cmd))`.

All are left-to-right scans, so the cost is linear in the script length.

`bash_heredoc_bodies` is no repair but applied before every parse: a heredoc body line that begins with
the delimiter (`EOF; done`, `EOF'`) ends the body for the grammar, not for bash, and what follows often
still parses; such a heredoc's delimiter is renamed.
"""

from __future__ import annotations

import re

_COMMAND_START = frozenset(";&|(\n`")
_MAX_BRACE_BODY = 256
_UNSAFE_IN_BRACE = frozenset(" \t\n'\"$`{\\;&|<>()")


def repair_syntax(script: str) -> str:
    return _split_double_parens(_expand_command_braces(_read_write_redirects(_final_backslash(script))))


def _final_backslash(script: str) -> str:
    """A line continuation with nothing after it (`keytool ... \\` at the end of the input): bash drops it
    (a script file) or keeps it as a literal backslash (`bash -c`); the grammar rejects it."""
    stripped = script.rstrip("\\")
    if (len(script) - len(stripped)) % 2 == 1:
        return script[:-1]
    return script


_HEREDOC_OPENER = re.compile(r"<<(-?)[ \t]*\\?(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
# What the scan for heredoc openers stops at, in code and inside double quotes.
_CODE_STOPS = re.compile(r"\\[\s\S]|'|\"|\$\(\(|\$\(|\(\(|\(|\)|\n|#|<<<|<<")
_QUOTED_STOPS = re.compile(r"\\[\s\S]|\"|\$\(\(|\$\(")
_WORD_START = frozenset(" \t\n;&|()")


def bash_heredoc_bodies(script: str) -> str:
    """The script with every heredoc body ending where bash ends it.

    tree-sitter-bash ends a body at the first line that only *begins* with the delimiter (`EOF; done`,
    `EOF'`, `EOF)`), bash at a line that *is* the delimiter (inside `$(...)`, also at the delimiter right
    before the closing `)`). Often the rest still parses — `cat <<EOF | sh` then feeds the shell a cut
    script and runs the tail of the body as commands — so this is applied before every parse, not only
    after a parse error: such a heredoc gets a delimiter no body line begins with.

    One left-to-right pass: quoted text is skipped (a `<<` in it is data), a heredoc body is skipped
    once read, and `<<` in arithmetic or a `<<<` herestring opens no heredoc."""
    if "<<" not in script:
        return script
    edits: list[tuple[int, int, str]] = []
    stack: list[str] = []  # "sub" ($(...)), "paren", "arith", "dq" (double quotes)
    pending: list[tuple[re.Match[str], bool]] = []  # openers on the current line, and whether in `$(`
    pos, size = 0, len(script)
    while pos < size:
        quoted = bool(stack) and stack[-1] == "dq"
        found = (_QUOTED_STOPS if quoted else _CODE_STOPS).search(script, pos)
        if found is None:
            break
        token, pos = found.group(0), found.end()
        if token[0] == "\\":
            continue
        if token == '"':
            if quoted:
                stack.pop()
            else:
                stack.append("dq")
        elif token in ("$((", "(("):
            stack.append("arith")
        elif token in ("$(", "("):
            stack.append("sub" if token == "$(" else "paren")
        elif token == ")":
            if stack and stack.pop() == "arith" and script.startswith(")", pos):
                pos += 1
        elif token == "'":
            close = script.find("'", pos)
            pos = size if close < 0 else close + 1
        elif token == "#":
            if found.start() == 0 or script[found.start() - 1] in _WORD_START:
                close = script.find("\n", pos)
                pos = size if close < 0 else close
        elif token == "<<":
            opener = _HEREDOC_OPENER.match(script, found.start())
            if opener is not None and "arith" not in stack[-1:]:
                pending.append((opener, "sub" in stack))
                pos = opener.end()
        elif token == "\n" and pending:
            pos = _read_bodies(script, pos, pending, edits)
    out: list[str] = []
    last = 0
    for start, end, text in sorted(edits):
        out.append(script[last:start] + text)
        last = end
    out.append(script[last:])
    return "".join(out)


def _read_bodies(
    script: str, pos: int, pending: list[tuple[re.Match[str], bool]], edits: list[tuple[int, int, str]]
) -> int:
    """Read the bodies of the heredocs opened on the line that just ended, from `pos`; note a rename for
    each body with a line that begins with its delimiter. Returns where the code resumes."""
    size = len(script)
    while pending:
        opener, in_sub = pending.pop(0)
        word, tabs = opener.group(3), opener.group(1) == "-"
        begins = False
        line_start = pos
        while True:
            line_end = script.find("\n", line_start)
            line_end = size if line_end < 0 else line_end
            line = script[line_start:line_end]
            body_line = line.lstrip("\t")
            indent = len(line) - len(body_line) if tabs else 0
            text = body_line if tabs else line
            closes_sub = in_sub and text.startswith(word) and text[len(word) :].lstrip().startswith(")")
            if text == word or closes_sub:
                if begins:
                    fresh = f"{word}_RAILGUARD_{len(edits)}"
                    edits.append((opener.start(3), opener.end(3), fresh))
                    edits.append((line_start + indent, line_start + indent + len(word), fresh))
                if closes_sub:  # the `)` closes the substitution: the lexer goes on from it
                    return line_start + indent + len(word)
                pos = min(line_end + 1, size)
                break
            begins = begins or body_line.startswith(word)
            if line_end >= size:  # never ends: bash reads the rest of the text as the body
                pending.clear()
                return size
            line_start = line_end + 1
    return pos


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

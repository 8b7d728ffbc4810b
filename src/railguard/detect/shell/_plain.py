"""Commands made of plain words only (`git commit --amend`, `wc -c bytes.txt`): read without the parser.

Most commands an agent runs are one program and its arguments, with no quote, expansion, operator,
redirect or glob. tree-sitter parses such a line into one `command` node of `word` (or `number`)
children, and the walker's word evaluation gives each word its text unchanged; building the words
straight from the text skips the parse and the walk over its nodes (a fifth of the analysis of such a
command). Anything else, and any line whose first word bash reads as a keyword, a declaration or an
assignment, goes through the parser as before. A test compares both readings on every shell command of
the data sets and on generated lines.
"""

from __future__ import annotations

import re

# Words of characters that are never special to bash at any position of a word (no quote, `$`, `\`,
# operator, redirect, glob, brace, tilde, comment or history character), one space between words.
_PLAIN_LINE = re.compile(r"[A-Za-z0-9_./:@%+,=-]+(?: [A-Za-z0-9_./:@%+,=-]+)*")

# A first word the grammar surely reads as a command name: a name or path, no `=` (an assignment), no
# `%`, `@`, `:` or `,` (the grammar cuts some such names: `a%b` parses as an error), no leading `-` or `+`.
_COMMAND_NAME = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./+-]*")
# First words the grammar does not read as a command name: reserved words and the declaration and
# `unset` builtins (their own node types in the tree).
_NOT_A_COMMAND_NAME = frozenset(
    {
        "if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until", "do",
        "done", "in", "function", "time", "coproc", "declare", "typeset", "export", "readonly", "local",
        "unset", "unsetenv",
    }
)  # fmt: skip


def plain_words(script: str) -> list[str] | None:
    """The words of `script` when it is one simple command of plain words, else None."""
    if _PLAIN_LINE.fullmatch(script) is None or " =" in script:
        return None  # a word that starts with `=` may be an operator to the grammar (`==`)
    words = script.split(" ")
    if _COMMAND_NAME.fullmatch(words[0]) is None or words[0] in _NOT_A_COMMAND_NAME:
        return None
    return words

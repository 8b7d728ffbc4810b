"""Text in angle brackets that is no redirection: keys to press and documentation placeholders.

`<Esc>:wq<Enter>` is what a terminal tool types (keys between typed text); `tmux attach -t <session name>`
and `grep OK <filename> | wc -l` are documentation placeholders an agent copied. Bash rejects such a line
whole (a `>` with no target), so it runs none of it as written; but a terminal tool may type it, and a
person fills the placeholder in. So when a one-line command does not parse and holds such tokens, the
command judged is the one that would run: each key a line break, each placeholder a plain word.
"""

from __future__ import annotations

import re2

# `<Enter>`, `<C-c>`, `<Ctrl-Shift-T>`, `<F5>`: a key name, optionally with modifiers.
_KEYS = frozenset({"enter", "return", "ret", "cr", "lf", "esc", "escape", "tab", "space", "spc", "bs", "backspace",
                   "del", "delete", "ins", "insert", "up", "down", "left", "right", "home", "end", "pageup",
                   "pagedown", "pgup", "pgdn", "pgdown", "leader", "nop", "bar", "lt", "gt", "bslash", "kpenter"})  # fmt: skip
_MODIFIERS = frozenset(
    {"c", "ctrl", "control", "m", "meta", "alt", "a", "s", "shift", "d", "cmd", "super", "win"}
)
_TOKEN = re2.compile(r"<([A-Za-z][A-Za-z0-9_. -]{0,39})>")
_MAX_TOKENS = 16


def is_key(name: str) -> bool:
    parts = name.lower().replace("+", "-").split("-")
    if len(parts) > 1:
        return all(p in _MODIFIERS for p in parts[:-1]) and len(parts[-1]) >= 1
    key = parts[0]
    return key in _KEYS or (key[:1] == "f" and key[1:].isdigit() and 0 < int(key[1:]) <= 24)


def typed_command(command: str) -> str | None:
    """The command a one-line text with keys or placeholders stands for, or None when it has none."""
    text = command.strip()
    if "\n" in text or "<" not in text:
        return None
    tokens = _TOKEN.findall(text)
    if not tokens or len(tokens) > _MAX_TOKENS:
        return None

    def fill(match: re2.Match) -> str:
        name = match.group(1).strip()
        return "\n" if is_key(name) else name.replace(" ", "_")

    return _TOKEN.sub(fill, text)

"""Bash parameter expansion on values known while walking: `${x:-d}`, `${x#pre}`, `${x%suf}`,
`${x/a/b}`, `${x:1:2}`, `${x^^}`, `${#x}`, `${!ref}`, `${arr[@]}`.

Obfuscators build command names and targets with these (`a=xrmx; ${a:1:2} -rf /`), so they are
evaluated instead of turning the word dynamic. Everything here is linear string work: patterns are
matched with `fnmatch` against at most len(value)+1 prefixes/suffixes of a short value.
"""

from __future__ import annotations

import fnmatch

_SPECIAL = frozenset("@*#?$!-0123456789")
_MAX_VALUE = 4096
_MAX_STRIP = 256  # pattern stripping tries every prefix/suffix: cap the value it runs on


def parameter_name(body: str) -> str:
    """The parameter a `${...}` body names, with its subscript (`x[@]`), without `!`/`#` prefixes."""
    start = 1 if body[:1] in ("!", "#") and len(body) > 1 and body[1] not in "}:" else 0
    i = start
    if i < len(body) and (body[i].isalpha() or body[i] == "_"):
        while i < len(body) and (body[i].isalnum() or body[i] == "_"):
            i += 1
        if i < len(body) and body[i] == "[":
            close = body.find("]", i)
            i = close + 1 if close > 0 else i
    elif i < len(body) and body[i] in _SPECIAL:
        i += 1
    return body[start:i]


def _lookup(name: str, env: dict[str, str]) -> str | None:
    if name in env:
        return env[name]
    base = name.split("[", 1)[0]
    if name.endswith(("[0]", "[@]", "[*]")) and base in env:
        return env[base]  # a scalar used as an array is its own element 0
    if base == "HOME":
        return "~"
    return None


def expand_parameter(body: str, env: dict[str, str]) -> str | None:
    """The value of `${body}` (or `$body`), or None when it depends on something unknown."""
    name = parameter_name(body)
    if not name:
        return None
    prefix = body[: body.index(name)] if name in body else ""
    rest = body[len(prefix) + len(name) :]
    value = _lookup(name, env)
    if prefix == "!":
        value = _lookup(value, env) if value else None
    elif prefix == "#":
        return str(len(value)) if value is not None and not rest else None
    if value is not None and len(value) > _MAX_VALUE:
        return None
    return _apply(rest, value) if rest else value


def _apply(op: str, value: str | None) -> str | None:
    for marker in (":-", ":=", "-", "="):
        if op.startswith(marker):
            default = op[len(marker) :]
            usable = value if (value if marker.startswith(":") else value is not None) else None
            if usable is not None:
                return usable
            return None if any(c in default for c in "$`") else default
    for marker in (":+", "+"):
        if op.startswith(marker):
            if value is None:
                return None
            alternative = op[len(marker) :]
            return alternative if (value or marker == "+") and "$" not in alternative else ""
    if value is None:
        return None
    if op.startswith((":?", "?")):
        return value
    if op.startswith(":"):
        return _substring(op[1:], value)
    if op[:1] in ("#", "%"):
        return _strip(op, value) if len(value) <= _MAX_STRIP else None
    if op.startswith("/"):
        return _replace(op[1:], value)
    return _case(op, value)


def _substring(spec: str, value: str) -> str | None:
    parts = spec.split(":", 1)
    try:
        offset = int(parts[0].strip() or "0")
        length = int(parts[1].strip()) if len(parts) > 1 else None
    except ValueError:
        return None
    start = offset if offset >= 0 else max(0, len(value) + offset)
    if length is None:
        return value[start:]
    return value[start : start + length] if length >= 0 else value[start : len(value) + length]


def _strip(op: str, value: str) -> str | None:
    longest = op[:2] in ("##", "%%")
    pattern = op[2:] if longest else op[1:]
    if "$" in pattern or "`" in pattern:
        return None
    cuts = range(len(value), -1, -1) if longest else range(len(value) + 1)
    if op[0] == "#":
        for cut in cuts:
            if fnmatch.fnmatchcase(value[:cut], pattern):
                return value[cut:]
    else:
        for cut in cuts:
            if fnmatch.fnmatchcase(value[len(value) - cut :], pattern):
                return value[: len(value) - cut]
    return value


def _replace(spec: str, value: str) -> str | None:
    every = spec.startswith("/")
    spec = spec[1:] if every else spec
    pattern, _, replacement = spec.partition("/")
    if any(c in pattern + replacement for c in "$`*?[") or not pattern:
        return None  # glob patterns in a replace: not evaluated, the word stays dynamic
    return value.replace(pattern, replacement, -1 if every else 1)


def _case(op: str, value: str) -> str | None:
    if op.startswith("^^"):
        return value.upper()
    if op.startswith(",,"):
        return value.lower()
    if op.startswith("^"):
        return value[:1].upper() + value[1:]
    if op.startswith(","):
        return value[:1].lower() + value[1:]
    return None  # `${x@Q}` and other transformations: not evaluated

"""Bounds on untrusted JSON, checked before anything walks it recursively.

Python's `json` decoder, `json.dumps`, the detectors and the redactor all recurse, so a value nested
a few thousand levels deep raises RecursionError wherever it is first walked. These checks are
iterative, so they answer for any input: call them at each boundary where outside JSON comes in
(the hook's stdin, a `check` line, `Engine.check`'s arguments) and refuse what they name.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from railguard._digest import blake2b
from railguard.model import Action

__all__ = [
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "LimitExceeded",
    "admissible",
    "check_json_text",
    "check_value",
    "parse_json",
    "without_surrogates",
]

MAX_JSON_DEPTH = 200  # nesting levels of objects and arrays; real tool arguments use a handful
MAX_JSON_BYTES = 16 * 1024 * 1024  # one hook input or one `check` line (a Write of a large file fits)

# A JSON string (unrolled loop: linear, no backtracking) or one bracket. Brackets inside strings
# are skipped by matching the whole string first.
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset("[{")


class LimitExceeded(ValueError):
    """The input is deeper, larger or less encodable than Railguard accepts. The message names the
    bound and how to stay under it, never the input's content."""


def check_json_text(text: str, *, max_depth: int = MAX_JSON_DEPTH, max_chars: int = MAX_JSON_BYTES) -> None:
    """Raise LimitExceeded if the JSON text is too long or nests deeper than `max_depth`. Runs in
    linear time on any text, valid JSON or not (an unterminated string just ends the scan)."""
    if len(text) > max_chars:
        raise LimitExceeded(
            f"the input is {len(text):,} characters, over the limit of {max_chars:,}; send less"
        )
    if text.count("[") + text.count("{") <= max_depth:
        return  # depth never exceeds the number of openers (counted in strings too: an over-count)
    depth = 0
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if token in _OPENERS:
            depth += 1
            if depth > max_depth:
                raise LimitExceeded(_too_deep(max_depth))
        elif token in "]}":
            depth = max(depth - 1, 0)


def parse_json(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH, max_chars: int = MAX_JSON_BYTES) -> Any:
    """json.loads behind the bounds: bytes must be UTF-8, the text within `max_chars` and
    `max_depth`, and no string may hold a lone surrogate (it cannot be encoded, so it would fail
    later, wherever the value is first written). Raises LimitExceeded or ValueError (bad JSON)."""
    import json

    decoded = isinstance(text, bytes)
    if isinstance(text, bytes):
        if len(text) > max_chars:
            raise LimitExceeded(
                f"the input is {len(text):,} bytes, over the limit of {max_chars:,}; send less"
            )
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise LimitExceeded(f"the input is not valid UTF-8 (byte {err.start}); send UTF-8 text") from None
    check_json_text(text, max_depth=max_depth, max_chars=max_chars)
    try:
        value = json.loads(text)
    except RecursionError:  # unreachable under the depth bound; kept so no input can escape as a crash
        raise LimitExceeded(_too_deep(max_depth)) from None
    # The value nests as deep as the text (bounded above). A lone surrogate in it comes from a
    # `\u` escape or from the text itself; text decoded from UTF-8, or ASCII text, holds none.
    if "\\u" in text or not (decoded or text.isascii()):
        check_value(value, max_depth=max_depth)
    return value


_SCALARS = frozenset({int, float, bool, type(None)})


def check_value(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise LimitExceeded if a decoded value (dicts, lists, tuples, strings, scalars) nests deeper
    than `max_depth` or holds a string with a lone surrogate (in a key or a value). Iterative; exact
    types are tested first because this runs on every check."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is str:
            if not item.isascii():
                _check_text(item)
        elif kind in _SCALARS:
            continue
        elif kind is dict or kind is list or kind is tuple or isinstance(item, Mapping | list | tuple):
            if depth >= max_depth:
                raise LimitExceeded(_too_deep(max_depth))
            if isinstance(item, Mapping):
                for key, child in item.items():
                    if type(key) is str and not key.isascii():
                        _check_text(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):  # a str subclass
            _check_text(item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise LimitExceeded(
            f"a string holds a lone UTF-16 surrogate (character {err.start}), which is not text; "
            "send valid Unicode"
        ) from None


def _too_deep(max_depth: int) -> str:
    return f"the JSON nests deeper than {max_depth} levels; flatten it"


# -- the engine's input boundary -----------------------------------------------------------------

_REFUSED_KEY = "refused_input"


def admissible(action: Action) -> tuple[Action, str | None]:
    """`(action, None)` when every part of the action can be walked and encoded; else a stand-in
    and the reason. The stand-in keeps the tool and the caller's ids (lone surrogates replaced) and
    carries, instead of the arguments, a digest of them (computed without recursion, so a retry of
    the same input keeps its decision id). The engine decides a refused action as an error:
    nothing downstream ever walks the original arguments.

    The engine calls this first thing in its evaluation (see Engine._evaluate)."""
    context = action.context
    ids = (action.tool, action.call_id, context.tenant, context.user, context.agent, context.session,
           context.run, context.env, context.workspace)  # fmt: skip
    args = action.args
    if (
        _plain(ids)
        and _plain(args.values())
        and _plain(args.keys())
        and type(context.roles) is tuple
        and _plain(context.roles)
        and type(context.labels) is dict
        and _plain(context.labels.keys())
        and _plain(context.labels.values())
    ):
        return action, None  # the common case: flat arguments, roles and labels of ASCII text and numbers
    try:
        check_value(args)
        check_value((ids, context.roles, context.labels))
        return action, None
    except LimitExceeded as err:
        problem = f"the action cannot be checked: {err}"
    stand_in = Action(
        _text(action.tool) or "?",
        {_REFUSED_KEY: _digest(action.args)},
        None if action.call_id is None else _text(action.call_id),
        dataclasses.replace(
            context,
            **{
                k: _text(getattr(context, k))
                for k in ("tenant", "user", "agent", "session", "run", "env", "workspace")
            },
            roles=tuple(_text(r) or "" for r in context.roles),
            labels={_text(str(k)) or "": _text(str(v)) or "" for k, v in context.labels.items()},
        ),
    )
    return stand_in, problem


def _plain(values: Any) -> bool:
    for value in values:
        kind = type(value)
        if kind is str:
            if not value.isascii():
                return False
        elif kind not in _SCALARS:
            return False
    return True


def _text(value: str | None) -> str | None:
    return None if value is None else without_surrogates(value)


_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(text: str) -> str:
    """The string with each lone surrogate (which no encoder accepts) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def _digest(value: Any) -> str:
    """A stable hash of any nested value, walked iteratively (no depth limit, no recursion)."""
    h = blake2b(digest_size=16)
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            h.update(b"{%d" % len(item))
            for key in sorted(item, key=repr):
                h.update(repr(key).encode("utf-8", "surrogatepass"))
                stack.append(item[key])
        elif isinstance(item, list | tuple):
            h.update(b"[%d" % len(item))
            stack.extend(reversed(item))
        elif isinstance(item, str):
            h.update(b"s" + (_text(item) or "").encode())
        else:
            h.update(b"v" + repr(item).encode("utf-8", "replace"))
    return "blake2b:" + h.hexdigest()

"""Span rows -> the values one INSERT binds, sanitized and with the JSON columns already serialized.

Almost every span is clean, so the clean case is checked first, cheaply: a walk over the JSON
values' containers (plain types, string keys, 64-bit integers, depth), one serialization that refuses
NaN and Infinity, and a look at the serialized text for escaped NULs and lone surrogates. Anything
that check does not clear goes through `sanitize_rows`' exact path, so both paths store the same.
"""

from __future__ import annotations

import json.encoder
from collections.abc import Callable, Sequence
from dataclasses import fields
from operator import attrgetter
from typing import Any

from railguard._limits import _SURROGATE
from railguard.store._rows import SpanRow
from railguard.store._schema import spans

SPAN_FIELDS = tuple(f.name for f in fields(SpanRow))
JSON_FIELDS = frozenset({"attributes", "events", "resource"})
MAX_VALUE_DEPTH = 64
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_EMPTY: dict[type, str] = {dict: "{}", list: "[]", tuple: "[]"}
_SCALARS = frozenset({str, int, float, bool, type(None)})
_NUMBERS = frozenset({int, float, bool, type(None)})
# The C encoder json.dumps uses, built once (json.dumps with non-default options builds one per call):
# compact separators, non-ASCII kept, NaN/Infinity refused; no default (the walk admits plain types only).
_ENCODER = json.encoder.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_ENCODE: Callable[[Any, int], Sequence[str]] = (
    _C_ENCODER(None, None, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    if _C_ENCODER is not None
    else lambda value, _level: [_ENCODER.encode(value)]
)


def _values_of(columns: tuple[tuple[str, int | None], ...]) -> Callable[[SpanRow], tuple[Any, ...]]:
    get = attrgetter(*(name for name, _ in columns))
    return get if len(columns) > 1 else lambda row: (get(row),)


_ESCAPED_NUL = "\\u0000"  # json.dumps writes NUL as this escape even with ensure_ascii=False
# (field, VARCHAR length or None) for the non-JSON columns before and after the JSON ones (which
# are together in SpanRow), each with one getter for all their values.
_JSON_ORDER = tuple(name for name in SPAN_FIELDS if name in JSON_FIELDS)
_FIRST_JSON, _LAST_JSON = SPAN_FIELDS.index(_JSON_ORDER[0]), SPAN_FIELDS.index(_JSON_ORDER[-1])
assert SPAN_FIELDS[_FIRST_JSON : _LAST_JSON + 1] == _JSON_ORDER  # the JSON fields are together
_HEAD, _TAIL = (
    tuple((name, getattr(spans.c[name].type, "length", None)) for name in names)
    for names in (SPAN_FIELDS[:_FIRST_JSON], SPAN_FIELDS[_LAST_JSON + 1 :])
)
_HEAD_VALUES, _TAIL_VALUES = (_values_of(columns) for columns in (_HEAD, _TAIL))


def span_params(
    rows: Sequence[SpanRow], sanitized: Callable[[SpanRow], SpanRow], dumps: Callable[[Any], str]
) -> list[dict[str, Any]]:
    """One dict per row, keyed in SPAN_FIELDS order (so `tuple(p.values())` binds positionally).
    `sanitized` is the exact path for rows the fast check does not clear; `dumps` the store's
    JSON serializer, used on that path."""
    out: list[dict[str, Any]] = []
    serialized: dict[int, str | None] = {}  # by id: the rows of one resource share its dict
    for row in rows:
        params = _clean_params(row, serialized)
        if params is None:
            clean = sanitized(row)
            params = {name: getattr(clean, name) for name in SPAN_FIELDS}
            for name in JSON_FIELDS:
                params[name] = dumps(params[name])
        out.append(params)
    return out


def _clean_params(row: SpanRow, serialized: dict[int, str | None]) -> dict[str, Any] | None:
    """The row's values when nothing in it needs sanitizing, else None. Filled in SPAN_FIELDS order:
    the columns before the JSON ones, the JSON ones, the columns after."""
    params: dict[str, Any] = {}
    if not _clean_columns(_HEAD, _HEAD_VALUES(row), params):
        return None
    for name in _JSON_ORDER:
        value = getattr(row, name)
        if not value and type(value) in _EMPTY:
            text: str | None = _EMPTY[type(value)]
        elif name == "resource":
            key = id(value)
            text = serialized[key] if key in serialized else serialized.setdefault(key, _clean_json(value))
        else:
            text = _clean_json(value)
        if text is None:
            return None
        params[name] = text
    if not _clean_columns(_TAIL, _TAIL_VALUES(row), params):
        return None
    return params


def _clean_columns(
    columns: tuple[tuple[str, int | None], ...], values: tuple[Any, ...], params: dict[str, Any]
) -> bool:
    for (name, limit), value in zip(columns, values, strict=True):
        kind = type(value)
        if kind is str:
            if (limit is not None and len(value) > limit) or not _clean_text(value):
                return False
        elif kind is int:
            if not _INT64_MIN <= value <= _INT64_MAX:
                return False
        elif kind is float:
            if value - value != 0.0:  # NaN or +-Infinity
                return False
        elif kind not in _NUMBERS:
            return False
        params[name] = value
    return True


def _clean_text(text: str) -> bool:
    if text.isascii():
        return "\x00" not in text
    return "\x00" not in text and _SURROGATE.search(text) is None


def _clean_json(value: Any) -> str | None:
    if not _plain(value, 0):
        return None
    try:
        text = "".join(_ENCODE(value, 0))
    except ValueError:  # NaN or Infinity somewhere
        return None
    if _ESCAPED_NUL in text or not (text.isascii() or _SURROGATE.search(text) is None):
        return None
    return text


def _plain(value: Any, depth: int) -> bool:
    """Only dicts with str keys, lists, tuples, str, bool, None, finite-or-not floats (the
    serializer refuses the non-finite) and 64-bit ints, nested less than MAX_VALUE_DEPTH deep."""
    kind = type(value)
    if kind is dict:
        if depth >= MAX_VALUE_DEPTH:
            return False
        return all(type(key) is str and _plain_item(item, depth) for key, item in value.items())
    if kind is list or kind is tuple:
        if depth >= MAX_VALUE_DEPTH:
            return False
        return all(_plain_item(item, depth) for item in value)
    return _plain_item(value, depth - 1)


def _plain_item(item: Any, depth: int) -> bool:
    kind = type(item)
    if kind is int:
        return _INT64_MIN <= item <= _INT64_MAX
    if kind in _SCALARS:
        return True
    return (kind is dict or kind is list or kind is tuple) and _plain(item, depth + 1)

"""OTLP/JSON -> `ExportTraceServiceRequest` without `json_format`'s per-field Python.

`json_format.ParseDict` walks the document field by field through reflection: for OTLP/JSON that
cost about three times the whole protobuf request's ingest. Here the document is only renamed and
type-checked into constructor arguments (proto field names, ids as bytes, 64-bit integers as ints)
and the message is built by one call into the C protobuf runtime.

Only the plain, common shapes are taken: anything else — a bytes value, a quoted or non-finite
double, an unknown enum name, a value of the wrong type, two members of a oneof, a field given
twice — raises `NotPlain`, and the caller parses the document with `json_format` as before, so
what is accepted, rejected and reported stays exactly what `json_format` decides.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

# OTLP/JSON writes span and link ids as hex; an id that is not hex becomes empty, so its span is
# rejected as malformed (partial success), as in the json_format path.
_HEX_ID_MESSAGES = frozenset({"opentelemetry.proto.trace.v1.Span", "opentelemetry.proto.trace.v1.Span.Link"})
_HEX_ID_FIELDS = frozenset({"trace_id", "span_id", "parent_span_id"})
# Messages nested deeper are left to json_format, which refuses them past its own limit (100).
_MAX_DEPTH = 64
_DECIMAL = re.compile(r"-?[0-9]{1,20}")  # 64-bit integers as OTLP/JSON quotes them; no sign '+', no spaces
_INTEGERS = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_SFIXED64,
    }
)


class NotPlain(Exception):
    """The document has something only `json_format` decides."""


Convert = Callable[[Any, int], Any]  # (value, depth of the message it is in)
# json key (lowerCamel or proto name) -> (proto field name, converter, oneof name or None)
_Fields = dict[str, tuple[str, Convert, str | None]]


def request_from_json(document: dict[str, Any]) -> ExportTraceServiceRequest:
    """The request `json_format.ParseDict(document, ..., ignore_unknown_fields=True)` would build
    (after the hex ids are read); NotPlain when the document is not plain enough to say so here."""
    try:
        return ExportTraceServiceRequest(**_REQUEST(document, 0))
    except (ValueError, TypeError, OverflowError, RecursionError):  # out of range, wrong type, too deep
        raise NotPlain from None


def _message(descriptor: Descriptor) -> Convert:
    fields: _Fields = {}

    def convert(value: Any, depth: int) -> dict[str, Any]:
        if type(value) is not dict or depth >= _MAX_DEPTH:
            raise NotPlain
        depth += 1
        out: dict[str, Any] = {}
        oneofs: set[str] = set()
        for key, item in value.items():
            field = fields.get(key)
            if field is None:
                if key.startswith("["):  # an extension: json_format's business
                    raise NotPlain
                continue  # unknown fields are ignored
            name, to_value, oneof = field
            if name in out:
                raise NotPlain  # given twice (lowerCamel and proto name)
            if item is None:
                out[name] = None  # json_format leaves a null field unset; dropped below
                continue
            if oneof is not None:
                if oneof in oneofs:
                    raise NotPlain
                oneofs.add(oneof)
            out[name] = to_value(item, depth)
        if None in out.values():
            return {name: item for name, item in out.items() if item is not None}
        return out

    # Filled after `convert` exists: message types refer to each other (AnyValue <-> ArrayValue).
    _CONVERTERS[descriptor.full_name] = convert
    hex_ids = descriptor.full_name in _HEX_ID_MESSAGES
    for field in descriptor.fields:
        if field.message_type is not None:
            one = _CONVERTERS.get(field.message_type.full_name) or _message(field.message_type)
        elif hex_ids and field.name in _HEX_ID_FIELDS:
            one = _hex_id
        else:
            one = _scalar(field)
        to_value = _repeated(one) if field.is_repeated else one
        oneof = field.containing_oneof.name if field.containing_oneof is not None else None
        fields[field.json_name] = fields[field.name] = (field.name, to_value, oneof)
    return convert


_CONVERTERS: dict[str, Convert] = {}


def _repeated(one: Convert) -> Convert:
    def convert(value: Any, depth: int) -> list[Any]:
        if type(value) is not list:
            raise NotPlain
        return [one(item, depth) for item in value]

    return convert


def _scalar(field: FieldDescriptor) -> Convert:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return _string
    if kind == FieldDescriptor.TYPE_BOOL:
        return _bool
    if kind in _INTEGERS:
        return _integer
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return _double
    if kind == FieldDescriptor.TYPE_ENUM:
        numbers = {value.name: value.number for value in field.enum_type.values}
        return lambda value, _depth: _enum(value, numbers)
    return _not_plain  # bytes (base64) and anything else


def _string(value: Any, _depth: int) -> str:
    if type(value) is not str:
        raise NotPlain
    return value


def _bool(value: Any, _depth: int) -> bool:
    if type(value) is not bool:
        raise NotPlain
    return value


def _integer(value: Any, _depth: int) -> int:
    if type(value) is int:
        return value
    if type(value) is str and _DECIMAL.fullmatch(value):
        return int(value)
    raise NotPlain


def _double(value: Any, _depth: int) -> float:
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return float(value)
    raise NotPlain


def _enum(value: Any, numbers: dict[str, int]) -> int:
    if type(value) is int:
        return value
    if type(value) is str and value in numbers:
        return numbers[value]
    raise NotPlain


def _hex_id(value: Any, _depth: int) -> bytes:
    if type(value) is not str:
        raise NotPlain
    try:
        return bytes.fromhex(value)
    except ValueError:
        return b""


def _not_plain(_value: Any, _depth: int) -> Any:
    raise NotPlain


_REQUEST = _message(ExportTraceServiceRequest.DESCRIPTOR)

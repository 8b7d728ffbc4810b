"""Attribute keys -> wide span columns.

Three instrumentation families feed the store: the OpenTelemetry gen_ai semantic conventions (what
Railguard's own recorder emits), OpenInference (Arize/Phoenix) and OpenLLMetry (Traceloop). Each column
lists its candidate keys in priority order; the first present, non-empty value wins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

N = TypeVar("N", int, float)

MODEL_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
TOOL_OPERATION = "execute_tool"
AGENT_OPERATION = "invoke_agent"

_TEXT_KEYS: dict[str, tuple[str, ...]] = {
    "tenant": ("railguard.tenant",),
    "session": (
        "railguard.session",
        "gen_ai.conversation.id",
        "session.id",
        "traceloop.association.properties.session_id",
    ),
    "agent": ("gen_ai.agent.name", "railguard.agent", "agent.name"),
    "agent_version": ("railguard.agent.version", "gen_ai.agent.version"),
    "prompt_version": (
        "railguard.prompt.version",
        "gen_ai.prompt.version",
        "llm.prompt_template.version",
        "traceloop.prompt.version",
        "langfuse.observation.prompt.version",
    ),
    "provider": ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    "request_model": ("gen_ai.request.model", "llm.model_name"),
    "response_model": ("gen_ai.response.model", "llm.model_name"),
    "tool_name": ("gen_ai.tool.name", "tool.name"),
    "tool_call_id": ("gen_ai.tool.call.id", "tool_call.id"),
    "price_version": ("railguard.price.version",),
    "verdict": ("railguard.verdict",),
    "decision_id": ("railguard.decision_id",),
    "error_type": ("error.type",),
}

_INT_KEYS: dict[str, tuple[str, ...]] = {
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
    "output_tokens": (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
    ),
    "cache_read_tokens": (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
    ),
    "reasoning_tokens": (
        "gen_ai.usage.reasoning.output_tokens",
        "llm.token_count.completion_details.reasoning",
    ),
}

# openinference.span.kind -> gen_ai.operation.name. CHAIN only counts as an agent run at the root.
_OPENINFERENCE_KIND = {
    "LLM": "chat",
    "TOOL": "execute_tool",
    "AGENT": AGENT_OPERATION,
    "EMBEDDING": "embeddings",
}
# OpenLLMetry: llm.request.type on model spans, traceloop.span.kind on workflow/task/agent/tool spans.
_OPENLLMETRY_REQUEST_TYPE = {"chat": "chat", "completion": "text_completion", "embedding": "embeddings"}
_TRACELOOP_KIND = {"agent": AGENT_OPERATION, "tool": TOOL_OPERATION}

# OTLP protobuf numbering (SPAN_KIND_UNSPECIFIED = 0 ...). The Python SDK enum is passed by name instead.
_OTLP_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
_STATUSES = ("unset", "ok", "error")


def columns_from_attributes(
    attributes: Mapping[str, Any], resource: Mapping[str, Any], *, is_root: bool
) -> dict[str, Any]:
    """The column values found in a span's attributes and resource (missing ones are None)."""
    columns: dict[str, Any] = dict.fromkeys(_COLUMNS)
    # One pass over the span's (few) attributes instead of one lookup per candidate key. A text
    # column keeps its best-ranked value; a number column all of them (a malformed one is skipped).
    best: dict[str, tuple[int, Any]] = {}
    numbers: dict[str, list[tuple[int, Any]]] = {}
    for key, value in attributes.items():
        targets = _CANDIDATE_OF.get(key)
        if targets is not None and value is not None and value != "":
            for column, rank in targets:
                if column in _NUMBER_KEYS:
                    numbers.setdefault(column, []).append((rank, value))
                elif column not in best or rank < best[column][0]:
                    best[column] = (rank, value)
    for column, (_priority, value) in best.items():
        columns[column] = str(value)
    for column, found in numbers.items():
        found.sort(key=_rank)
        columns[column] = _first_converted(found, float if column == "cost_usd" else int)
    columns["operation"] = _operation(attributes, is_root=is_root)
    if columns["tool_name"] is None and columns["operation"] == TOOL_OPERATION:
        columns["tool_name"] = _first_text(attributes, ("traceloop.entity.name",))
    if columns["agent"] is None and is_root:
        columns["agent"] = _first_text(attributes, ("traceloop.workflow.name",))
    columns["service"] = _first_text(resource, ("service.name",))
    if columns["agent_version"] is None:
        columns["agent_version"] = _first_text(resource, ("service.version",))
    if columns["cost_usd"] is None and columns["operation"] in MODEL_OPERATIONS:
        _price(columns)
    columns["rules"] = _comma_list(attributes.get("railguard.rules"))
    return columns


_NUMBER_KEYS: dict[str, tuple[str, ...]] = {**_INT_KEYS, "cost_usd": ("railguard.cost.usd",)}
_COLUMNS = (*_TEXT_KEYS, *_NUMBER_KEYS, "operation", "service", "rules")
# attribute key -> the columns it may fill, each with the key's priority there (0 = first choice)
_CANDIDATE_OF: dict[str, list[tuple[str, int]]] = {}
for _column, _keys in (*_TEXT_KEYS.items(), *_NUMBER_KEYS.items()):
    for _priority, _key in enumerate(_keys):
        _CANDIDATE_OF.setdefault(_key, []).append((_column, _priority))


def _rank(candidate: tuple[int, Any]) -> int:
    return candidate[0]


def _first_converted(found: list[tuple[int, Any]], convert: Callable[[Any], N]) -> N | None:
    for _priority, value in found:
        if isinstance(value, bool):
            continue
        try:
            return convert(value)
        except (TypeError, ValueError):
            continue  # a malformed count from a foreign SDK is skipped, not fatal to ingest
    return None


def _price(columns: dict[str, Any]) -> None:
    """A model call that arrived unpriced (any OTLP instrumentation) is priced from the same table as
    Railguard's own spans, when its model and token counts are known; otherwise its cost stays unknown."""
    from railguard.trace._cost import model_call_cost

    model = columns["response_model"] or columns["request_model"]
    if not model or (columns["input_tokens"] is None and columns["output_tokens"] is None):
        return
    cost = model_call_cost(
        model,
        provider=columns["provider"],
        input_tokens=columns["input_tokens"] or 0,
        output_tokens=columns["output_tokens"] or 0,
        cache_read_tokens=columns["cache_read_tokens"] or 0,
        reasoning_tokens=columns["reasoning_tokens"] or 0,
    )
    if cost is not None:
        columns["cost_usd"] = cost.usd
        columns["price_version"] = columns["price_version"] or cost.price_version


def _operation(attributes: Mapping[str, Any], *, is_root: bool) -> str | None:
    explicit = _first_text(attributes, ("gen_ai.operation.name",))
    if explicit:
        return explicit
    oi_kind = str(attributes.get("openinference.span.kind") or "").upper()
    if oi_kind in _OPENINFERENCE_KIND:
        return _OPENINFERENCE_KIND[oi_kind]
    if oi_kind == "CHAIN" and is_root:
        return AGENT_OPERATION
    request_type = str(attributes.get("llm.request.type") or "").lower()
    if request_type in _OPENLLMETRY_REQUEST_TYPE:
        return _OPENLLMETRY_REQUEST_TYPE[request_type]
    tl_kind = str(attributes.get("traceloop.span.kind") or "").lower()
    if tl_kind in _TRACELOOP_KIND:
        return _TRACELOOP_KIND[tl_kind]
    if tl_kind == "workflow" and is_root:
        return AGENT_OPERATION
    return None


def normalize_kind(kind: Any) -> str:
    if isinstance(kind, int) and not isinstance(kind, bool):
        return _OTLP_KINDS[kind] if 0 <= kind < len(_OTLP_KINDS) else "unspecified"
    text = str(getattr(kind, "name", kind) or "internal").lower()
    return text.removeprefix("span_kind_").removeprefix("spankind.")


def normalize_status(status: Any) -> str:
    if isinstance(status, int) and not isinstance(status, bool):
        return _STATUSES[status] if 0 <= status < len(_STATUSES) else "unset"
    text = str(getattr(status, "name", status) or "unset").lower()
    text = text.removeprefix("status_code_").removeprefix("statuscode.")
    return text if text in _STATUSES else "unset"


def _first_text(source: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = source.get(key)
        if value is not None and value != "":
            return str(value)
    return None


def _comma_list(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        return ",".join(str(v) for v in value) or None
    return str(value)

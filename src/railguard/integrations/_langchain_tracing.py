"""LangChain callbacks as Railguard spans: chat model calls -> `chat {model}` (with token usage),
tool runs -> `execute_tool {tool}`, the outermost chain or graph -> `invoke_agent {name}`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from opentelemetry import trace as otel_trace
from opentelemetry.trace import SpanKind

from railguard._internal import internal_error, reported
from railguard.integrations.generic import CallbackSpans
from railguard.trace import ModelCall, ToolCall
from railguard.trace import _keys as k


def _message_dict(message: BaseMessage) -> dict[str, Any]:
    return {"role": message.type, "content": message.content}


def _json(value: Any) -> str:
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except Exception as err:
        internal_error("tracing.content", err, expected=True)
        return '"<unserializable>"'


def _model_name(
    serialized: Mapping[str, Any] | None, metadata: Mapping[str, Any], params: Mapping[str, Any]
) -> str:
    for value in (params.get("model"), params.get("model_name"), metadata.get("ls_model_name")):
        if isinstance(value, str) and value:
            return value
    ids = (serialized or {}).get("id") or []
    return str(ids[-1]) if ids else "unknown"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _usage(response: LLMResult) -> dict[str, int | None]:
    """Token usage from the message's `usage_metadata` (standard) or the provider's `llm_output`."""
    for generations in response.generations:
        for generation in generations:
            if isinstance(generation, ChatGeneration):
                usage = getattr(generation.message, "usage_metadata", None)
                if usage:
                    details_in = usage.get("input_token_details") or {}
                    details_out = usage.get("output_token_details") or {}
                    return {
                        "input_tokens": _int(usage.get("input_tokens")),
                        "output_tokens": _int(usage.get("output_tokens")),
                        "cache_read_tokens": _int(details_in.get("cache_read")),
                        "reasoning_tokens": _int(details_out.get("reasoning")),
                    }
    token_usage = (
        (response.llm_output or {}).get("token_usage") or (response.llm_output or {}).get("usage") or {}
    )
    return {
        "input_tokens": _int(token_usage.get("prompt_tokens", token_usage.get("input_tokens"))),
        "output_tokens": _int(token_usage.get("completion_tokens", token_usage.get("output_tokens"))),
        "cache_read_tokens": None,
        "reasoning_tokens": None,
    }


class RailguardCallbackHandler(BaseCallbackHandler):
    """Pass as a callback (`config={"callbacks": [RailguardCallbackHandler()]}`) after
    `configure_tracing(...)`. Tools wrapped with `guard_tool` already open their `execute_tool`
    span; the handler records onto that span instead of opening a second one. Tracing problems
    never reach the chain."""

    run_inline = True  # called in the caller's context: sees the guard's open tool span
    raise_error = False

    def __init__(self, *, provider: str | None = None) -> None:
        self.provider = provider
        self._spans = CallbackSpans()
        self._models: dict[uuid.UUID, ModelCall] = {}

    # -- chains and agents -----------------------------------------------------------------------

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        with reported("integrations.langchain_tracing"):
            if parent_run_id is not None:  # graph nodes, sub-chains: their children pass through
                self._spans.alias(run_id, parent_run_id)
                return
            outer = otel_trace.get_current_span()
            if outer.is_recording():  # inside railguard.run(...): that is the agent span
                self._spans.adopt(run_id, outer)
                return
            agent = name or ((serialized or {}).get("name")) or "chain"
            attributes = {k.OPERATION: k.OP_AGENT, k.AGENT_NAME: agent}
            self._spans.start(run_id, f"{k.OP_AGENT} {agent}", attributes)

    def on_chain_end(self, outputs: Any, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        with reported("integrations.langchain_tracing"):
            self._spans.end(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        with reported("integrations.langchain_tracing"):
            self._spans.end(run_id, error_type=type(error).__qualname__)

    # -- models ----------------------------------------------------------------------------------

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[BaseMessage]],
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        with reported("integrations.langchain_tracing"):
            inputs = [_message_dict(m) for batch in messages for m in batch]
            self._start_model(serialized, run_id, parent_run_id, metadata or {}, kwargs, inputs)

    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        with reported("integrations.langchain_tracing"):
            inputs = [{"role": "user", "content": prompt} for prompt in prompts]
            self._start_model(serialized, run_id, parent_run_id, metadata or {}, kwargs, inputs)

    def _start_model(
        self,
        serialized: Mapping[str, Any] | None,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None,
        metadata: Mapping[str, Any],
        kwargs: Mapping[str, Any],
        inputs: Sequence[Mapping[str, Any]],
    ) -> None:
        params = kwargs.get("invocation_params") or {}
        model = _model_name(serialized, metadata, params)
        provider = self.provider or str(metadata.get("ls_provider") or "langchain")
        attributes: dict[str, Any] = {k.OPERATION: k.OP_CHAT, k.PROVIDER: provider, k.REQUEST_MODEL: model}
        capture = self._spans.capture_content
        if capture:
            attributes[k.INPUT_MESSAGES] = _json(list(inputs))
        span = self._spans.start(
            run_id, f"{k.OP_CHAT} {model}", attributes, parent=parent_run_id, kind=SpanKind.CLIENT
        )
        if span is not None:
            self._models[run_id] = ModelCall(span, provider, model, capture)

    def on_llm_end(self, response: LLMResult, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        with reported("integrations.langchain_tracing"):
            call = self._models.pop(run_id, None)
            if call is not None:
                model = (response.llm_output or {}).get("model_name") or (response.llm_output or {}).get(
                    "model"
                )
                call.record_usage(
                    **_usage(response), response_model=model if isinstance(model, str) else None
                )
                outputs = [
                    _message_dict(g.message)
                    if isinstance(g, ChatGeneration)
                    else {"role": "ai", "content": g.text}
                    for generations in response.generations
                    for g in generations
                ]
                call.record_output(outputs)
            self._spans.end(run_id)

    def on_llm_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        with reported("integrations.langchain_tracing"):
            self._models.pop(run_id, None)
            self._spans.end(run_id, error_type=type(error).__qualname__)

    # -- tools -----------------------------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        with reported("integrations.langchain_tracing"):
            name = str((serialized or {}).get("name") or kwargs.get("name") or "tool")
            guarded = otel_trace.get_current_span()
            if guarded.is_recording() and getattr(guarded, "name", None) == f"{k.OP_TOOL} {name}":
                self._spans.adopt(run_id, guarded)  # guard_tool's span: it holds the decision
                return
            attributes: dict[str, Any] = {k.OPERATION: k.OP_TOOL, k.TOOL_NAME: name}
            call_id = kwargs.get("tool_call_id")
            if call_id:
                attributes[k.TOOL_CALL_ID] = str(call_id)
            if self._spans.capture_content:
                attributes[k.TOOL_ARGUMENTS] = _json(inputs) if inputs is not None else _json(input_str)
            self._spans.start(run_id, f"{k.OP_TOOL} {name}", attributes, parent=parent_run_id)

    def on_tool_end(self, output: Any, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        with reported("integrations.langchain_tracing"):
            span = self._spans.get(run_id)
            if span is not None:
                content = output.content if isinstance(output, ToolMessage) else output
                ToolCall(span, "", self._spans.capture_content).record_result(content)
                if isinstance(output, ToolMessage) and output.status == "error":
                    span.set_attribute(k.ERROR_TYPE, "ToolError")
            self._spans.end(run_id)

    def on_tool_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        with reported("integrations.langchain_tracing"):
            self._spans.end(run_id, error_type=type(error).__qualname__)

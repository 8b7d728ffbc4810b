"""Rebuilding what an OpenAI stream describes from its events (SDK objects or dicts).

Chat Completions: `chat.completion.chunk`s carry per-choice deltas (content fragments, tool call
fragments keyed by `index`: the first holds the id and name, the rest pieces of the arguments) and
a `finish_reason` at the end; usage comes only with `stream_options={"include_usage": True}`, in an
extra last chunk whose `choices` is empty. Responses: typed events, the last of which
(`response.completed`, `.incomplete` or `.failed`) carries the whole Response; an `error` event
reports a failure without the SDK raising."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from railguard.integrations._model_spans import field, plain

_CALL_TEXT_FIELDS = ("id", "name", "arguments")
_FINAL_RESPONSE_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


@dataclass(slots=True)
class _Choice:
    finish_reason: str | None = None
    content: list[str] = dataclass_field(default_factory=list)
    refusal: list[str] = dataclass_field(default_factory=list)
    # tool call index -> {"id" | "name" | "arguments": fragments, "type": ...}
    calls: dict[int, dict[str, Any]] = dataclass_field(default_factory=dict)

    def add(self, delta: Any) -> None:
        for name, parts in (("content", self.content), ("refusal", self.refusal)):
            text = field(delta, name)
            if text:
                parts.append(text)
        for call in field(delta, "tool_calls") or []:
            entry = self.calls.setdefault(
                int(field(call, "index") or 0), {"type": "function", **{n: [] for n in _CALL_TEXT_FIELDS}}
            )
            entry["type"] = field(call, "type") or entry["type"]
            function = field(call, "function")
            # Strings concatenate, as the SDK's own accumulator does: a name or id sent in pieces joins up.
            for name, value in (
                ("id", field(call, "id")),
                ("name", field(function, "name")),
                ("arguments", field(function, "arguments")),
            ):
                if value:
                    entry[name].append(value)

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.content) or None}
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        if self.calls:  # the API rejects an empty tool_calls list when the message is sent back
            message["tool_calls"] = [
                {
                    "id": "".join(entry["id"]),
                    "type": entry["type"],
                    "function": {"name": "".join(entry["name"]), "arguments": "".join(entry["arguments"])},
                }
                for _, entry in sorted(self.calls.items())
            ]
        return message


class ChatAccumulator:
    """`add` every ChatCompletionChunk; `result()` is a ChatCompletion-shaped dict (None before
    the first chunk). With `keep_content=False` only model, usage and finish reasons are kept."""

    __slots__ = ("_choices", "_id", "_keep_content", "_model", "_usage")

    def __init__(self, keep_content: bool = True) -> None:
        self._keep_content = keep_content
        self._id: str | None = None
        self._model: str | None = None
        self._usage: Any = None
        self._choices: dict[int, _Choice] = {}

    def add(self, chunk: Any) -> None:
        if self._model is None:
            self._id, self._model = field(chunk, "id"), field(chunk, "model")
        usage = field(chunk, "usage")
        if usage is not None:
            self._usage = usage
        for choice in field(chunk, "choices") or []:
            state = self._choices.setdefault(int(field(choice, "index") or 0), _Choice())
            reason = field(choice, "finish_reason")
            if reason:
                state.finish_reason = reason
            if self._keep_content:
                state.add(field(choice, "delta"))

    def result(self) -> dict[str, Any] | None:
        if self._model is None and not self._choices:
            return None
        completion: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion",
            "model": self._model,
            "choices": [
                {"index": index, "message": choice.message(), "finish_reason": choice.finish_reason}
                for index, choice in sorted(self._choices.items())
            ],
        }
        if self._usage is not None:
            completion["usage"] = plain(self._usage)
        return completion

    def failure(self) -> str | None:
        return None  # the SDK raises on an error payload


class ResponsesAccumulator:
    """`add` every Responses stream event; `result()` is the final Response (the SDK object, or a
    dict for dict events), None until a final event arrived."""

    __slots__ = ("_failure", "_response")

    def __init__(self, keep_content: bool = True) -> None:  # the final event carries everything
        self._response: Any = None
        self._failure: str | None = None

    def add(self, event: Any) -> None:
        kind = field(event, "type")
        if kind in _FINAL_RESPONSE_EVENTS:
            self._response = field(event, "response")
            if kind == "response.failed":
                self._failure = str(field(field(self._response, "error"), "code") or "response.failed")
        elif kind == "error":
            self._failure = str(field(event, "code") or "error")

    def result(self) -> Any:
        return self._response

    def failure(self) -> str | None:
        return self._failure


def accumulator_for(event: Any) -> ChatAccumulator | ResponsesAccumulator:
    """The accumulator for a stream, told by its first event."""
    if field(event, "choices") is not None or field(event, "object") == "chat.completion.chunk":
        return ChatAccumulator()
    kind = field(event, "type")
    if isinstance(kind, str) and (kind.startswith("response.") or kind == "error"):
        return ResponsesAccumulator()
    raise TypeError(
        f"expected ChatCompletionChunks or Responses stream events, got {type(event).__name__}; "
        "pass what `chat.completions.create(stream=True)` or `responses.create(stream=True)` yields"
    )

"""Rebuilding the Message a Messages API stream describes from its raw events (SDK objects or the
JSON as dicts): `message_start` carries the model and the input-side usage, `content_block_start` /
`_delta` / `_stop` build each content block (tool input arrives as `input_json_delta` fragments of
one JSON text), and `message_delta` brings the stop reason and usage counts that are CUMULATIVE
(a later value replaces an earlier one, never adds to it)."""

from __future__ import annotations

import json
from typing import Any

from railguard.integrations._model_spans import field, plain

# Delta kind -> (the block field it extends, the delta field holding the fragment).
_TEXT_DELTAS = {
    "text_delta": ("text", "text"),
    "thinking_delta": ("thinking", "thinking"),
    "input_json_delta": ("input", "partial_json"),
}


class MessageAccumulator:
    """`add` every raw event; `result()` is the Message so far as a dict (None before
    `message_start`). With `keep_content=False` only the model, usage and stop reason are kept."""

    __slots__ = ("_blocks", "_fragments", "_keep_content", "_message", "_usage")

    def __init__(self, keep_content: bool = True) -> None:
        self._keep_content = keep_content
        self._message: dict[str, Any] | None = None
        self._usage: dict[str, Any] = {}
        self._blocks: dict[int, dict[str, Any]] = {}
        self._fragments: dict[tuple[int, str], list[str]] = {}  # joined once, in result()

    def add(self, event: Any) -> None:
        kind = field(event, "type")
        if kind == "message_start":
            message = field(event, "message")
            self._message = {
                "id": field(message, "id"),
                "model": field(message, "model"),
                "stop_reason": field(message, "stop_reason"),
                "stop_sequence": field(message, "stop_sequence"),
            }
            self._usage = plain(field(message, "usage"))
        elif kind == "message_delta" and self._message is not None:
            delta = field(event, "delta")
            for key in ("stop_reason", "stop_sequence"):
                value = field(delta, key)
                if value is not None:
                    self._message[key] = value
            self._usage.update((key, value) for key, value in plain(field(event, "usage")).items())
        elif not self._keep_content:
            return
        elif kind == "content_block_start":
            index = int(field(event, "index") or 0)
            self._blocks[index] = plain(field(event, "content_block"))
        elif kind == "content_block_delta":
            self._add_delta(int(field(event, "index") or 0), field(event, "delta"))

    def _add_delta(self, index: int, delta: Any) -> None:
        kind = field(delta, "type")
        target = _TEXT_DELTAS.get(kind)
        if target is not None:
            block_field, delta_field = target
            self._fragments.setdefault((index, block_field), []).append(str(field(delta, delta_field) or ""))
        elif kind == "signature_delta" and index in self._blocks:
            self._blocks[index]["signature"] = field(delta, "signature")
        elif kind == "citations_delta" and index in self._blocks:
            self._blocks[index].setdefault("citations", []).append(plain(field(delta, "citation")))

    def result(self) -> dict[str, Any] | None:
        if self._message is None:
            return None
        content = []
        for index in sorted(self._blocks):
            block = dict(self._blocks[index])
            for (at, name), parts in self._fragments.items():
                if at == index:
                    block[name] = _tool_input("".join(parts)) if name == "input" else "".join(parts)
            content.append(block)
        return {
            **self._message,
            "type": "message",
            "role": "assistant",
            "content": content,
            "usage": dict(self._usage),
        }

    def failure(self) -> str | None:
        return None  # the SDK raises on an `error` event


def _tool_input(text: str) -> Any:
    """The tool input JSON; a text that does not parse stays a string, which `tool_requests` blocks
    as malformed arguments rather than guessing."""
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return text

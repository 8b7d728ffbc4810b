"""Local HTTP servers that speak the Anthropic Messages and OpenAI Chat Completions / Responses wire
formats, so the tests drive the REAL `anthropic` and `openai` clients (pointed at them with
`base_url=`). Each test scripts the turns: a turn is a function of the request body that may assert
on it (a failed check is reported back as an HTTP 500 and kept in `failures`) and returns the
status and JSON payload to answer with, or an `SSE` answer: Server-Sent Events written and flushed
one by one, as the APIs stream (`event:` line with the event name when the API names them, `data:`
line with the JSON, blank line)."""

from __future__ import annotations

import contextlib
import json
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from railguard.store import SpanRow, open_store
from railguard.trace import Tracing, active_tracing, configure_tracing


@dataclass
class SSE:
    """A streamed answer. `events`: (event name or None, data: a JSON object or a raw string such as
    OpenAI's `[DONE]`). With `hold_after=n` the server stops after n events until `resume` is set,
    and records a failure if that does not happen within `HOLD_SECONDS`: a client that only sees
    events once the whole body arrived (a buffering wrapper) can never set it in time."""

    events: list[tuple[str | None, Any]]
    hold_after: int | None = None
    resume: threading.Event = field(default_factory=threading.Event)


HOLD_SECONDS = 10.0
Answer = dict[str, Any] | SSE
Turn = Callable[[dict[str, Any]], tuple[int, Answer]]


@dataclass
class FakeProvider:
    """Answers POSTs with the scripted turns, in order; records every request (path, JSON body)."""

    turns: list[Turn] = field(default_factory=list)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    url: str = ""

    def script(self, *turns: Turn) -> None:
        self.turns.extend(turns)

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, Answer]:
        self.requests.append((path, body))
        if not self.turns:
            self.failures.append(f"unexpected request #{len(self.requests)} to {path}")
            return 500, error_body(f"no turn scripted for request #{len(self.requests)}")
        turn = self.turns.pop(0)
        try:
            return turn(body)
        except Exception:  # a failed assertion on the request (or a KeyError reading it)
            self.failures.append(traceback.format_exc())
            return 500, error_body(f"the fake provider's check failed: {traceback.format_exc(limit=1)}")


def error_body(message: str, kind: str = "api_error") -> dict[str, Any]:
    """Both providers put the error under `error` with a `type` and a `message`."""
    return {"type": "error", "error": {"type": kind, "message": message}}


def _handler(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            status, payload = provider.answer(self.path, body)
            if isinstance(payload, SSE):
                self._stream(status, payload)
                return
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("retry-after", "0")
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, status: int, answer: SSE) -> None:
            # HTTP/1.0 without Content-Length: the body ends when the connection closes, and each
            # write reaches the client at once (the handler's output is unbuffered).
            self.send_response(status)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for sent, (name, data) in enumerate(answer.events):
                if sent == answer.hold_after and not answer.resume.wait(HOLD_SECONDS):
                    provider.failures.append(f"the client did not receive the first {sent} events in time")
                lines = f"event: {name}\n" if name else ""
                lines += f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
                try:
                    self.wfile.write(lines.encode())
                except (BrokenPipeError, ConnectionResetError):  # the client closed the stream early
                    return

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

    return Handler


@contextlib.contextmanager
def serving() -> Iterator[FakeProvider]:
    """A running fake provider; fails the test if a turn's assertion failed or a turn was left over."""
    fake = FakeProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    assert fake.failures == []
    assert fake.turns == [], "the client made fewer model calls than scripted"


TENANT = "acme"  # the tests' runs: `railguard.run(agent=..., tenant=TENANT)`


@dataclass
class TracedStore:
    """Tracing on into a SQLite file; `spans()` reads every stored span back with railguard.store."""

    setup: Tracing
    url: str

    def spans(self) -> list[SpanRow]:
        assert self.setup.flush()
        store = open_store(self.url)
        try:
            return [
                row
                for run in store.list_runs(tenant=TENANT)
                for row in store.get_trace(run.trace_id, tenant=TENANT)
            ]
        finally:
            store.close()


@contextlib.contextmanager
def tracing_into(folder: Path) -> Iterator[TracedStore]:
    """Tracing into a fresh SQLite store, shut down afterwards (tests never share a setup)."""
    url = f"sqlite:///{folder / 'traces.db'}"
    setup = configure_tracing(url, service_name="integration-tests")
    try:
        yield TracedStore(setup, url)
    finally:
        setup.shutdown()
        active = active_tracing()
        if active is not None:
            active.shutdown()


# -- wire payloads -------------------------------------------------------------------------------


def anthropic_message(
    content: list[dict[str, Any]],
    *,
    stop_reason: str,
    model: str = "claude-sonnet-4-6",
    input_tokens: int = 10,
    output_tokens: int = 5,
    cache_read: int = 0,
    cache_write: int = 0,
) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": cache_write,
        },
    }


def tool_use(call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": args}


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def chat_completion(
    message: dict[str, Any],
    *,
    finish_reason: str,
    model: str = "gpt-4o-2024-08-06",
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    cached_tokens: int = 0,
    reasoning_tokens: int = 0,
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish_reason}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
        },
    }


def chat_tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def response_object(
    output: list[dict[str, Any]],
    *,
    model: str = "gpt-4o-2024-08-06",
    input_tokens: int = 10,
    output_tokens: int = 5,
    cached_tokens: int = 0,
    reasoning_tokens: int = 0,
) -> dict[str, Any]:
    return {
        "id": "resp_fake",
        "object": "response",
        "created_at": 1_700_000_000,
        "status": "completed",
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": cached_tokens, "cache_write_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": input_tokens + output_tokens,
        },
    }


def function_call_item(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": f"fc_{call_id}",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }


def output_text_item(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": "msg_out",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


# -- streamed wire payloads ----------------------------------------------------------------------


def _halves(text: str) -> list[str]:
    """A text cut in two fragments, as deltas arrive (a one-character text stays whole)."""
    middle = len(text) // 2
    return [text[:middle], text[middle:]] if middle else [text]


def anthropic_stream(message: dict[str, Any]) -> SSE:
    """The Messages API stream of `message` (from `anthropic_message`): message_start with the input
    usage and no content, a ping, per block a start, its deltas (text pieces; tool input as
    `input_json_delta` fragments of the JSON text) and a stop, then message_delta with the stop
    reason and the cumulative output tokens, and message_stop."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str | None, Any]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(message["content"]):
        if block["type"] == "tool_use":
            opened, deltas = (
                {**block, "input": {}},
                [
                    {"type": "input_json_delta", "partial_json": part}
                    for part in _halves(json.dumps(block["input"]))
                ],
            )
        else:
            opened, deltas = (
                {**block, "text": ""},
                [{"type": "text_delta", "text": part} for part in _halves(block["text"])],
            )
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": opened})
        )
        events += [
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            for delta in deltas
        ]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events += [
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return SSE(events)


def anthropic_stream_error(message: dict[str, Any], after: int, kind: str = "overloaded_error") -> SSE:
    """The first `after` events of `message`'s stream, then an `error` event (the API's mid-stream
    failure, e.g. overloaded_error)."""
    events = anthropic_stream(message).events[:after]
    events.append(("error", {"type": "error", "error": {"type": kind, "message": "Overloaded"}}))
    return SSE(events)


def chat_stream(completion: dict[str, Any], *, include_usage: bool) -> SSE:
    """The Chat Completions stream of `completion` (from `chat_completion`): unnamed `data:` events
    of chat.completion.chunk objects (role first, then content pieces or tool call fragments: the
    first with id, type and name, the others pieces of the arguments), the finish_reason chunk,
    with include_usage a last chunk with the usage and no choices (`usage: null` on the others),
    and `data: [DONE]`."""
    choice = completion["choices"][0]
    message = choice["message"]
    head = {k: completion[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> tuple[str | None, Any]:
        return None, {
            **head,
            **extra,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    events: list[tuple[str | None, Any]] = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": part}) for part in _halves(message.get("content") or "") if part]
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call["function"]
        first = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": function["name"], "arguments": ""},
        }
        events.append(chunk({"tool_calls": [first]}))
        events += [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
            for part in _halves(function["arguments"])
        ]
    events.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        events.append((None, {**head, "choices": [], "usage": completion["usage"]}))
    events.append((None, "[DONE]"))
    return SSE(events)


def chat_stream_error(completion: dict[str, Any], after: int) -> SSE:
    """The first `after` chunks, then the error payload OpenAI sends inside a stream."""
    events = chat_stream(completion, include_usage=True).events[:after]
    events.append((None, {"error": {"message": "The server had an error", "type": "server_error"}}))
    return SSE(events)


def responses_stream(response: dict[str, Any], *, final: str = "response.completed") -> SSE:
    """The Responses API stream of `response` (from `response_object`): named events, each with its
    `type` and `sequence_number`: response.created (in progress, no output, no usage), per output
    item an output_item.added, its parts (a message: content_part.added, output_text.delta pieces,
    output_text.done, content_part.done; a function call: function_call_arguments.delta pieces and .done) and
    output_item.done, then `final` (response.completed) carrying the whole response."""
    events: list[tuple[str | None, Any]] = []

    def emit(kind: str, **data: Any) -> None:
        events.append((kind, {"type": kind, "sequence_number": len(events), **data}))

    emit("response.created", response={**response, "status": "in_progress", "output": [], "usage": None})
    for index, item in enumerate(response["output"]):
        if item["type"] == "function_call":
            emit(
                "response.output_item.added",
                output_index=index,
                item={**item, "arguments": "", "status": "in_progress"},
            )
            for part in _halves(item["arguments"]):
                emit(
                    "response.function_call_arguments.delta",
                    item_id=item["id"],
                    output_index=index,
                    delta=part,
                )
            emit(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                arguments=item["arguments"],
            )
        else:
            text = item["content"][0]["text"]
            emit(
                "response.output_item.added",
                output_index=index,
                item={**item, "content": [], "status": "in_progress"},
            )
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            emit(
                "response.content_part.added",
                **where,
                part={"type": "output_text", "text": "", "annotations": []},
            )
            for part in _halves(text):
                emit("response.output_text.delta", **where, delta=part, logprobs=[])
            emit("response.output_text.done", **where, text=text, logprobs=[])
            emit("response.content_part.done", **where, part=item["content"][0])
        emit("response.output_item.done", output_index=index, item=item)
    emit(final, response=response)
    return SSE(events)


def stored_spans(tracing: Tracing) -> list[SpanRow]:
    """Every span a tracing setup stored, after a flush."""
    assert tracing.flush()
    store = tracing.store
    assert store is not None
    runs = store.list_runs(tenant=None, limit=50)
    return [row for r in runs for row in store.get_trace(r.trace_id, tenant=None)]

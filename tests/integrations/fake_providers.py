"""Local HTTP servers that speak the Anthropic Messages and OpenAI Chat Completions / Responses wire
formats, so the tests drive the REAL `anthropic` and `openai` clients (pointed at them with
`base_url=`). Each test scripts the turns: a turn is a function of the request body that may assert
on it (a failed check is reported back as an HTTP 500 and kept in `failures`) and returns the
status and JSON payload to answer with."""

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

Turn = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


@dataclass
class FakeProvider:
    """Answers POSTs with the scripted turns, in order; records every request (path, JSON body)."""

    turns: list[Turn] = field(default_factory=list)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    url: str = ""

    def script(self, *turns: Turn) -> None:
        self.turns.extend(turns)

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
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
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("retry-after", "0")
            self.end_headers()
            self.wfile.write(data)

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

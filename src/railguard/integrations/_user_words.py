"""The user's words in a model request, recorded on the engine as the user speaking.

An instrumented client (`anthropic.instrument(client, engine=engine)`, `openai.instrument(...)`) reads
every request before it is sent: the system prompt is trusted text (`engine.record_system_input`), and
the user's new words are the user speaking (`engine.record_user_input`), which provenance reads (values
there are the user's; the user speaking starts a new turn). The context is the enclosing `railguard.run`.

Only new words count. The new words are the user turn that ends the request: the text of `user` messages
after the model's last turn. Tool results are not the user's words (Anthropic's `tool_result` blocks in a
`user` message, OpenAI's `tool` messages and `function_call_output` items), and the history a request
resends is not said again: a message already recorded for the run (same place, same text) is skipped, so
resending the conversation never restores a run that untrusted content has flagged.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from railguard.integrations._model_spans import field
from railguard.model import Context, current_context

if TYPE_CHECKING:
    from railguard.engine import Engine

_SYSTEM_ROLES = frozenset({"system", "developer"})
_TEXT_BLOCKS = frozenset({"text", "input_text"})
_MAX_REMEMBERED = 4096  # (run, place, text) keys per engine: a bounded memory of what was said


class InputRecorder:
    """Records the words of each request once per run; one per engine, shared by its clients."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._said: OrderedDict[tuple[str, ...], None] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, messages: Any) -> None:
        """Record the system texts and the new user words of one request's messages (the shape
        `ProviderSpans.input_messages` gives: role/content dicts or SDK objects, items of the
        Responses API included)."""
        items = list(messages) if isinstance(messages, Iterable) and not isinstance(messages, str) else []
        if not items:
            return
        context = current_context()
        run = (context.tenant or "", context.run or context.session or "")
        for place, speaker, text in _words(items):
            if self._first_time((*run, speaker, str(place), hashlib.sha256(text.encode()).hexdigest())):
                if speaker == "user":
                    self._engine.record_user_input(text, context=context)
                else:
                    self._engine.record_system_input(text, context=context)

    def record_usage(self, tokens: int, cost: float, *, context: Context) -> None:
        """What one request spent, charged to the run's budgets (the request's own run context)."""
        self._engine.record_usage(tokens=tokens, cost=cost, context=context)

    def _first_time(self, key: tuple[str, ...]) -> bool:
        with self._lock:
            if key in self._said:
                self._said.move_to_end(key)
                return False
            self._said[key] = None
            if len(self._said) > _MAX_REMEMBERED:
                self._said.popitem(last=False)
            return True


def _words(items: list[Any]) -> list[tuple[int, str, str]]:
    """(place, speaker, text): system texts anywhere, user texts after the model's last turn."""
    last_model_turn = max((i for i, item in enumerate(items) if _is_model_turn(item)), default=-1)
    out: list[tuple[int, str, str]] = []
    for place, item in enumerate(items):
        role = field(item, "role")
        if role in _SYSTEM_ROLES:
            out += [(place, "system", text) for text in _texts(field(item, "content"))]
        elif role == "user" and place > last_model_turn:
            out += [(place, "user", text) for text in _texts(field(item, "content"))]
    return out


def _is_model_turn(item: Any) -> bool:
    """An assistant message, or a Responses API item the model produced (`function_call`, `reasoning` ...)."""
    kind = str(field(item, "type") or "")
    return field(item, "role") == "assistant" or kind.endswith("_call") or kind == "reasoning"


def _texts(content: Any) -> list[str]:
    """The text a message's content says: a string, or its text blocks (never tool results, images,
    documents)."""
    if isinstance(content, str):
        return [content] if content.strip() else []
    if not isinstance(content, Iterable):
        return []
    out = []
    for block in content:
        if isinstance(block, str):
            text: Any = block
        elif field(block, "type") in _TEXT_BLOCKS:
            text = field(block, "text")
        else:
            continue
        if isinstance(text, str) and text.strip():
            out.append(text)
    return out


_recorders: weakref.WeakKeyDictionary[Engine, InputRecorder] = weakref.WeakKeyDictionary()
_recorders_lock = threading.Lock()


def recorder_for(engine: Engine) -> InputRecorder:
    """The engine's one recorder (every client instrumented with it shares what was said)."""
    with _recorders_lock:
        found = _recorders.get(engine)
        if found is None:
            found = _recorders[engine] = InputRecorder(engine)
        return found

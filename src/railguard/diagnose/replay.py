"""Replaying agent transcripts through the engine, with every stateful guard: `railguard replay`, and
what the backtest and the benchmarks read.

A transcript is JSON Lines, one event an object; runs may interleave. Each event has `run` (a
string) and `type`:

    {"run": R, "type": "system" | "user", "content": TEXT}
    {"run": R, "type": "action", "id": CALL_ID, "tool": NAME, "args": {...}, "context": {...}}
    {"run": R, "type": "tool_result", "id": CALL_ID, "tool": NAME, "content": TEXT}
    {"run": R, "type": "usage", "tokens": N, "cost": USD, "context": {...}}

`system` and `user` text is trusted; the user speaking starts a new turn (run-level integrity is
restored). An action is decided as `railguard check` decides it, with the run's context; a
`tool_result` answers the action with the same id and is fed to the output observers (provenance);
`usage` is what a model call of the run spent, reported to the engine's usage observers (budgets).
Actions without a result are fine. See docs/replay.md.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from railguard._jsonl import Item
from railguard.engine import Engine
from railguard.model import Action, Context, Decision

__all__ = ["EVENT_TYPES", "ReplayResult", "Replayer"]

EVENT_TYPES = ("system", "user", "action", "tool_result", "usage")
_MAX_ACTIONS_REMEMBERED = 100_000  # call id -> action, so a result can be matched to its call
_ACTION_KEYS = frozenset(("run", "type", "tool", "args", "context", "id", "call_id"))


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What one transcript line produced: a decision for an action line, an error for a bad line."""

    line: int
    run: str | None = None
    call_id: str | None = None
    decision: Decision | None = None
    error: str | None = None

    def to_json_line(self) -> dict[str, Any]:
        if self.decision is None:
            return {"line": self.line, "run": self.run, "error": self.error}
        out = {"line": self.line, "run": self.run, "id": self.call_id}
        out.update(self.decision.to_json_line())
        return out


class Replayer:
    """Feeds transcript events to an engine in order: user and system words to its input observers
    (provenance), actions to `check`, results to `check_output` (and so its output observers)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._contexts: dict[str, Context] = {}
        # Ordered for O(1) eviction of the oldest (popping a plain dict's first key slows down as
        # deleted slots pile up at its front).
        self._actions: OrderedDict[tuple[str, str], Action] = OrderedDict()
        self._parsed: dict[
            str, tuple[dict[str, Any] | None, Context]
        ] = {}  # run -> (context as given, parsed)

    def replay(self, items: Iterable[Item]) -> Iterator[ReplayResult]:
        """Replay parsed transcript lines (`railguard._jsonl.read_objects`); yields a result for every
        action and every bad line, in input order."""
        for item in items:
            if item.error is not None:
                yield ReplayResult(item.line, error=item.error)
                continue
            result = self.feed(item.line, item.value)
            if result is not None:
                yield result

    def feed(self, line: int, event: Any) -> ReplayResult | None:
        try:
            return self._feed(line, event)
        except ValueError as err:
            run = event.get("run") if isinstance(event, Mapping) else None
            return ReplayResult(line, run if isinstance(run, str) else None, error=f"line {line}: {err}")

    def _feed(self, line: int, event: Any) -> ReplayResult | None:
        if not isinstance(event, Mapping):
            raise ValueError("an event must be a JSON object with 'run' and 'type'")
        run, kind = event.get("run"), event.get("type")
        if not isinstance(run, str) or not run:
            raise ValueError("'run' must be a non-empty string (the run the event belongs to)")
        if kind not in EVENT_TYPES:
            raise ValueError(f"'type' must be one of {', '.join(EVENT_TYPES)}, not {kind!r}")
        if kind == "action":
            return self._action(line, run, event)
        if kind == "usage":
            self._usage(run, event)
            return None
        unknown = sorted(set(event) - {"run", "type", "content", "id", "tool"})
        if unknown:
            raise ValueError(
                f"unknown key(s) {unknown} in a {kind} event; allowed: run, type, content, id, tool"
            )
        content = event.get("content")
        if content is None:
            raise ValueError(f"a {kind} event needs 'content' (the text)")
        ctx = self._contexts.get(run) or Context(run=run)
        if kind == "tool_result":
            self._result(run, ctx, event, content)
        elif kind == "user":
            self.engine.record_user_input(content, context=ctx)
        else:
            self.engine.record_system_input(content, context=ctx)
        return None

    def _action(self, line: int, run: str, event: Mapping[str, Any]) -> ReplayResult:
        context = event.get("context")
        if context is not None and type(context) is not dict and not isinstance(context, Mapping):
            raise ValueError("'context' must be an object (as in railguard check)")
        tool, args, call_id = event.get("tool"), event.get("args"), event.get("id", event.get("call_id"))
        if _ACTION_KEYS.issuperset(event) and type(tool) is str and tool and type(args) is dict:
            # The common case, built directly: a run's actions mostly repeat its context object,
            # whose parsed form is reused (a replay of a million actions spends its time here otherwise).
            action = Action(
                tool, dict(args), None if call_id is None else str(call_id), self._context(run, context)
            )
        else:  # anything unusual goes through the checks of `railguard check`, for their messages
            fields = {k: v for k, v in event.items() if k not in ("run", "type")}
            fields["context"] = {**(context or {}), "run": run}
            action = Action.from_dict(fields)
        self._contexts[run] = action.context
        if action.call_id is not None:
            if len(self._actions) >= _MAX_ACTIONS_REMEMBERED:
                self._actions.popitem(last=False)
            self._actions[(run, action.call_id)] = action
        decision = self.engine.check(action)
        return ReplayResult(line, run, action.call_id, decision)

    def _context(self, run: str, given: Mapping[str, Any] | None) -> Context:
        """The context of an action of `run` as given (its `run` is always `run`), parsed once per run
        while the run keeps sending the same one."""
        last = self._parsed.get(run)
        if last is not None and last[0] == given:
            return last[1]
        ctx = Context.from_dict({**(given or {}), "run": run})
        if len(self._parsed) >= _MAX_ACTIONS_REMEMBERED:
            self._parsed.pop(next(iter(self._parsed)))
        self._parsed[run] = (dict(given) if given is not None else None, ctx)
        return ctx

    def _usage(self, run: str, event: Mapping[str, Any]) -> None:
        unknown = sorted(set(event) - {"run", "type", "tokens", "cost", "context"})
        if unknown:
            raise ValueError(
                f"unknown key(s) {unknown} in a usage event; allowed: run, type, tokens, cost, context"
            )
        from railguard.state.budgets import usage_from

        usage = usage_from(event)
        given = event.get("context")
        if given is not None and not isinstance(given, Mapping):
            raise ValueError("'context' must be an object (as in railguard check)")
        known = self._contexts.get(run)
        merged = {
            **(known.to_dict() if known is not None else {}),
            **{k: v for k, v in (given or {}).items() if v},
        }
        ctx = Context.from_dict({**merged, "run": run})
        self.engine.record_usage(tokens=usage.tokens, cost=usage.cost, context=ctx)

    def _result(self, run: str, ctx: Context, event: Mapping[str, Any], content: Any) -> None:
        call_id, tool = event.get("id"), event.get("tool")
        action = self._actions.get((run, str(call_id))) if call_id is not None else None
        if action is None:
            if not isinstance(tool, str) or not tool:
                raise ValueError("a tool_result needs 'tool', or an 'id' naming an earlier action of its run")
            action = Action(tool, {}, None if call_id is None else str(call_id), ctx)
        elif isinstance(tool, str) and tool and tool != action.tool:
            raise ValueError(
                f"tool_result '{call_id}' names tool {tool!r}, but that call was to {action.tool!r}"
            )
        self.engine.check_output(action.tool, content, action=action)

"""A run's replay as pages of steps: which page a link lands on (a step, a decision, a page number),
each step's depth in the span tree, the steps worth jumping to (blocked, asked, failed), and the
rows of one page with their decisions attached. Pure: the store reads are in routes/ui_replay.py."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

from railguard.store import SpanRow
from railguard.store._replay_pages import DecisionKey, StepKey

PAGE_STEPS = 200  # a page renders in a few ms whatever the run's length; 1,000 steps took ~130 ms of CPU
MARKS_SHOWN = 12  # jump links per kind at the top of the replay
PREVIEW_CHARS = 200  # the one-line preview of a step's arguments and output
DETAIL_CHARS = 20_000  # the expanded detail, fetched on demand
_KIND = {
    "invoke_agent": "agent",
    "chat": "model call",
    "text_completion": "model call",
    "execute_tool": "tool call",
}
_DETAIL_KEYS = ("arguments", "input", "output", "result", "message", "prompt", "completion", "content")


@functools.lru_cache(maxsize=4096)  # attribute names repeat across a run's spans
def is_detail(key: str) -> bool:
    """An attribute a person reads to follow the step (arguments, output, messages), not a number."""
    return "usage" not in key and any(word in key for word in _DETAIL_KEYS)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a run's steps are: the span -> decision events map and the chosen page (0-based)."""

    page: int
    pages: int
    by_span: dict[str, list[str]]  # span id -> its decision events' ids
    loose: list[str]  # decision events of the run tied to no span of it


def attach(outline: Sequence[StepKey], keys: Iterable[DecisionKey]) -> tuple[dict[str, list[str]], list[str]]:
    """Decision events by the span they belong to (its span id, else its decision id on a span)."""
    span_ids = {step.span_id for step in outline}
    by_decision = {step.decision_id: step.span_id for step in outline if step.decision_id}
    by_span: dict[str, list[str]] = {}
    loose: list[str] = []
    for key in keys:
        span = key.span_id if key.span_id in span_ids else by_decision.get(key.decision_id)
        if span is None:
            loose.append(key.event_id)
        else:
            by_span.setdefault(span, []).append(key.event_id)
    return by_span, loose


def place(
    outline: Sequence[StepKey], keys: Sequence[DecisionKey], *, at: str | None = None,
    decision: str | None = None, page: str | None = None, per_page: int = PAGE_STEPS,
) -> Placement:  # fmt: skip
    """The page holding step `at`, else the step of decision `decision`, else page number `page`
    (1-based; out of range: the nearest), else the first page."""
    by_span, loose = attach(outline, keys)
    pages = max(1, -(-len(outline) // per_page))
    target = at
    if target is None and decision is not None:
        target = next((k.span_id for k in keys if k.decision_id == decision and k.span_id), None)
        if target is None:
            target = next((s.span_id for s in outline if s.decision_id == decision), None)
    index = next((i for i, step in enumerate(outline) if step.span_id == target), None) if target else None
    if index is not None:
        chosen = index // per_page
    else:
        try:
            chosen = int(page or 1) - 1
        except ValueError:
            chosen = 0
    return Placement(min(max(chosen, 0), pages - 1), pages, by_span, loose)


def depths(outline: Sequence[StepKey]) -> dict[str, int]:
    """Each span's depth in the tree; a span whose parent is missing (or in a cycle) is a root."""
    parent = {step.span_id: step.parent_span_id for step in outline}
    depth: dict[str, int] = {}
    for step in outline:
        chain: list[str] = []
        seen: set[str] = set()
        node: str | None = step.span_id
        while node is not None and node not in depth and node not in seen:
            chain.append(node)
            seen.add(node)
            up = parent.get(node)
            node = up if up in parent else None
        level = depth[node] + 1 if node is not None and node in depth else 0
        for name in reversed(chain):
            depth[name] = level
            level += 1
    return depth


def marks(outline: Sequence[StepKey], per_page: int = PAGE_STEPS) -> dict[str, list[SimpleNamespace]]:
    """The steps a person jumps to, by kind (blocked, asked, failed), each with the page it is on."""
    start = outline[0].start_ns if outline else 0
    found: dict[str, list[SimpleNamespace]] = {"blocked": [], "asked": [], "failed": []}
    for index, step in enumerate(outline):
        kind = (
            "blocked" if step.verdict == "block" else "asked" if step.verdict == "ask"
            else "failed" if step.status == "error" else None
        )  # fmt: skip
        if kind is not None:
            found[kind].append(
                SimpleNamespace(
                    span_id=step.span_id,
                    title=step.title,
                    offset_ms=round((step.start_ns - start) / 1e6),
                    page=index // per_page + 1,
                    number=index + 1,
                )
            )
    return found


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def preview(span: SpanRow) -> str:
    """One line of the step's arguments and output, cut to PREVIEW_CHARS."""
    parts: list[str] = []
    size = 0
    for key, value in span.attributes.items():
        if is_detail(key):
            text = " ".join(_text(value).split())
            parts.append(text)
            size += len(text)
            if size > PREVIEW_CHARS:
                break
    line = " · ".join(parts)
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"


def detail(span: SpanRow) -> tuple[str, str]:
    """The expanded step: its arguments, output and messages; then its other attributes."""
    shown = {k: v for k, v in span.attributes.items() if is_detail(k)}
    rest = {k: v for k, v in span.attributes.items() if not is_detail(k)}

    def dump(value: dict[str, Any]) -> str:
        text = json.dumps(value, indent=1, default=str, ensure_ascii=False) if value else ""
        return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS] + "\n… (cut)"

    return dump(shown), dump(rest)


def steps(
    window: Sequence[SpanRow], *, first_number: int, run_start_ns: int, depth: dict[str, int],
    decisions: dict[str, list[dict[str, Any]]],
) -> list[SimpleNamespace]:  # fmt: skip
    """The rows of one page. Objects, not dicts: Jinja reads `step.x` with getattr first, and a
    dict's failed getattr (an exception per field per step) was a third of a long run's render."""
    rows = []
    for number, span in enumerate(window, start=first_number):
        level = depth.get(span.span_id, 0)
        attached = decisions.get(span.span_id, [])
        verdict = span.verdict or (attached[-1].get("verdict") if attached else None)
        rows.append(
            SimpleNamespace(
                span=span,
                ref=quote(span.span_id, safe=""),  # the span id in a URL
                number=number,
                kind=_KIND.get(span.operation or "", span.kind),
                title=span.tool_name or span.name,
                depth=level,
                indent=min(level, 3),  # the CSS's 4 levels, here: Jinja's min filter was a 1/4 of the render
                offset_ms=round((span.start_ns - run_start_ns) / 1e6),
                duration_ms=round((span.end_ns - span.start_ns) / 1e6, 1),
                tokens=(span.input_tokens or 0) + (span.output_tokens or 0),
                preview=preview(span),
                has_detail=bool(span.attributes),
                verdict=verdict,
                decisions=attached,
            )
        )
    return rows


def pager(page: int, pages: int, around: int = 2) -> list[int | None]:
    """The page numbers a pager shows: the first, the last and those around `page`; None: a gap."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    out: list[int | None] = []
    previous = 0
    for number in shown:
        if previous and number - previous > 1:
            out.append(None)
        out.append(number)
        previous = number
    return out


def first_events(decisions: dict[str, list[dict[str, Any]]], loose: Iterable[dict[str, Any]]) -> set[str]:
    """The first event of each decision on the page: the one that carries the decision's anchor."""
    seen: set[str] = set()
    firsts: set[str] = set()
    for record in [r for records in decisions.values() for r in records] + list(loose):
        if record.get("decision_id") not in seen:
            seen.add(record.get("decision_id", ""))
            firsts.add(record.get("event_id", ""))
    return firsts

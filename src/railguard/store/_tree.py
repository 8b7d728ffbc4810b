"""Turning a trace's flat span list into the parent/child tree a UI shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from railguard.store._rows import SpanRow


@dataclass(slots=True)
class SpanNode:
    span: SpanRow
    children: list[SpanNode] = field(default_factory=list)


def build_tree(rows: Sequence[SpanRow]) -> list[SpanNode]:
    """The root nodes, children in start order. A span whose parent is missing (not exported, or
    from another service) becomes a root rather than vanishing."""
    nodes = {row.span_id: SpanNode(row) for row in sorted(rows, key=lambda r: (r.start_ns, r.span_id))}
    roots: list[SpanNode] = []
    for node in nodes.values():
        parent = nodes.get(node.span.parent_span_id) if node.span.parent_span_id else None
        if parent is None or parent is node:
            roots.append(node)
        else:
            parent.children.append(node)
    return roots

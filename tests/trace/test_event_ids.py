"""Decision event ids: 128 random bits in hex, drawn in blocks (one random read per 256 ids); a
forked child never hands out the ids its parent had drawn but not used."""

from __future__ import annotations

import multiprocessing
import re

from railguard.trace._decision_log import new_event_id


def _child_ids(out: multiprocessing.SimpleQueue) -> None:  # type: ignore[type-arg]
    out.put([new_event_id() for _ in range(50)])


def test_event_ids_are_unique_hex_and_not_repeated_by_a_forked_child() -> None:
    ids = [new_event_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    new_event_id()  # the parent now holds drawn ids it has not handed out
    context = multiprocessing.get_context("fork")
    out = context.SimpleQueue()
    child = context.Process(target=_child_ids, args=(out,))
    child.start()
    from_child = out.get()
    child.join(timeout=60)
    from_parent = [new_event_id() for _ in range(50)]
    assert not set(from_child) & set(from_parent)

"""The server's scheduled heartbeat without the HTTP server around it: replicas on one database beat
each interval once (the store's lease), each tenant gets its own message, memory and stored result,
and failures (a webhook down, a broken store) are reported and recorded, never raised (SQLite and
PostgreSQL; a real local webhook)."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

from local_servers import hook
from sqlalchemy import text

from railguard.alert.heartbeat import latest_beat
from railguard.diagnose import list_findings
from railguard.server._heartbeat import HeartbeatSchedule, HeartbeatScheduler, beat_tenants, parse_every
from railguard.store import KeyRing, SpanRow, Store, open_store

NS = 1_000_000_000
EVERY = 60.0


def _loops(store: Store, tenant: str, agent: str, now: float) -> None:
    """Ten runs in the last hours, five of which call one tool five times with the same arguments."""
    rows = []
    for i in range(10):
        trace_id, root = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        start = int((now - 5 * 3600 + i * 1200) * NS)
        rows.append(SpanRow(trace_id, root, None, "invoke_agent", "internal", start, start + 10**9, tenant=tenant,
                            agent=agent, operation="invoke_agent"))  # fmt: skip
        for j in range(5):
            args = '{"job": 1}' if i >= 5 else f'{{"job": {i * 10 + j}}}'
            rows.append(SpanRow(trace_id, uuid.uuid4().hex[:16], root, "execute_tool poll", "internal",
                                start + j * 10**8, start + j * 10**8 + 10**7, tenant=tenant, agent=agent,
                                operation="execute_tool", tool_name="poll",
                                attributes={"gen_ai.tool.call.arguments": args}))  # fmt: skip
    store.write_spans(rows)


def test_replicas_beat_each_slot_once_and_each_tenant_separately(store_url: str) -> None:
    now = time.time()
    with open_store(store_url) as one, open_store(store_url) as two, hook() as webhook:
        _loops(one, "acme", "poller", now)
        KeyRing(one).create(
            tenant="globex", role="viewer", name="g", actor="test"
        )  # a tenant with nothing wrong
        schedule = HeartbeatSchedule(EVERY, (f"webhook:{webhook.url}",), link_base="http://rg.example")
        replicas = [
            HeartbeatScheduler(one, schedule, holder="a"),
            HeartbeatScheduler(two, schedule, holder="b"),
        ]
        assert beat_tenants(one, now - 86_400) == ["acme", "globex"]

        # Both replicas wake at the same boundary, at the same moment: one of them beats.
        slot_start = now - now % EVERY
        results: list[bool] = []
        threads = [
            threading.Thread(target=lambda r=r: results.append(r.tick(slot_start + 1).claimed))
            for r in replicas
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [False, True]
        assert len(webhook.bodies) == 1  # globex had nothing to say: only acme's message went out
        body = webhook.bodies[0]
        assert body["subject"].startswith("Railguard [acme]: ")
        assert any("loop" in item["text"] and item["link"].startswith("http://rg.example/findings/f-")
                   for item in body["items"])  # fmt: skip
        assert latest_beat(one, "acme")["status"] == "ATTENTION"  # type: ignore[index]
        assert latest_beat(two, "globex")["status"] == "HEARTBEAT_OK"  # type: ignore[index]
        assert [f.kind for f in list_findings(one, tenant="acme")] == ["loop"]

        # The same slot again (a late wake-up): nobody beats. The next slot: one beats, and the problem,
        # already sent, is not sent again.
        assert not any(r.tick(slot_start + 30).claimed for r in replicas)
        claimed = [r.tick(slot_start + EVERY + 1).claimed for r in reversed(replicas)]
        assert claimed == [True, False]
        assert len(webhook.bodies) == 1
        assert sum(r.ticks for r in replicas) == 2

        # The operator triples the interval: the new schedule takes over at its next boundary.
        longer = HeartbeatScheduler(two, HeartbeatSchedule(3 * EVERY, schedule.targets), holder="c")
        assert longer.tick(slot_start + 4 * EVERY).claimed


def test_a_failed_notification_is_reported_and_retried_and_a_broken_beat_never_raises(store_url: str) -> None:
    now = time.time()
    with open_store(store_url) as store, hook(failures=10_000) as webhook:  # every post fails with HTTP 500
        _loops(store, "acme", "poller", now)
        _loops(store, "globex", "crawler", now)
        scheduler = HeartbeatScheduler(store, HeartbeatSchedule(EVERY, (f"webhook:{webhook.url}",)))
        result = scheduler.tick(now)
        assert result.claimed and not result.errors and set(result.beats) == {"acme", "globex"}
        assert all(b.notify_errors for b in result.beats.values())
        shown = latest_beat(store, "acme")
        assert shown is not None and "could not notify webhook:http://127.0.0.1" in shown["notify_errors"][0]
        assert "/hook" not in shown["notify_errors"][0]  # the URL's path may hold a token: never shown

        # The webhook is back: the next beat delivers the queued messages (one per tenant), nothing new.
        webhook.failures, failed_posts = 0, len(webhook.bodies)
        result = scheduler.tick(now + EVERY)
        assert not any(b.notify_errors for b in result.beats.values())
        delivered = webhook.bodies[failed_posts:]
        assert sorted(b["subject"].split(":")[0] for b in delivered) == [
            "Railguard [acme]",
            "Railguard [globex]",
        ]

        # A store that breaks under the beat: the failure is recorded for each tenant, nothing raises.
        with store.write_transaction() as conn:
            conn.execute(text("DROP TABLE rg_alert_state"))
        result = scheduler.tick(now + 2 * EVERY)
        assert result.claimed and len(result.errors) == 2
        broken = latest_beat(store, "acme")
        assert broken is not None and broken["status"] == "ERROR" and "rg_alert_state" in broken["error"]


def test_a_store_that_cannot_be_reached_is_sent_as_critical(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'rg.db'}") as store, hook() as webhook:
        scheduler = HeartbeatScheduler(store, HeartbeatSchedule(EVERY, (f"webhook:{webhook.url}",)))
        store.engine.dispose()
        (tmp_path / "rg.db").unlink()
        (tmp_path / "rg.db").mkdir()  # a directory where the database was
        result = scheduler.tick()
        assert result.errors and "*" in result.beats
        assert [i["key"] for i in webhook.bodies[0]["items"]] == ["store:unreachable"]


def test_intervals() -> None:
    assert [parse_every(t) for t in ("30s", "15m", "2h", "1d")] == [30, 900, 7200, 86_400]
    for bad in ("15", "m", "-5m", "0s", "fast"):
        try:
            parse_every(bad)
        except ValueError as e:
            assert "30s, 15m" in str(e) or "positive" in str(e)
        else:
            raise AssertionError(bad)

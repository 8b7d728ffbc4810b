"""`railguard serve --heartbeat-every`: the running server beats on its schedule, sends to a real local
webhook, and shows the result on GET /v1/heartbeat and the dashboard's overview; a bad interval or
target stops `serve` before it starts (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import eventually
from diagnose_seed import seed
from otlp_server import RunningServer
from typer.testing import CliRunner

from railguard.cli import app
from railguard.server import ServerSettings
from railguard.server._heartbeat import HeartbeatSchedule
from railguard.store import KeyRing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "alert"))
from local_servers import hook  # the notifier tests' real local webhook


def test_the_server_beats_on_its_schedule(serve: Callable[..., RunningServer]) -> None:
    with hook() as webhook:
        schedule = HeartbeatSchedule(1.0, (f"webhook:{webhook.url}",), link_base="http://dash.example")
        server = serve(app_settings=ServerSettings(heartbeat=schedule))
        viewer = KeyRing(server.store).create(tenant="acme", role="viewer", name="v", actor="test").key
        seed(server.store, "acme")

        def heartbeat() -> dict[str, Any]:
            answer = httpx.get(
                f"{server.base_url}/v1/heartbeat", headers={"Authorization": f"Bearer {viewer}"}
            )
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body

        shown = eventually(lambda: (lambda b: b if b["status"] == "ATTENTION" else None)(heartbeat()), 30)
        assert shown, heartbeat()
        assert shown["every_s"] == 1.0 and any("loop" in i["text"] for i in shown["items"])
        assert eventually(lambda: webhook.bodies, 30)
        first = webhook.bodies[0]
        assert (
            first["subject"].startswith("Railguard [acme]")
            and "http://dash.example/findings/f-" in first["text"]
        )
        # Later beats keep the result fresh and do not send the same problem again.
        beat_at = shown["beat_at"]
        assert eventually(lambda: heartbeat()["beat_at"] > beat_at, 30)
        assert len(webhook.bodies) == 1, json.dumps(webhook.bodies)[:500]


def test_serve_refuses_a_bad_schedule() -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["serve", "--heartbeat-every", "soon"])
    assert bad.exit_code == 2 and "30s, 15m" in bad.output
    lonely = runner.invoke(app, ["serve", "--notify", "webhook:http://127.0.0.1:1/x"])
    assert lonely.exit_code == 2 and "--heartbeat-every" in lonely.output
    target = runner.invoke(app, ["serve", "--heartbeat-every", "15m", "--notify", "pigeon:home"])
    assert target.exit_code == 2 and "unknown notify target" in target.output
    from_env = runner.invoke(app, ["serve"], env={"RAILGUARD_HEARTBEAT_EVERY": "-1m"})
    assert from_env.exit_code == 2 and "positive" in from_env.output


def test_each_worker_gets_the_schedule_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`serve --workers N` hands the schedule to every worker through the environment (the store's
    lease then lets one of them beat per interval)."""
    from railguard.cli._serve import app_from_env

    monkeypatch.setenv("RAILGUARD_DB", f"sqlite:///{tmp_path / 'rg.db'}")
    monkeypatch.setenv("RAILGUARD_HEARTBEAT_EVERY", "15m")
    monkeypatch.setenv(
        "RAILGUARD_HEARTBEAT_NOTIFY", "webhook:http://127.0.0.1:1/a slack:https://hooks.example/b"
    )
    monkeypatch.setenv("RAILGUARD_HEARTBEAT_LINK_BASE", "http://rg.example")
    worker = app_from_env()
    schedule = worker.state.heartbeat.schedule  # type: ignore[attr-defined]
    assert schedule.every_s == 900 and schedule.link_base == "http://rg.example"
    assert [t.kind for t in worker.state.heartbeat.targets] == ["webhook", "slack"]  # type: ignore[attr-defined]
    worker.state.store.close()  # type: ignore[attr-defined]
    monkeypatch.delenv("RAILGUARD_HEARTBEAT_EVERY")
    without = app_from_env()
    assert without.state.heartbeat is None  # type: ignore[attr-defined]
    without.state.store.close()  # type: ignore[attr-defined]

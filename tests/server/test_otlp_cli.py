"""The command line around the receiver: `serve` (a real subprocess), `retention`, `check --db`."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
from otlp_server import free_port
from typer.testing import CliRunner

from railguard.cli import app
from railguard.store import SpanRow, open_store

GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
DAY_NS = 86_400 * 10**9


def test_serve_command_ingests_otlp_json_into_the_store(store_url: str) -> None:
    port = free_port()
    command = [sys.executable, "-m", "railguard.cli", "serve", "--port", str(port), "--db", store_url]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        assert server.stdout is not None
        # First start on an empty store: an admin key is created and printed once, with a login URL.
        printed: dict[str, str] = {}
        for _ in range(20):  # bounded: the banner is a few lines
            if len(printed) == 2:
                break
            label, _, value = server.stdout.readline().strip().partition(": ")
            if label in ("key", "dashboard"):
                printed[label] = value.strip()
        key = printed["key"]
        assert key.startswith("rg_") and printed["dashboard"] == f"{base}/login?key={key}"
        for _ in range(300):  # bounded wait for startup (at most ~30 s)
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        span = {
            "traceId": "ab" * 16,
            "spanId": "cd" * 8,
            "name": "ping",
            "startTimeUnixNano": "1",
            "endTimeUnixNano": "2",
        }
        body = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
        assert httpx.post(f"{base}/v1/traces", json=body).status_code == 401
        accepted = httpx.post(f"{base}/v1/traces", json=body, headers={"Authorization": f"Bearer {key}"})
        assert accepted.status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
    with open_store(store_url) as store:
        assert [row.name for row in store.get_trace("ab" * 16, tenant=None)] == ["ping"]


def _run(trace_id: str, end_ns: int) -> SpanRow:
    return SpanRow.from_otel(
        trace_id=trace_id,
        span_id="01" * 8,
        parent_span_id=None,
        name="run",
        kind=1,
        start_ns=end_ns - 10**9,
        end_ns=end_ns,
        status=0,
        status_message=None,
        attributes={},
        resource={},
        events=[],
    )


def test_retention_deletes_only_runs_older_than_the_cutoff(store_url: str) -> None:
    now_ns = time.time_ns()
    with open_store(store_url) as store:
        store.write_spans([_run("0a" * 16, now_ns - 40 * DAY_NS), _run("0b" * 16, now_ns - DAY_NS)])

    result = CliRunner().invoke(app, ["retention", "--days", "30", "--db", store_url, "--batch-size", "10"])
    assert result.exit_code == 0, result.output
    assert "deleted" in result.output
    with open_store(store_url) as store:
        assert store.get_trace("0a" * 16, tenant=None) == []
        assert len(store.get_trace("0b" * 16, tenant=None)) == 1

    assert CliRunner().invoke(app, ["retention", "--days", "0", "--db", store_url]).exit_code == 2


def test_check_db_records_every_decision_redacted(store_url: str) -> None:
    actions = [
        {"tool": "send_email", "args": {"to": "ops@example.com", "body": f"use {GITHUB_TOKEN}"}},
        {"tool": "read_file", "args": {"path": "README.md"}},
    ]
    stdin = "\n".join(json.dumps(a) for a in actions) + "\n"
    plain = CliRunner().invoke(app, ["check", "--json"], input=stdin)
    recorded = CliRunner().invoke(app, ["check", "--json", "--db", store_url], input=stdin)

    assert recorded.exit_code == 0, recorded.output
    # The output is unchanged by --db (decision ids and latencies differ run to run).
    strip = [
        {k: v for k, v in json.loads(line).items() if k not in ("decision_id", "latency_us")}
        for line in plain.output.splitlines()
    ]
    assert strip == [
        {k: v for k, v in json.loads(line).items() if k not in ("decision_id", "latency_us")}
        for line in recorded.output.splitlines()
    ]
    ids = {json.loads(line)["decision_id"] for line in recorded.output.splitlines()}
    assert len(ids) == len(actions)
    with open_store(store_url) as store:
        stored = store.list_decisions(tenant=None)
    assert {record["decision_id"] for record in stored} == ids
    assert GITHUB_TOKEN not in json.dumps(stored)
    email = next(record for record in stored if record["tool"] == "send_email")
    assert "[redacted:github_token]" in email["args"]["body"]

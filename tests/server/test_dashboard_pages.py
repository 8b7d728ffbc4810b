"""The dashboard's overview and replay over HTTP, as a logged-in viewer sees them: numbers aggregated
by the database for the caller's tenant only, and a run's decisions found through the run, never
another tenant's (SQLite and PostgreSQL)."""

from __future__ import annotations

import html
import re
import time
from typing import Any

import httpx
from api_helpers import Api

from railguard.store import SpanRow

NS = 1_000_000_000


def _run(trace: str, *, tenant: str, agent: str, at: float, cost: float) -> list[SpanRow]:
    start = int(at * NS)
    root = SpanRow(trace, f"{trace}r", None, f"invoke_agent {agent}", "internal", start, start + 5 * NS, "ok",
                   tenant=tenant, agent=agent, operation="invoke_agent")  # fmt: skip
    chat = SpanRow(trace, f"{trace}c", root.span_id, "chat", "client", start + NS, start + 2 * NS, "ok",
                   operation="chat", input_tokens=100, output_tokens=10, cost_usd=cost)  # fmt: skip
    tool = SpanRow(trace, f"{trace}t", root.span_id, "execute_tool bash", "internal", start + 3 * NS,
                   start + 4 * NS, "ok", operation="execute_tool", tool_name="bash", verdict="block", rules="no-rm")  # fmt: skip
    return [root, chat, tool]


def _decision(n: int, *, tenant: str, agent: str, run: str, verdict: str, **extra: Any) -> dict[str, Any]:
    return {
        "v": 1, "decision_id": f"dash{n}", "event_id": f"dash-e{n}", "timestamp": time.time() - 600 + n,
        "tool": f"tool-{n}", "verdict": verdict, "would_verdict": extra.pop("would_verdict", verdict),
        "mode": extra.pop("mode", "enforce"), "rules": extra.pop("rules", []), "reason": "r",
        "context": {"tenant": tenant, "agent": agent, "run": run}, **extra,
    }  # fmt: skip


def _session(api: Api, tenant: str) -> httpx.Client:
    """A viewer's dashboard session, logged in through the login link (the cookie is `Secure`, so it
    is sent by hand over this plain-http test server)."""
    response = httpx.get(f"{api.url}/login", params={"key": api.key(tenant, "viewer")}, timeout=30)
    cookie = re.search(r"railguard_session=([^;]+)", response.headers.get("set-cookie", ""))
    assert response.status_code == 303 and cookie, response.text[:300]
    return httpx.Client(
        base_url=api.url, headers={"Cookie": f"railguard_session={cookie.group(1)}"}, timeout=30
    )


def _stat(page: str, name: str) -> str:
    found = re.search(r'<div class="n[^"]*">(.*?)</div><div class="k">' + re.escape(name) + "</div>", page)
    assert found, name
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1)))


def test_the_overview_shows_the_tenants_numbers_and_a_replay_its_runs_decisions(api: Api) -> None:
    store = api.server.store
    now = time.time()
    store.write_spans(
        _run("d1", tenant="acme", agent="support", at=now - 3000, cost=0.5)
        + _run("d2", tenant="acme", agent="support", at=now - 2000, cost=0.25)
        + _run("d3", tenant="acme", agent="billing", at=now - 1000, cost=2.0)
        + _run("d4", tenant="acme", agent="support", at=now - 3 * 86_400, cost=9.0)  # outside the window
        + _run("d9", tenant="globex", agent="ops", at=now - 500, cost=7.0)
    )
    store.write_decisions([
        _decision(1, tenant="acme", agent="support", run="d1", verdict="block", rules=["no-rm"]),
        _decision(2, tenant="acme", agent="billing", run="d3", verdict="block", rules=["no-rm"]),
        _decision(3, tenant="acme", agent="billing", run="d3", verdict="allow", would_verdict="block",
                  mode="audit", rules=["egress"]),
        _decision(4, tenant="globex", agent="ops", run="d9", verdict="ask", rules=["big-refund"]),
    ])  # fmt: skip

    with _session(api, "acme") as acme:
        page = acme.get("/").text
        assert (_stat(page, "runs"), _stat(page, "blocks"), _stat(page, "asks")) == ("3", "2", "0")
        assert _stat(page, "would-blocks (audit)") == "1" and _stat(page, "cost") == "$2.75"
        agents = re.findall(r'href="/runs\?agent=([^"]+)">[^<]+</a></td><td>(\d+)</td><td>\$([\d.]+)', page)
        assert agents == [("billing", "1", "2.0000"), ("support", "2", "0.7500")]
        assert re.findall(r"<code>([^<]+)</code></a></td><td>(\d+)", page) == [
            ("no-rm", "2"),
            ("egress", "1"),
        ]
        assert "big-refund" not in page and "agent=ops" not in page
        replay = acme.get("/runs/d3").text
        assert "tool-2" in replay and "tool-3" in replay and "tool-1" not in replay
        assert acme.get("/runs/d9").status_code == 404

    with _session(api, "globex") as globex:
        page = globex.get("/").text
        assert (_stat(page, "runs"), _stat(page, "blocks"), _stat(page, "asks")) == ("1", "0", "1")
        assert "no-rm" not in page and "agent=support" not in page and "big-refund" in page
        assert globex.get("/runs/d3").status_code == 404

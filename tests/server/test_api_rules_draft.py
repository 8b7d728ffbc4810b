"""`POST /v1/rules/draft` and the dashboard's draft form, on a real server (SQLite file and
PostgreSQL): the server's LLM setting drives the REAL `anthropic` client against a local fake model
server; history is what the guard API decided for the tenant; the draft is returned for review and
never stored or activated."""

from __future__ import annotations

import html
import json
import re
import time
from typing import Any

import httpx
import pytest
from api_helpers import Api, eventually

from integrations.fake_providers import anthropic_message, serving, text_block
from railguard.diagnose.backtest import read_history

RULE = """rules:
  - rule: deploy/no-terraform-apply-prod
    tools: [bash]
    when: ctx.agent == "deploy" && args.command.contains("terraform apply") && args.command.contains("prod")
    verdict: block
    message: "terraform apply against prod by the deploy agent"
"""
CASES = """cases:
  - name: deploy applies to prod
    action: {tool: bash, args: {command: "terraform apply -var env=prod"}, context: {agent: deploy}}
    expect: block
    rule: deploy/no-terraform-apply-prod
  - name: deploy plans prod
    action: {tool: bash, args: {command: "terraform plan -var env=prod"}, context: {agent: deploy}}
    expect: allow
"""
PROD = {"command": "terraform apply -var env=prod"}
ACME_CALLS = [
    ("deploy", "bash", PROD),
    ("deploy", "bash", {"command": "terraform plan -var env=prod"}),
    ("deploy", "bash", {"command": "ls"}),
    ("support", "lookup", {"order": "o1"}),
]


def _answer(policy: str = RULE, tests: str = CASES) -> Any:
    text = json.dumps({"policy": policy, "tests": tests, "summary": "blocks prod applies"})
    return lambda body: (200, anthropic_message([text_block(text)], stop_reason="end_turn"))


def _seed(api: Api) -> int:
    """The calls, twice, through the guard API for acme; one call of another tool for globex."""
    sent = 0
    for run in range(2):
        for i, (agent, tool, args) in enumerate(ACME_CALLS):
            action = {
                "tool": tool,
                "args": args,
                "id": f"c{run}{i}",
                "context": {"agent": agent, "run": f"r{run}"},
            }
            assert api.evaluate(action).status_code == 200
            sent += 1
    other = {
        "tool": "globex_only_tool",
        "args": {"x": 1},
        "id": "g1",
        "context": {"agent": "deploy", "run": "g"},
    }
    assert api.evaluate(other, tenant="globex").status_code == 200
    now = time.time()
    seen = eventually(
        lambda: (
            len(read_history(api.server.store, since=now - 600, until=now + 600, tenant="acme").actions)
            >= sent
        )
    )
    assert seen
    return sent


def test_draft_api_checks_backtests_and_never_activates(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    sent = _seed(api)
    body = {"request": "never let the deploy agent run terraform apply against a prod workspace"}
    for role in ("agent", "viewer", "approver"):
        assert api.call("POST", "/v1/rules/draft", role=role, json=body).status_code == 403
    monkeypatch.delenv("RAILGUARD_LLM", raising=False)
    unset = api.call("POST", "/v1/rules/draft", role="admin", json=body)
    assert unset.status_code == 409 and "RAILGUARD_LLM=anthropic:MODEL" in unset.json()["detail"]
    assert api.call("POST", "/v1/rules/draft", role="admin", json={"request": ""}).status_code == 422

    monkeypatch.setenv("RAILGUARD_LLM", "anthropic:claude-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    with serving() as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        fake.script(_answer())
        done = api.call("POST", "/v1/rules/draft", role="admin", json=body)
        prompt = fake.requests[0][1]["messages"][0]["content"]
        # retries=0 and a model that answers with prose: 422 with the problem, nothing kept
        fake.script(lambda body: (200, anthropic_message([text_block("block it")], stop_reason="end_turn")))
        failed = api.call("POST", "/v1/rules/draft", role="admin", json={**body, "retries": 0})
    assert done.status_code == 200, done.text
    draft = done.json()
    assert draft["tenant"] == "acme" and draft["valid"] and draft["active"] is False
    assert draft["policy_yaml"] == RULE and [c["status"] for c in draft["cases"]] == ["PASS", "PASS"]
    backtest = draft["backtest"]
    # against the server's policy for acme (no revision: its default), on acme's history only
    assert backtest["actions"] == sent and backtest["newly_blocked"] == 2 and backtest["runs_affected"] == 2
    assert backtest["compared_with"] == "the current policy"
    assert "bash" in prompt and "lookup" in prompt and "globex_only_tool" not in prompt
    assert failed.status_code == 422
    assert (
        failed.json()["detail"]["valid"] is False
        and "ONE JSON object" in failed.json()["detail"]["errors"][0]
    )
    # nothing was stored or activated: no revision, and the prod apply is still allowed
    assert api.call("GET", "/v1/policies", role="viewer").json()["revisions"] == []
    again = api.evaluate({"tool": "bash", "args": PROD, "id": "later", "context": {"agent": "deploy"}})
    assert again.json()["verdict"] == "allow"


def _log_in(api: Api) -> tuple[httpx.Client, str]:
    """A dashboard session for acme's admin (the session cookie is `secure`: sent by hand over http)."""
    client = httpx.Client(base_url=api.url, timeout=60)
    answer = client.get("/login", params={"key": api.key("acme", "admin")}, follow_redirects=False)
    cookie = answer.headers["set-cookie"].split(";", 1)[0]
    client.headers["Cookie"] = cookie
    page = client.get("/policies")
    assert page.status_code == 200
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match
    return client, match.group(1)


def test_dashboard_form_shows_the_draft_for_review(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    _seed(api)
    client, csrf = _log_in(api)
    monkeypatch.setenv("RAILGUARD_LLM", "anthropic:claude-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    request = "never let the deploy agent run terraform apply against a prod workspace"
    with serving() as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        fake.script(_answer())
        page = client.post("/policies/draft", data={"csrf": csrf, "tenant": "acme", "request": request})
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    assert "deploy/no-terraform-apply-prod" in text and 'ctx.agent == "deploy"' in text
    assert "newly blocked 2" in text and "Not active." in text
    assert request in text  # the form keeps what was asked
    forged = client.post("/policies/draft", data={"csrf": "wrong", "tenant": "acme", "request": request})
    assert forged.status_code == 403
    monkeypatch.delenv("RAILGUARD_LLM")
    unset = client.post("/policies/draft", data={"csrf": csrf, "tenant": "acme", "request": request})
    assert unset.status_code == 400 and "RAILGUARD_LLM=anthropic:MODEL" in html.unescape(unset.text)
    assert api.call("GET", "/v1/policies", role="viewer").json()["revisions"] == []
    client.close()

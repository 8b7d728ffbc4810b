"""The dashboard in a real browser: Debian's chromium driven by Playwright. Logs in, finds a blocked
call in a run's replay, approves the request a separate agent process is waiting on and sees it
proceed, activates a policy revision and sees the next decision carry it, flips a kill switch.
Screenshots of every page (light and dark) are saved to $RAILGUARD_ARTIFACTS (build/artifacts)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Api, eventually

from railguard.store import RunLabels

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("RAILGUARD_ARTIFACTS", "build/artifacts")) / "dashboard"
STRICT = "name: strict\nversion: 3\nrules:\n  - rule: no-ls\n    tools: [bash]\n    verdict: block\n    message: no listing\n"
TRACE = "ab" * 16


@pytest.fixture
def store_url(tmp_path: Path) -> str:  # the browser test runs once, on SQLite
    return f"sqlite:///{tmp_path / 'railguard.db'}"


@pytest.fixture
def page(api: Api) -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: apt-get install -y chromium (make test installs it)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        yield context.new_page()
        browser.close()


def _seed_run(api: Api) -> None:
    def span(
        span_id: str, parent: str | None, name: str, start: int, attrs: dict[str, object]
    ) -> dict[str, object]:
        attributes = [
            {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": str(v)}}
            for k, v in attrs.items()
        ]
        return {"traceId": TRACE, "spanId": span_id, **({"parentSpanId": parent} if parent else {}), "name": name,
                "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 400_000_000), "attributes": attributes}  # fmt: skip

    t0 = time.time_ns() - 600 * 10**9  # ten minutes ago: the overview's last 24 hours show it
    spans = [
        span("0000000000000001", None, "support agent", t0, {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support"}),
        span("0000000000000002", "0000000000000001", "chat", t0 + 10**8, {"gen_ai.operation.name": "chat",
             "gen_ai.request.model": "claude-sonnet-4", "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 80}),
        span("0000000000000003", "0000000000000001", "execute_tool bash", t0 + 6 * 10**8, {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "bash",
            "gen_ai.tool.call.arguments": '{"command": "rm -rf /"}', "railguard.verdict": "block",
            "railguard.rules": "no-rm"}),
    ]  # fmt: skip
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "support"}}]},
                               "scopeSpans": [{"spans": spans}]}]}  # fmt: skip
    assert api.call("POST", "/v1/traces", json=body).status_code == 200
    api.evaluate(
        {
            "tool": "bash",
            "args": {"command": "rm -rf /"},
            "id": "c1",
            "context": {"agent": "support", "run": TRACE},
        }
    )


def _shot(page: object, name: str) -> None:
    # From the top: a page scrolled to an anchor draws its sticky header mid-way down a full-page shot.
    page.evaluate("window.scrollTo(0, 0)")  # type: ignore[attr-defined]
    for theme in ("light", "dark"):
        page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")  # type: ignore[attr-defined]
        page.screenshot(path=str(ARTIFACTS / f"{name}-{theme}.png"), full_page=True)  # type: ignore[attr-defined]


def test_a_person_runs_the_control_room_from_a_browser(api: Api, page: object) -> None:
    p: Any = page  # the Playwright page
    _seed_run(api)

    # Log in with a key; the session cookie is HTTP-only and secure.
    p.goto(f"{api.url}/runs")
    assert p.url.endswith("/login")
    _shot(p, "login")
    p.fill("input[name=key]", api.key("acme", "admin"))
    p.click("button[type=submit]")
    p.wait_for_url(f"{api.url}/")
    cookie = next(c for c in p.context.cookies() if c["name"] == "railguard_session")
    assert cookie["httpOnly"] and cookie["secure"]
    assert p.evaluate("document.cookie").find("railguard_session") == -1
    p.wait_for_selector("text=Top rules firing")
    assert "support" in p.inner_text("text=Top agents by cost >> xpath=..")
    _shot(p, "overview")

    # The blocked call in the run's replay.
    p.goto(f"{api.url}/runs")
    _shot(p, "runs")
    p.click("text=support agent")
    blocked = p.locator("li.blocked")
    assert blocked.count() == 1 and "rm -rf /" in blocked.inner_text() and "block" in blocked.inner_text()
    # Its arguments and output open in place, fetched when asked for.
    blocked.locator("summary").click()
    assert "gen_ai.tool.call.arguments" in blocked.locator("details pre").first.inner_text()
    # Label the blocked step as a failure (its label link picks it in the one label form): stored
    # for the diagnosis, shown in the replay.
    blocked.locator("a.step-label").click()
    assert p.input_value("input[name=span_id]") == "0000000000000003"
    p.select_option("select[name=label]", "unsafe")
    p.fill("input[name=note]", "tried to wipe the disk")
    p.click("button:has-text('Label')")
    p.wait_for_selector("text=tried to wipe the disk")
    labels = RunLabels(api.server.store).for_run(TRACE, tenant="acme")
    assert [(x.span_id, x.label, x.note) for x in labels] == [
        ("0000000000000003", "unsafe", "tried to wipe the disk")
    ]
    _shot(p, "run-replay")
    p.goto(f"{api.url}/decisions?verdict=block")
    assert "no-rm" in p.inner_text("table")
    _shot(p, "decisions")

    # A separate agent process waits for a human; approving it in the browser lets it proceed.
    agent = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("waiting_agent.py")), api.url, api.key("acme", "agent")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        p.goto(f"{api.url}/approvals")
        p.wait_for_selector("button:has-text('Approve')", timeout=60_000)  # arrives by live update, no reload
        assert "refund" in p.inner_text("table")
        _shot(p, "approvals")
        p.click("button:has-text('Approve')")
        p.wait_for_selector("text=Approved: the waiting agent proceeds.")
        out, _ = agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert out.splitlines()[-1] == "refunded 500" and agent.returncode == 0

    # A new policy revision, activated: the next decision carries it.
    p.goto(f"{api.url}/policies")
    p.fill("textarea[name=content]", "rules:\n  - rule: bad\n    verdict: nope\n")
    p.click("text=Validate and save")
    assert ":3:" in p.inner_text(".flash.error")  # the same file:line error as policy validate
    p.fill("textarea[name=content]", STRICT)
    p.click("text=Validate and save")
    p.wait_for_selector("text=r1")
    p.click("button:has-text('Activate')")
    p.wait_for_selector("text=active · enforce")
    _shot(p, "policies")
    decision = api.evaluate({"tool": "bash", "args": {"command": "ls"}, "context": {"run": "after"}}).json()
    assert decision["verdict"] == "block" and decision["policy_revision"].startswith("r1:strict@3#")

    def shown() -> bool:  # decisions are recorded off the request path: reload until it is there
        p.goto(f"{api.url}/decisions?rule=no-ls")
        return "r1:strict@3" in p.inner_text("table")

    assert eventually(shown)

    # Flip a kill switch: the next evaluation is blocked.
    p.goto(f"{api.url}/killswitch")
    p.on("dialog", lambda dialog: dialog.accept())
    p.fill("input[name=tool]", "deploy")
    p.fill("input[name=reason]", "bad deploys tonight")
    p.click("button:has-text('Engage')")
    p.wait_for_selector("text=bad deploys tonight")
    _shot(p, "killswitch")
    assert eventually(lambda: api.evaluate({"tool": "deploy", "args": {}}).json()["verdict"] == "block")

    for path, name in (
        ("/findings", "findings"),
        ("/proposals", "proposals"),
        ("/keys", "keys"),
        ("/audit", "audit"),
    ):
        p.goto(f"{api.url}{path}")
        _shot(p, name)
    assert "Chain verified" in p.inner_text(".flash")
    assert "approval.approve" in p.inner_text("table") and "killswitch.engage" in p.inner_text("table")

    # A form without the session's CSRF token is refused.
    forged = p.evaluate(
        "fetch('/killswitch', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},"
        " body: 'engaged=1&tool=x&reason=forged'}).then(r => r.status)"
    )
    assert forged == 403

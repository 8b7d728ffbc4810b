"""The webhook notifier against a real local HTTP server: Slack-shaped body, retries, failures counted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from local_servers import Hook

from railguard.alert.notify import WebhookNotifier
from railguard.engine import Engine
from railguard.errors import ApprovalRequired
from railguard.model import Action, Context
from railguard.state import Approval, Approvals
from railguard.store import open_store

SECRET = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"  # a Stripe-shaped key, split so scanners skip this file


@pytest.fixture
def flaky_hook() -> Iterator[Hook]:
    hook = Hook(failures=2)
    yield hook
    hook.server.shutdown()


def _request(tmp_path: Any, notifier: WebhookNotifier) -> Approval:
    engine = Engine(text="rules:\n  - rule: pay\n    tools: [pay]\n    verdict: ask\n    message: payments\n")
    action = Action("pay", {"amount": 9, "api_key": SECRET}, context=Context(tenant="acme", agent="bot"))
    with open_store(f"sqlite:///{tmp_path / 'rg.db'}") as store:
        approvals = Approvals(store, notifier=notifier)
        with pytest.raises(ApprovalRequired):
            approvals.request(action, engine.check(action))
        return approvals.list_requests()[0]


def test_posts_a_slack_body_and_retries_until_accepted(tmp_path: Any, flaky_hook: Hook) -> None:
    notifier = WebhookNotifier(flaky_hook.url, backoff_s=0.01)
    approval = _request(tmp_path, notifier)
    assert notifier.flush(30)
    assert (notifier.stats.sent, notifier.stats.retried, notifier.stats.failed) == (1, 2, 0)
    body = flaky_hook.bodies[-1]
    assert "pay" in body["text"] and "payments" in body["text"]
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "section", "context"]
    rendered = json.dumps(body)
    assert approval.id in rendered and "acme" in rendered
    assert SECRET not in rendered  # only the redacted copy of the arguments is sent
    notifier.close()


def test_an_unreachable_webhook_is_counted_never_raised(tmp_path: Any) -> None:
    dead = Hook(failures=0)
    url = dead.url
    dead.server.shutdown()
    dead.server.server_close()  # nothing listens there any more
    notifier = WebhookNotifier(url, retries=1, backoff_s=0.01, timeout_s=2)
    _request(tmp_path, notifier)  # returns (raising only ApprovalRequired) although the hook is down
    assert notifier.flush(30)
    assert (notifier.stats.sent, notifier.stats.failed) == (0, 1)
    notifier.close()

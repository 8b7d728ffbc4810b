"""Two `railguard serve` processes on one PostgreSQL, behind the same clients: state lives in the
store, so an approval, a kill switch and a policy activation made on one are seen by the other."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from api_helpers import await_ready, eventually, serve_process

from railguard.store import KeyRing, open_store

POLICY = "name: two\nrules:\n  - rule: big-refund\n    tools: [refund]\n    when: args.amount > 100\n    verdict: ask\n"
STRICT = "name: strict\nrules:\n  - rule: no-ls\n    tools: [bash]\n    verdict: block\n"


@pytest.fixture
def two_servers(pg_url: str, tmp_path: Any) -> Iterator[tuple[list[str], dict[str, str]]]:
    """Two `railguard serve` processes on one PostgreSQL, keys of acme's roles (and a slow agent key)."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    with open_store(pg_url) as store:
        ring = KeyRing(store)
        keys = {
            role: ring.create(tenant="acme", role=role, actor="test").key
            for role in ("agent", "approver", "admin")
        }
        keys["slow"] = ring.create(tenant="acme", role="agent", actor="test", rate_per_s=0.01).key
    flags = ("--policy", str(policy), "--log-level", "warning")
    started = [
        serve_process(pg_url, *flags, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)
    ]
    processes = [process for process, _ in started]
    urls = [url for _, url in started]
    try:
        for process, url in started:
            await_ready(process, url)
        yield urls, keys
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)


def _call(url: str, key: str, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{url}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=60, **kw)


def _evaluate(url: str, key: str, action: dict[str, Any]) -> dict[str, Any]:
    answer = _call(url, key, "POST", "/v1/guard/evaluate", json=action)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_state_is_shared_by_two_server_processes(two_servers: tuple[list[str], dict[str, str]]) -> None:
    (one, two), keys = two_servers
    refund = {"tool": "refund", "args": {"amount": 500}, "id": "c1", "context": {"run": "r1"}}

    # An agent waits on server two for a request filed on server one; a human approves on one.
    asked = _evaluate(one, keys["agent"], refund)
    assert asked["verdict"] == "ask"
    seen: dict[str, Any] = {}
    waiter = threading.Thread(
        target=lambda: seen.update(
            _call(two, keys["agent"], "GET", f"/v1/approvals/{asked['approval_id']}/wait?timeout_s=50").json()
        )
    )
    waiter.start()
    time.sleep(0.3)  # let the waiter start polling first (the outcome does not depend on it)
    assert (
        _call(one, keys["approver"], "POST", f"/v1/approvals/{asked['approval_id']}/approve").status_code
        == 200
    )
    waiter.join(60)
    assert seen["status"] == "approved"
    assert _evaluate(two, keys["agent"], refund)["verdict"] == "allow"

    # A kill switch flipped on one blocks evaluations on both.
    ls = {"tool": "bash", "args": {"command": "ls"}, "context": {"run": "r2"}}
    assert _evaluate(two, keys["agent"], ls)["verdict"] == "allow"
    flipped = _call(
        one, keys["admin"], "POST", "/v1/killswitch", json={"engaged": True, "tool": "bash", "reason": "x"}
    )
    assert flipped.status_code == 200
    for url in (one, two):
        assert eventually(lambda url=url: _evaluate(url, keys["agent"], ls)["verdict"] == "block")
    _call(two, keys["admin"], "POST", "/v1/killswitch", json={"engaged": False, "tool": "bash"})
    for url in (one, two):
        assert eventually(lambda url=url: _evaluate(url, keys["agent"], ls)["verdict"] == "allow")

    # A policy activated on one is applied by both.
    created = _call(one, keys["admin"], "POST", "/v1/policies", content=STRICT.encode())
    assert created.status_code == 201
    assert (
        _call(one, keys["admin"], "POST", f"/v1/policies/{created.json()['rev']}/activate").status_code == 200
    )
    for url in (one, two):
        assert eventually(
            lambda url=url: _evaluate(url, keys["agent"], ls)["policy_revision"].startswith("r1:")
        )
        assert _evaluate(url, keys["agent"], ls)["verdict"] == "block"

    # A key's rate holds across both: one request per 100 s in all, not one from each server.
    assert _call(two, keys["slow"], "POST", "/v1/guard/evaluate", json=ls).status_code == 200
    refused = _call(one, keys["slow"], "POST", "/v1/guard/evaluate", json=ls)
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 100

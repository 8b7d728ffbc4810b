"""Approvals, kill switches, runs and decisions over HTTP: roles, tenant isolation, long-poll,
audit records, keyset pages (SQLite and PostgreSQL, real sockets)."""

from __future__ import annotations

import threading
from typing import Any

from api_helpers import Api, eventually

from railguard.store import AuditLog

REFUND = {"tool": "refund", "args": {"amount": 500}, "id": "c-refund", "context": {"agent": "a", "run": "r1"}}
LS = {"tool": "bash", "args": {"command": "ls"}, "context": {"agent": "a", "run": "r1"}}
RM = {"tool": "bash", "args": {"command": "rm -rf /"}, "context": {"agent": "a", "run": "r1"}}


def _ask(api: Api) -> str:
    asked = api.evaluate(REFUND).json()
    assert asked["verdict"] == "ask"
    return str(asked["approval_id"])


def test_approvals_are_listed_and_decided_only_within_the_tenant(api: Api) -> None:
    approval_id = _ask(api)
    listed = api.call("GET", "/v1/approvals?status=pending", role="viewer").json()["approvals"]
    assert [a["id"] for a in listed] == [approval_id]
    assert api.call("GET", "/v1/approvals", tenant="globex", role="viewer").json()["approvals"] == []
    assert api.call("GET", "/v1/approvals", role="agent").status_code == 403
    assert api.call("GET", "/v1/approvals", key=None).status_code == 401
    assert api.call("GET", "/v1/approvals", key=api.revoked).status_code == 401
    assert api.call("GET", "/v1/approvals?status=maybe", role="viewer").status_code == 400
    assert api.call("GET", f"/v1/approvals/{approval_id}", tenant="globex", role="viewer").status_code == 404

    path = f"/v1/approvals/{approval_id}/approve"
    assert api.call("POST", path, role="viewer").status_code == 403
    assert api.call("POST", path, role="agent").status_code == 403
    assert api.call("POST", path, tenant="globex", role="approver").status_code == 404
    assert (
        api.call("POST", f"/v1/approvals/{approval_id}/deny", tenant="globex", role="admin").status_code
        == 404
    )
    done = api.call("POST", path, role="approver", json={"note": "ok for this customer"})
    assert done.status_code == 200
    assert done.json()["status"] == "approved" and done.json()["decided_by"].startswith("acme-approver")
    assert api.call("POST", path, role="approver").status_code == 409
    audit = AuditLog(api.server.store).list(tenant="acme", action="approval.approve")
    assert [(r.subject, r.actor.split()[0]) for r in audit] == [(approval_id, "acme-approver")]
    assert api.evaluate(REFUND).json()["verdict"] == "allow"


def test_an_agent_long_polls_its_approval_and_sees_the_decision(api: Api) -> None:
    approval_id = _ask(api)
    assert (
        api.call("GET", f"/v1/approvals/{approval_id}/wait?timeout_s=5", tenant="globex").status_code == 404
    )
    answer: dict[str, Any] = {}

    def wait() -> None:
        answer.update(api.call("GET", f"/v1/approvals/{approval_id}/wait?timeout_s=30").json())

    waiter = threading.Thread(target=wait)
    waiter.start()
    api.call("POST", f"/v1/approvals/{approval_id}/deny", role="approver", json={"note": "no"})
    waiter.join(40)
    assert answer["status"] == "denied" and answer["note"] == "no"
    pending = api.call("GET", f"/v1/approvals/{_ask_other(api)}/wait?timeout_s=0").json()
    assert pending["status"] == "pending"  # a zero timeout answers at once with the current state


def _ask_other(api: Api) -> str:
    asked = api.evaluate({**REFUND, "id": "c-other", "args": {"amount": 900}}).json()
    return str(asked["approval_id"])


def test_kill_switch_stops_the_tenant_only_and_is_audited(api: Api) -> None:
    assert api.evaluate(LS).json()["verdict"] == "allow"
    change = {"engaged": True, "tool": "bash", "reason": "incident 42"}
    for role in ("agent", "viewer", "approver"):
        assert api.call("POST", "/v1/killswitch", role=role, json=change).status_code == 403
    assert api.call("POST", "/v1/killswitch", key=None, json=change).status_code == 401
    assert (
        api.call("POST", "/v1/killswitch", role="admin", json={**change, "tenant": "globex"}).status_code
        == 403
    )
    flipped = api.call("POST", "/v1/killswitch", role="admin", json=change)
    assert flipped.status_code == 200 and flipped.json()["tenant"] == "acme"
    assert eventually(lambda: api.evaluate(LS).json()["verdict"] == "block")
    assert "incident 42" in api.evaluate(LS).json()["reason"]
    assert api.evaluate(LS, tenant="globex").json()["verdict"] == "allow"
    assert [s["tenant"] for s in api.call("GET", "/v1/killswitch", role="viewer").json()["switches"]] == [
        "acme"
    ]
    assert api.call("GET", "/v1/killswitch", tenant="globex", role="viewer").json()["switches"] == []
    api.call("POST", "/v1/killswitch", role="admin", json={**change, "engaged": False})
    assert eventually(lambda: api.evaluate(LS).json()["verdict"] == "allow")
    actions = [
        r.action for r in AuditLog(api.server.store).list(tenant="acme") if r.action.startswith("kill")
    ]
    assert actions == ["killswitch.release", "killswitch.engage"]


def _spans(trace: str, n: int, start: int) -> dict[str, Any]:
    spans = [
        {"traceId": trace, "spanId": f"{i + 1:016x}", "name": f"step {i}", "startTimeUnixNano": str(start + i),
         "endTimeUnixNano": str(start + i + 1)}
        for i in range(n)
    ]  # fmt: skip
    return {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}


def test_runs_are_read_per_tenant_in_keyset_pages(api: Api) -> None:
    for i in range(3):
        body = _spans(f"{i + 1:032x}", 2, 1_700_000_000_000_000_000 + i * 10**9)
        assert api.call("POST", "/v1/traces", json=body).status_code == 200
    first = api.call("GET", "/v1/runs?limit=2", role="viewer").json()
    assert [r["trace_id"] for r in first["runs"]] == [f"{3:032x}", f"{2:032x}"] and first["next"]
    second = api.call("GET", "/v1/runs", role="viewer", params={"limit": 2, "before": first["next"]}).json()
    assert [r["trace_id"] for r in second["runs"]] == [f"{1:032x}"] and second["next"] is None
    assert api.call("GET", "/v1/runs", tenant="globex", role="viewer").json()["runs"] == []
    assert api.call("GET", "/v1/runs", role="agent").status_code == 403
    assert api.call("GET", "/v1/runs?before=nonsense", role="viewer").status_code == 400
    run = api.call("GET", f"/v1/runs/{1:032x}", role="viewer").json()
    assert [s["name"] for s in run["spans"]] == ["step 0", "step 1"]
    assert api.call("GET", f"/v1/runs/{1:032x}", tenant="globex", role="admin").status_code == 404


def test_decisions_filter_and_page_per_tenant(api: Api) -> None:
    for i in range(3):
        api.evaluate({**RM, "id": f"rm-{i}"})
    api.evaluate(LS)
    blocks = eventually(
        lambda: len(api.call("GET", "/v1/decisions?verdict=block", role="viewer").json()["decisions"]) == 3
    )
    assert blocks
    by_rule = api.call("GET", "/v1/decisions?rule=no-rm&limit=2", role="viewer").json()
    assert len(by_rule["decisions"]) == 2 and by_rule["next"]
    rest = api.call(
        "GET", "/v1/decisions", role="viewer", params={"rule": "no-rm", "before": by_rule["next"]}
    ).json()
    assert len(rest["decisions"]) == 1 and rest["next"] is None
    assert api.call("GET", "/v1/decisions?rule=no", role="viewer").json()["decisions"] == []  # whole ids only
    assert api.call("GET", "/v1/decisions", tenant="globex", role="admin").json()["decisions"] == []
    assert api.call("GET", "/v1/decisions", role="agent").status_code == 403
    assert api.call("GET", "/v1/decisions", tenant="globex", role="viewer").json()["decisions"] == []
    assert api.call("GET", "/v1/decisions?tenant=globex", role="viewer").status_code == 403

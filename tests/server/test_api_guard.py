"""The guard API over a real socket (uvicorn), on SQLite and PostgreSQL: the same answer as
`railguard check --json`, tenants from keys, approvals, idempotency, deadlines, batches, rate limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from api_helpers import POLICY, Api, eventually
from typer.testing import CliRunner

from railguard.cli import app as cli
from railguard.state import Approvals

RM = {"tool": "bash", "args": {"command": "rm -rf /"}, "id": "call-1", "context": {"agent": "a", "run": "r1"}}
LS = {"tool": "bash", "args": {"command": "ls"}, "id": "call-2", "context": {"agent": "a", "run": "r1"}}
REFUND = {"tool": "refund", "args": {"amount": 500}, "id": "call-3", "context": {"agent": "a", "run": "r1"}}


def test_evaluate_answers_exactly_the_check_json_line(api: Api, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"  # the file the server was started with
    assert policy.read_text() == POLICY
    lines = [json.dumps({**a, "context": {**a["context"], "tenant": "acme"}}) for a in (RM, LS)]
    result = CliRunner().invoke(cli, ["check", "--json", "-p", str(policy)], input="\n".join(lines) + "\n")
    cli_answers = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    for action, expected in zip((RM, LS), cli_answers, strict=True):
        answer = api.evaluate(action)
        assert answer.status_code == 200, answer.text
        got = answer.json()
        assert got.keys() == expected.keys()
        assert {k: v for k, v in got.items() if k != "latency_us"} == {
            k: v for k, v in expected.items() if k != "latency_us"
        }
    assert api.evaluate(RM).json()["verdict"] == "block" and api.evaluate(LS).json()["verdict"] == "allow"


def test_the_tenant_is_the_keys_and_naming_another_is_refused(api: Api) -> None:
    other = {**RM, "id": "call-x", "context": {**RM["context"], "tenant": "globex"}}
    refused = api.evaluate(other)
    assert refused.status_code == 403 and "acme" in refused.json()["detail"]
    same = api.evaluate({**RM, "context": {**RM["context"], "tenant": "acme"}})
    assert same.status_code == 200
    # The decision is recorded under the key's tenant only.
    recorded = eventually(lambda: api.server.store.list_decisions(tenant="acme"))
    assert recorded and all(r["context"]["tenant"] == "acme" for r in recorded)
    assert api.server.store.list_decisions(tenant="globex") == []


def test_a_key_for_every_tenant_must_name_the_tenant(api: Api) -> None:
    assert api.evaluate(RM, key=api.server.key).status_code == 400
    named = api.evaluate({**RM, "context": {**RM["context"], "tenant": "globex"}}, key=api.server.key)
    assert named.status_code == 200 and named.json()["verdict"] == "block"


def test_auth_on_the_guard_routes(api: Api) -> None:
    for path, body in (
        ("/v1/guard/evaluate", RM),
        ("/v1/guard/evaluate-batch", {"actions": [RM]}),
        ("/v1/guard/observe", {"run": "r1", "id": "c", "tool": "fetch", "content": "hi"}),
    ):
        assert api.call("POST", path, json=body, key=None).status_code == 401
        wrong = api.call("POST", path, json=body, key="rg_not-a-key")
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert api.call("POST", path, json=body, key=api.revoked).status_code == 401
        for role in ("viewer", "approver"):
            assert api.call("POST", path, json=body, role=role).status_code == 403
        assert api.call("POST", path, json=body, role="admin").status_code == 200


def test_ask_files_an_approval_of_the_callers_tenant_and_the_retry_sees_the_decision(api: Api) -> None:
    asked = api.evaluate(REFUND).json()
    assert asked["verdict"] == "ask" and asked["approval_id"]
    approvals = Approvals(api.server.store)
    request = approvals.get(asked["approval_id"])
    assert request.tenant == "acme" and request.status == "pending"
    approvals.approve(request.id, by="ana")
    assert api.evaluate(REFUND).json()["verdict"] == "allow"  # the same call again, now approved


def test_evaluate_is_idempotent_on_the_decision_id(api: Api) -> None:
    first = api.evaluate(RM).json()
    again = api.evaluate(RM).json()
    assert again == first  # latency included: the stored answer, not a second evaluation
    other_tenant = api.evaluate(RM, tenant="globex").json()
    assert other_tenant["decision_id"] != first["decision_id"]


def test_past_the_client_deadline_the_answer_is_on_error(api: Api) -> None:
    late = api.evaluate({**LS, "id": "late"}, headers={"X-Railguard-Deadline-Ms": "0"})
    assert late.status_code == 200
    body = late.json()
    assert body["verdict"] == "block" and "deadline" in body["reason"] and "on_error=block" in body["reason"]
    bad = api.evaluate(LS, headers={"X-Railguard-Deadline-Ms": "soon"})
    assert bad.status_code == 400 and "milliseconds" in bad.json()["detail"]


def test_batch_keeps_order_and_reports_bad_items_in_place(api: Api) -> None:
    batch = {"actions": [RM, {"args": {}}, LS, {**RM, "context": {"tenant": "globex"}}]}
    answer = api.call("POST", "/v1/guard/evaluate-batch", json=batch)
    # Naming another tenant inside a batch is refused for the whole batch: nothing is decided.
    assert answer.status_code == 403
    answer = api.call("POST", "/v1/guard/evaluate-batch", json={"actions": batch["actions"][:3]})
    decisions = answer.json()["decisions"]
    assert [d.get("verdict") for d in decisions] == ["block", None, "allow"]
    assert decisions[1]["index"] == 1 and "tool" in decisions[1]["error"]
    too_many = api.call("POST", "/v1/guard/evaluate-batch", json={"actions": [LS] * 1001})
    assert too_many.status_code == 400 and "1000" in too_many.json()["detail"]


def test_invalid_actions_get_400_with_the_check_message(api: Api) -> None:
    for body, says in (
        ({"args": {}}, "tool"),
        ({"tool": "x", "extra": 1}, "unknown action key"),
        ([1], "object"),
    ):
        bad = api.evaluate(body)
        assert bad.status_code == 400 and says in bad.json()["detail"], bad.text


def test_rate_limit_answers_429_with_retry_after(api: Api) -> None:
    from railguard.store import KeyRing

    slow = KeyRing(api.server.store).create(tenant="acme", role="agent", actor="test", rate_per_s=0.01).key
    assert api.evaluate(LS, key=slow).status_code == 200
    limited = api.evaluate(LS, key=slow)
    # One request per 100 s: the wait is what is left of the 100 s since the first request, which a
    # busy machine may have spent some seconds of (the header is whole seconds, rounded up).
    assert limited.status_code == 429 and 50 < int(limited.headers["retry-after"]) <= 100
    assert api.evaluate(LS).status_code == 200  # other keys are not affected


def test_observe_feeds_provenance_of_the_callers_run(api: Api) -> None:
    seen = api.call(
        "POST", "/v1/guard/observe", json={"run": "r9", "id": "c1", "tool": "fetch", "content": "x"}
    )
    assert seen.status_code == 200 and seen.json() == {
        "observed": True,
        "tool": "fetch",
        "run": "r9",
        "id": "c1",
    }
    assert api.call("POST", "/v1/guard/observe", json={"tool": "fetch"}).status_code == 400


def test_the_hot_path_answers_failures_as_the_framework_does(tmp_path: Path) -> None:
    """The evaluate endpoints skip FastAPI's middleware: an unexpected failure is still a 500 (and
    reaches the server's log), a body that is not JSON a 400, a wrong method FastAPI's 405."""
    from fastapi.testclient import TestClient

    from railguard.server.app import create_app
    from railguard.store import KeyRing, open_store

    with open_store(f"sqlite:///{tmp_path / 'hot.db'}") as store:
        key = KeyRing(store).create(tenant="acme", role="agent", actor="test").key
        app = create_app(store)
        headers = {"Authorization": f"Bearer {key}"}
        with TestClient(app, raise_server_exceptions=False) as client:
            assert client.post("/v1/guard/evaluate", json=RM, headers=headers).status_code == 200
            not_json = client.post("/v1/guard/evaluate", content=b"{nope", headers=headers)
            assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["detail"]
            assert client.get("/v1/guard/evaluate", headers=headers).status_code == 405

            async def broken(*_args: object) -> None:
                raise RuntimeError("a bug")

            app.state.guard.evaluate = broken
            failed = client.post("/v1/guard/evaluate", json=RM, headers=headers)
            assert failed.status_code == 500 and failed.text == "Internal Server Error"
        with TestClient(app) as client, pytest.raises(RuntimeError, match="a bug"):
            app.state.guard.evaluate = broken
            client.post("/v1/guard/evaluate", json=RM, headers=headers)


def test_a_body_over_the_bound_is_refused_and_the_server_keeps_serving(api: Api) -> None:
    from railguard.server._body_limit import DEFAULT_MAX_BODY_BYTES

    huge = {**LS, "args": {"command": "ls", "pad": "x" * (DEFAULT_MAX_BODY_BYTES + 10)}}
    declared = api.evaluate(huge)
    assert declared.status_code == 413 and "larger than" in declared.json()["detail"]

    def chunks(total: int) -> Any:
        yield b'{"tool": "bash", "id": "call-9", "args": {"command": "ls", "pad": "'
        for _ in range(total // 65536 + 1):
            yield b"x" * 65536
        yield b'"}}'

    streamed = api.call("POST", "/v1/guard/evaluate", content=chunks(DEFAULT_MAX_BODY_BYTES))
    assert streamed.status_code == 413
    small = api.call("POST", "/v1/guard/evaluate", content=chunks(100_000))  # chunked, under the bound
    assert small.status_code == 200 and small.json()["verdict"] == "allow"
    policies = api.call("POST", "/v1/policies", role="admin", content=b"#" * (DEFAULT_MAX_BODY_BYTES + 1))
    assert policies.status_code == 413  # every route, not only the guard's
    assert api.evaluate(LS).json()["verdict"] == "allow"

"""Every route of the API, from the server's own OpenAPI description: no key, a wrong key and a
revoked key get 401; a role without the permission gets 403 (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from api_helpers import Api

# The weakest role that may call each (method, path); every role below it gets 403.
NEEDS = {
    "evaluate": ["viewer", "approver"],
    "read": ["agent"],
    "approve": ["agent", "viewer"],
    "admin": ["agent", "viewer", "approver"],
    "wait or read": [],  # agents wait on their approvals, people watch them: every role may
}
ROUTE_PERMISSION = {
    ("POST", "/v1/guard/evaluate"): "evaluate",
    ("POST", "/v1/guard/evaluate-batch"): "evaluate",
    ("POST", "/v1/guard/observe"): "evaluate",
    ("POST", "/v1/guard/usage"): "evaluate",
    ("GET", "/v1/guard/policy"): "evaluate",
    ("POST", "/v1/traces"): "evaluate",
    ("GET", "/v1/approvals"): "read",
    ("GET", "/v1/approvals/{approval_id}"): "read",
    ("GET", "/v1/approvals/{approval_id}/wait"): "wait or read",
    ("POST", "/v1/approvals/{approval_id}/{decision}"): "approve",
    ("GET", "/v1/killswitch"): "read",
    ("POST", "/v1/killswitch"): "admin",
    ("GET", "/v1/runs"): "read",
    ("GET", "/v1/runs/{trace_id}"): "read",
    ("POST", "/v1/runs/{trace_id}/labels"): "approve",
    ("GET", "/v1/decisions"): "read",
    ("GET", "/v1/policies"): "read",
    ("POST", "/v1/policies"): "admin",
    ("GET", "/v1/policies/active"): "read",
    ("POST", "/v1/policies/rollback"): "admin",
    ("GET", "/v1/policies/{rev}"): "read",
    ("POST", "/v1/policies/{rev}/activate"): "admin",
    ("POST", "/v1/rules/draft"): "admin",
    ("GET", "/v1/keys"): "admin",
    ("POST", "/v1/keys"): "admin",
    ("DELETE", "/v1/keys/{key_id}"): "admin",
    ("GET", "/v1/audit"): "read",
    ("GET", "/v1/audit/verify"): "read",
    ("GET", "/v1/runs/{trace_id}/why"): "read",
    ("GET", "/v1/findings"): "read",
    ("GET", "/v1/findings/{finding_id}"): "read",
    ("POST", "/v1/findings/{finding_id}/status"): "approve",
    ("POST", "/v1/diagnose"): "admin",
    ("GET", "/v1/heartbeat"): "read",
    ("GET", "/v1/proposals"): "read",
    ("GET", "/v1/proposals/{proposal_id}"): "read",
    ("POST", "/v1/proposals/{proposal_id}/backtest"): "read",
    ("POST", "/v1/proposals/{proposal_id}/accept"): "admin",
    ("POST", "/v1/proposals/{proposal_id}/promote"): "admin",
    ("POST", "/v1/proposals/{proposal_id}/reject"): "admin",
}
OPEN = ("/healthz", "/readyz")
PARAMS = {
    "{approval_id}": "x",
    "{decision}": "approve",
    "{trace_id}": "x",
    "{rev}": "1",
    "{key_id}": "x",
    "{finding_id}": "x",
    "{proposal_id}": "p-0abc",
}


def _routes(api: Api) -> list[tuple[str, str]]:
    schema: dict[str, Any] = api.call("GET", "/openapi.json", role="admin").json()
    # /healthz and /readyz stay open for load balancers (they say nothing about any tenant).
    routes = [(m.upper(), path) for path, ops in schema["paths"].items() for m in ops if path not in OPEN]
    return [*routes, ("POST", "/v1/traces"), ("GET", "/openapi.json"), ("GET", "/docs")]


def _concrete(path: str) -> str:
    for name, value in PARAMS.items():
        path = path.replace(name, value)
    return path


def test_every_route_refuses_missing_wrong_and_revoked_keys(api: Api) -> None:
    routes = _routes(api)
    assert len(routes) >= 25
    for method, path in routes:
        url = _concrete(path)
        for key in (None, "rg_wrong", "not-even-a-key", api.revoked):
            answer = api.call(method, url, key=key, json={})
            assert answer.status_code == 401, (method, path, key and key[:6], answer.status_code, answer.text)


def test_every_route_refuses_roles_without_the_permission(api: Api) -> None:
    listed = {route for route in _routes(api) if route[1].startswith("/v1/")}
    assert listed == set(ROUTE_PERMISSION), "a route was added without saying which role may call it"
    for (method, path), permission in ROUTE_PERMISSION.items():
        for role in NEEDS[permission]:
            answer = api.call(method, _concrete(path), role=role, json={})
            assert answer.status_code == 403, (method, path, role, answer.status_code, answer.text)

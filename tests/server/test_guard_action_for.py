"""The guard API's action parsing: the key's tenant is put in the body's context before it is parsed
(one parse, no copies of the parsed action); the result, and every refusal, must be exactly what
parsing the body as sent and then scoping it to the key's tenant gives."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from railguard.model import Action
from railguard.server._auth import AuthError, Principal
from railguard.server._guard import BadAction, GuardService
from railguard.store import ApiKey

BODIES: list[Any] = [
    {"tool": "bash"},
    {"tool": "bash", "args": {"command": "ls"}, "id": "c1"},
    {"tool": "bash", "context": None},
    {"tool": "bash", "context": {}},
    {"tool": "bash", "context": {"agent": "a", "run": "r", "roles": "ops", "labels": {"k": "v"}}},
    {"tool": "bash", "context": {"tenant": "acme", "user": "u"}},
    {"tool": "bash", "context": {"tenant": None, "agent": "a"}},
    {"tool": "bash", "context": {"tenant": "other"}},
    {"tool": "bash", "context": {"bogus": 1}},
    {"tool": "bash", "context": []},
    {"tool": "bash", "context": "acme"},
    {"tool": "", "context": {"agent": "a"}},
    {"tool": "bash", "extra": 1},
    [],
    "bash",
]


def _key(tenant: str) -> Principal:
    return Principal(ApiKey(id="k1", tenant=tenant, role="agent", name="n", created_at=0.0))


def _reference(principal: Principal, body: Any) -> Action:
    """Parse as sent, then scope to the key's tenant."""
    try:
        action = Action.from_dict(body)
    except (ValueError, TypeError) as err:
        raise BadAction(f"invalid action: {err}") from None
    tenant = principal.tenant_for(action.context.tenant)
    return dataclasses.replace(action, context=dataclasses.replace(action.context, tenant=tenant))


def _outcome(parse: Any, principal: Principal, body: Any) -> Any:
    try:
        return parse(principal, body)
    except (BadAction, AuthError) as err:
        return type(err).__name__, str(err), getattr(err, "status", None)


@pytest.mark.parametrize("tenant", ["acme", "*"])
@pytest.mark.parametrize("body", BODIES, ids=repr)
def test_the_parsed_action_is_the_body_scoped_to_the_keys_tenant(tenant: str, body: Any) -> None:
    principal = _key(tenant)
    service = object.__new__(GuardService)  # action_for needs no engine
    sent = repr(body)
    assert _outcome(service.action_for, principal, body) == _outcome(_reference, principal, body)
    assert repr(body) == sent  # the caller's body is not changed

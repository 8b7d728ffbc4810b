"""Least privilege: the acting user's roles and grants decide, never the agent's own identity."""

from __future__ import annotations

import pytest

from railguard.engine import Engine
from railguard.errors import PolicyError
from railguard.model import Action, Context, Mode, Verdict
from railguard.state import ENTITLEMENTS_RULE, permitted_tools

POLICY = """
name: crm
entitlements:
  roles:
    support:
      - crm_read
      - {tools: [refund], when: 'args.amount <= 100'}
    admin: ['crm_*', refund, 'db_*']
  users:
    ana@acme.io:
      - {tools: [refund], when: 'args.amount <= 1000'}
rules:
  - rule: no-drop
    tools: [db_query]
    when: args.sql.startsWith("DROP")
    verdict: block
"""


def _check(tool: str, args: dict[str, object] | None = None, **ctx: object) -> Verdict:
    return ENGINE.check(Action(tool, args or {}, context=Context(**ctx))).verdict  # type: ignore[arg-type]


ENGINE = Engine(text=POLICY)


def test_support_agent_cannot_do_what_its_user_cannot() -> None:
    # the agent runs with broad credentials ("ops-bot"), but acts for a support user
    assert _check("crm_read", agent="ops-bot", user="bo", roles=("support",)) is Verdict.ALLOW
    assert _check("crm_delete", agent="ops-bot", user="bo", roles=("support",)) is Verdict.BLOCK
    assert _check("db_query", {"sql": "SELECT 1"}, agent="ops-bot", roles=("support",)) is Verdict.BLOCK
    assert _check("crm_delete", agent="ops-bot", user="root", roles=("admin",)) is Verdict.ALLOW


def test_the_agents_name_or_labels_grant_nothing() -> None:
    assert _check("crm_delete", agent="admin") is Verdict.BLOCK
    assert _check("crm_delete", agent="admin", labels={"role": "admin"}) is Verdict.BLOCK


def test_no_acting_user_means_deny_for_covered_tools_only() -> None:
    decision = ENGINE.check(Action("refund", {"amount": 5}, context=Context()))
    assert decision.verdict is Verdict.BLOCK and decision.rules == (ENTITLEMENTS_RULE,)
    assert "not entitled to call 'refund'" in decision.reason
    assert _check("weather", {"city": "Oslo"}) is Verdict.ALLOW  # no grant names it: not governed


def test_resource_conditions_and_per_user_grants() -> None:
    assert _check("refund", {"amount": 80}, user="bo", roles=("support",)) is Verdict.ALLOW
    assert _check("refund", {"amount": 800}, user="bo", roles=("support",)) is Verdict.BLOCK
    assert _check("refund", {"amount": 800}, user="ana@acme.io", roles=("support",)) is Verdict.ALLOW
    assert _check("refund", {"amount": 5000}, user="ana@acme.io") is Verdict.BLOCK
    assert _check("refund", {}, user="bo", roles=("support",)) is Verdict.BLOCK  # condition unreadable


def test_other_rules_still_apply_to_entitled_users() -> None:
    assert _check("db_query", {"sql": "DROP TABLE x"}, roles=("admin",)) is Verdict.BLOCK
    assert _check("db_query", {"sql": "SELECT 1"}, roles=("admin",)) is Verdict.ALLOW


def test_permitted_tools_lists_what_the_user_may_be_offered() -> None:
    tools = ["crm_read", "crm_delete", "refund", "db_query", "weather"]
    support = Context(user="bo", roles=("support",))
    assert permitted_tools(ENGINE.policy, support, tools) == ["crm_read", "refund", "weather"]
    assert permitted_tools(ENGINE.policy, Context(roles=("admin",)), tools) == tools
    assert permitted_tools(ENGINE.policy, Context(), tools) == ["weather"]
    assert permitted_tools(Engine(text="rules: []").policy, Context(), tools) == tools  # no entitlements


def test_audit_mode_records_without_blocking() -> None:
    engine = Engine(text="entitlements:\n  mode: audit\n  roles:\n    ops: [deploy]\n")
    decision = engine.check(Action("deploy", {}, context=Context(user="x")))
    assert decision.verdict is Verdict.ALLOW and decision.would_verdict is Verdict.BLOCK
    assert decision.hits[0].mode is Mode.AUDIT


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("entitlements: [support]", "'entitlements' must be a mapping"),
        ("entitlements:\n  role: {}", "did you mean 'roles'"),
        ("entitlements:\n  roles:\n    support: crm_read", "must be a non-empty list"),
        ("entitlements:\n  roles:\n    support: [{when: 'true'}]", "needs 'tools'"),
        ("entitlements:\n  roles:\n    support: [{tools: [x], if: 'true'}]", "unknown key 'if'"),
        ("entitlements:\n  roles: {}", "grants no tools"),
        ("entitlements:\n  roles:\n    s: [{tools: [x], when: 'argz.a == 1'}]", "argz"),
    ],
)
def test_malformed_sections_fail_the_load_with_a_location(section: str, expected: str) -> None:
    with pytest.raises(PolicyError) as raised:
        Engine(text=f"name: p\n{section}\n")
    assert expected in str(raised.value) and "<inline>:" in str(raised.value)

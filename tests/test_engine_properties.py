"""Property-based: random actions against random valid policies never crash the engine."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import railguard as rg
from railguard.engine import Engine

FIELDS = ["amount", "to", "path", "items", "flag", "nested"]
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)  # fmt: skip
json_value = st.recursive(
    json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
args_strategy = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), json_value, max_size=6)

field = st.sampled_from(FIELDS)
literal = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.text(alphabet="abcxyz /-_", max_size=8).map(lambda s: json.dumps(s)),
    st.sampled_from(["true", "false", "null", "1.5", "[1, 2]", '["a", "b"]']),
)
atom = st.one_of(
    st.builds(lambda f, op, v: f"args.{f} {op} {v}", field, st.sampled_from(["==", "!=", ">", "<", ">="]), literal),
    st.builds(lambda f: f"has(args.{f})", field),
    st.builds(lambda f, v: f"string(args.{f}).startsWith({v})", field, literal),
    st.builds(lambda f: f"size(args.{f}) > 2", field),
    st.builds(lambda v: f"{v} in args", literal),
    st.sampled_from([
        'tool == "pay"', 'ctx.env == "prod"', '"admin" in ctx.roles', "true", "false", "effect == \"read\"",
        "args.items.exists(i, i == 1)", "tool in names", "glob(tool, \"p*\")",
    ]),
)  # fmt: skip
condition = st.recursive(
    atom,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a}) && ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) || ({b})", inner, inner),
        st.builds(lambda a: f"!({a})", inner),
    ),
    max_leaves=4,
)
rule = st.fixed_dictionaries(
    {
        "when": condition,
        "verdict": st.sampled_from(["allow", "block", "ask", "modify"]),
        "tools": st.lists(st.sampled_from(["pay", "p*", "send_*", "*", "x"]), max_size=2),
        "mode": st.sampled_from([None, "audit", "enforce"]),
        "exception": st.one_of(st.none(), condition),
        "set": st.sampled_from(["args.amount", '"fixed"', "size(args)", "args.nested.x"]),
    }
)


def policy_yaml(rules: list[dict[str, Any]], mode: str, on_error: str) -> str:
    lines = [f"mode: {mode}", f"on_error: {on_error}", "rules:", "  - {list: names, items: [pay, send_x]}"]
    for i, r in enumerate(rules):
        lines.append(f"  - rule: r{i}")
        lines.append(f"    when: {json.dumps(r['when'])}")
        lines.append(f"    verdict: {r['verdict']}")
        lines.append(f"    message: {json.dumps('r' + str(i) + ' ${tool}')}")
        if r["tools"]:
            lines.append(f"    tools: {json.dumps(r['tools'])}")
        if r["mode"]:
            lines.append(f"    mode: {r['mode']}")
        if r["exception"]:
            lines.append(f"    exceptions: [{{name: e, when: {json.dumps(r['exception'])}}}]")
        if r["verdict"] == "modify":
            lines.append(f"    modify: {{set: {{amount: {json.dumps(r['set'])}}}, remove: [flag]}}")
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=st.lists(rule, min_size=1, max_size=6),
    mode=st.sampled_from(["enforce", "audit"]),
    on_error=st.sampled_from(["block", "ask", "allow"]),
    actions=st.lists(
        st.tuples(st.sampled_from(["pay", "send_x", "other", "p", ""]) | st.text(max_size=12), args_strategy),
        min_size=1,
        max_size=4,
    ),
    roles=st.lists(st.text(max_size=6), max_size=3),
)
def test_random_policies_and_actions_never_crash(
    rules: list[dict[str, Any]], mode: str, on_error: str, actions: list[tuple[str, dict[str, Any]]],
    roles: list[str],
) -> None:  # fmt: skip
    engine = Engine.from_yaml(policy_yaml(rules, mode, on_error))
    ctx = rg.Context(env="prod", roles=tuple(roles), run="r")
    for tool, args in actions:
        decision = engine.check(rg.Action(tool or "t", args, context=ctx))
        assert isinstance(decision.verdict, rg.Verdict)
        assert decision.reason
        if mode == "audit" and decision.error is None:
            assert decision.verdict is rg.Verdict.ALLOW
        if decision.verdict is rg.Verdict.MODIFY:
            assert isinstance(decision.args, dict) and "flag" not in decision.args
        json.dumps(decision.to_record(), default=str)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_arbitrary_yaml_text_gives_a_policy_or_a_policy_error(text: str) -> None:
    try:
        Engine.from_yaml(text)
    except rg.PolicyError as err:
        assert str(err)


@settings(max_examples=40, deadline=None)
@given(
    depth=st.integers(1, 6000),
    shape=st.lists(st.sampled_from(["list", "dict"]), min_size=1, max_size=3),
    leaf=json_leaf | st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=2),
)
def test_check_never_raises_for_any_nesting_or_string(depth: int, shape: list[str], leaf: Any) -> None:
    value: Any = leaf
    for i in range(depth):
        value = [value] if shape[i % len(shape)] == "list" else {"k": value}
    engine = Engine.from_yaml("rules:\n  - {rule: r, tools: [t], when: has(args.v), verdict: ask}\n")
    decision = engine.check("t", {"v": value}, call_id="c1")
    if depth >= 200:
        assert decision.verdict is rg.Verdict.BLOCK and "deeper than 200 levels" in decision.reason
    else:
        assert decision.verdict in (rg.Verdict.ASK, rg.Verdict.BLOCK)

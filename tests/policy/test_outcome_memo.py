"""The policy step's outcome remembered per action (railguard.policy._memo): the same decisions as a
fresh evaluation, for exactly the same inputs only. Only plans that read a detector fact are
remembered (rules over the action's own fields are cheaper to evaluate than to key), so the rules
below read `secrets` too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cel
import pytest

import railguard as rg
from railguard.detect import facts as facts_module
from railguard.engine import Engine
from railguard.policy import _evaluate
from railguard.policy._evaluate import cel_context
from railguard.policy._memo import memo_for, memo_key

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"

POLICY = """
name: memo-test
rules:
  - rule: prod-delete
    tools: [run]
    when: ctx.env == "prod" && args.op == "delete" && !secrets.secrets
    verdict: block
    message: "no ${args.op} in ${ctx.env}"
  - rule: big
    tools: [run]
    when: has(args.n) && args.n == 1
    verdict: ask
  - rule: redact-note
    tools: [note]
    when: has(args.text) && !secrets.secrets
    verdict: modify
    modify:
      set: {text: '"[" + args.text + "]"'}
"""


def _computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the policy step's evaluations that computed the rules' variables."""
    calls: list[int] = []
    real = _evaluate._variables

    def counting(action: rg.Action, facts: Any) -> dict[str, Any]:
        calls.append(1)
        return real(action, facts)

    monkeypatch.setattr(_evaluate, "_variables", counting)
    return calls


def _outcome(d: rg.Decision) -> tuple[str, tuple[str, ...], str, Any]:
    return d.verdict.value, d.rules, d.reason, None if d.args is None else dict(d.args)


def test_an_action_seen_before_skips_the_rules_and_gets_the_same_decision(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _computed(monkeypatch)
    text = POLICY.replace("memo-test", "memo-seen")
    action = rg.Action("run", {"op": "delete"}, context=rg.Context(env="prod"))
    first = Engine.from_yaml(text).check(action)
    again = Engine.from_yaml(text).check(action)  # a second engine of the same text shares the memo
    assert first.verdict is rg.Verdict.BLOCK and _outcome(again) == _outcome(first)
    assert first.decision_id == again.decision_id
    assert len(calls) == 1


def test_a_plan_without_facts_is_evaluated_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _computed(monkeypatch)
    engine = Engine.from_yaml('rules:\n  - {rule: a, when: args.op == "delete", verdict: block}\n')
    action = rg.Action("run", {"op": "delete"})
    first, again = engine.check(action), engine.check(action)
    assert first.verdict is rg.Verdict.BLOCK and _outcome(again) == _outcome(first)
    assert len(calls) == 2 and len(engine.policy.outcomes) == 0


def test_what_the_rules_read_is_all_in_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine.from_yaml(POLICY.replace("memo-test", "memo-keys"))
    cases = [
        rg.Action("run", {"op": "delete"}, context=rg.Context(env="prod")),
        rg.Action("run", {"op": "delete"}, context=rg.Context(env="dev")),
        rg.Action("run", {"op": "delete"}, context=rg.Context(env="prod", labels={"a": "b"})),
        rg.Action("run", {"n": 1}),
        rg.Action("run", {"n": True}),  # CEL tells true from 1: so must the memo
        rg.Action("run", {"n": 1.0}),
        rg.Action("run", {"n": "1"}),
    ]
    fresh = [
        _outcome(Engine.from_yaml(POLICY.replace("memo-test", "memo-fresh"), mode="enforce").check(a))
        for a in cases
    ]
    for _ in range(2):  # the second round comes from the memo
        assert [_outcome(engine.check(a)) for a in cases] == fresh
    assert [o[0] for o in fresh] == ["block", "allow", "block", "ask", "allow", "ask", "allow"]
    keys = {memo_key(a, rg.Mode.ENFORCE, None) for a in cases}
    assert len(keys) == len(cases)


def test_the_acting_mode_is_part_of_the_key() -> None:
    text = POLICY.replace("memo-test", "memo-mode")
    action = rg.Action("run", {"op": "delete"}, context=rg.Context(env="prod"))
    assert Engine.from_yaml(text).check(action).verdict is rg.Verdict.BLOCK
    audited = Engine.from_yaml(text, mode="audit").check(action)
    assert audited.verdict is rg.Verdict.ALLOW and audited.would_verdict is rg.Verdict.BLOCK


def test_a_rewrite_is_never_remembered_and_reads_its_own_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _computed(monkeypatch)
    engine = Engine.from_yaml(POLICY.replace("memo-test", "memo-modify"))
    for text in ("a", "b", "a"):
        d = engine.check(rg.Action("note", {"text": text}))
        assert d.verdict is rg.Verdict.MODIFY and d.args == {"text": f"[{text}]"}
    assert len(calls) == 3


def test_a_later_reader_of_the_cel_context_gets_this_actions_variables() -> None:
    """After a remembered outcome the context still holds the previous action's variables: what
    reads it after the rules (an approval's `match`, a rewrite) goes through `cel_context`."""
    engine = Engine.from_yaml(POLICY.replace("memo-test", "memo-context"))
    one, two = rg.Action("run", {"op": "one"}), rg.Action("run", {"op": "two"})
    engine.check(one)
    engine.check(two)
    _, facts = engine._evaluate(one)
    assert facts.cel_stale
    assert cel.compile("args.op").execute(cel_context(one, facts)) == "one"
    assert not facts.cel_stale


def test_a_registered_or_replaced_fact_is_never_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def compute(action: rg.Action, spec: rg.ToolSpec | None) -> object:
        seen.append(1)
        return {"x": len(seen) > 1}

    monkeypatch.setitem(facts_module.FACTS, "probe", facts_module.FactProvider("probe", compute, False, ""))
    text = "rules:\n  - {rule: a, when: probe.x, verdict: block}\n"
    verdicts = [Engine.from_yaml(text).check("t", {}).verdict for _ in range(2)]
    assert verdicts == [rg.Verdict.ALLOW, rg.Verdict.BLOCK]


def test_values_that_are_not_plain_json_are_decided_afresh() -> None:
    for args in ({"a": (1, 2)}, {"a": {1: "x"}}, {"a": Path("/x")}):
        assert memo_key(rg.Action("t", args), rg.Mode.ENFORCE, None) is None
    assert memo_key(rg.Action("t", {"a": "x" * 5000}), rg.Mode.ENFORCE, None) is None
    # key order is kept: the detectors read the arguments in order
    assert memo_key(rg.Action("t", {"a": 1, "b": 2}), rg.Mode.ENFORCE, None) != memo_key(
        rg.Action("t", {"b": 2, "a": 1}), rg.Mode.ENFORCE, None
    )


def test_the_memo_is_bounded() -> None:
    memo = memo_for("bounded-test-digest")
    for i in range(5000):
        memo.put(("k", i), None, ())
    assert len(memo) == 4096 and memo.get(("k", 0), None) is None and memo.get(("k", 4999), None) == ()


def _shell_sets() -> list[str]:
    import yaml

    lines = (DATA / "shell_everyday.tsv").read_text(encoding="utf-8").splitlines()
    commands = [line.split("\t", 2)[2] for line in lines if line and not line.startswith("#")][::4]
    for name in ("shell_dangerous", "shell_benign", "shell_redteam"):
        for item in yaml.safe_load((DATA / f"{name}.yaml").read_text()) or []:
            if isinstance(item, dict) and isinstance(item.get("command"), str):
                commands.append(item["command"])
    return commands


@pytest.mark.parametrize("pack", ["default", "coding-agent"])
def test_remembered_decisions_equal_fresh_ones_on_the_shell_sets(pack: str) -> None:
    """Every command decided fresh (explain never uses the memo) and then from the memo."""
    from railguard.detect.shell._rules_db import _load_sql

    _load_sql()  # the SQL parser loads inside the first evaluation that needs it: not what is compared
    engine = Engine(packs=[pack])
    for command in _shell_sets():
        action = rg.Action("Bash", {"command": command})
        fresh = engine.explain(action).decision
        first, remembered = engine.check(action), engine.check(action)
        assert _outcome(first) == _outcome(fresh) == _outcome(remembered), json.dumps(command)

"""`railguard check --json` answers a line seen before from memory (railguard.cli._repeats): the same
answer but for its latency, and only for decisions the engine calls repeatable."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import rg

from railguard import Action, Engine
from railguard.cli import _repeats
from railguard.cli._repeats import Answers

POLICY = """
name: repeats-test
rules:
  - {rule: block-rm, tools: [delete_file], verdict: block, message: no deletes}
  - {rule: ask-pay, tools: [pay], when: args.amount > 10, verdict: ask}
  - {rule: strip-token, tools: [fetch], verdict: modify, modify: {remove: [token]}}
"""

LINES = [
    '{"tool": "delete_file", "args": {"path": "a"}}',
    '{"tool": "pay", "args": {"amount": 50}, "context": {"tenant": "acme", "run": "r1"}, "id": "c1"}',
    '{"tool": "fetch", "args": {"url": "https://example.org", "token": "t"}}',  # modify: never remembered
    '{"tool": "Bash", "args": {"command": "git status"}}',
]


def _without_latency(text: str) -> list[str]:
    return [re.sub(r'"latency_us": [0-9.e+-]+', '"latency_us": X', line) for line in text.splitlines()]


@pytest.mark.parametrize("from_file", [False, True], ids=["stdin", "file"])
def test_a_repeated_line_gets_the_same_answer_without_deciding_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, from_file: bool
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.replace("repeats-test", f"repeats-{from_file}"))  # a memo of its own
    decided: list[str] = []
    real = Engine.check_repeatable

    def counted(self: Engine, action: Action) -> Any:
        decided.append(action.tool)
        return real(self, action)

    monkeypatch.setattr(Engine, "check_repeatable", counted)
    stdin = "\n".join(LINES * 3) + "\n"
    if from_file:
        (tmp_path / "in.jsonl").write_text(stdin)
        result = rg("check", "-p", str(policy), "--json", "--input", str(tmp_path / "in.jsonl"))
    else:
        result = rg("check", "-p", str(policy), "--json", stdin=stdin)
    assert result.returncode == 0, result.stderr
    answers = _without_latency(result.stdout)
    assert answers == answers[: len(LINES)] * 3
    verdicts = [json.loads(a)["verdict"] for a in result.stdout.splitlines()]
    assert verdicts == ["block", "ask", "modify", "allow"] * 3
    # Every line decided once, but the rewrite (its answer carries arguments) every time.
    assert decided == ["delete_file", "pay", "fetch", "Bash", "fetch", "fetch"]
    # A second stream of the same policy in the process knows them too; another policy does not.
    decided.clear()
    assert (
        _without_latency(rg("check", "-p", str(policy), "--json", stdin=LINES[0] + "\n").stdout)
        == answers[:1]
    )
    other = tmp_path / "other.yaml"
    other.write_text(POLICY.replace("repeats-test", f"repeats-other-{from_file}"))
    assert rg("check", "-p", str(other), "--json", stdin=LINES[0] + "\n").returncode == 0
    assert decided == ["delete_file"]


def test_only_a_pure_function_of_the_action_is_repeatable() -> None:
    engine = Engine.from_yaml(POLICY, mode="enforce")
    assert engine.check_repeatable(Action("pay", {"amount": 50}))[1]
    assert engine.check_repeatable(Action("Bash", {"command": "rm -rf /"}))[1]
    assert not engine.check_repeatable(Action("fetch", {"token": "t"}))[1]  # rewritten arguments
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    decision, repeatable = engine.check_repeatable(Action("pay", {"x": deep}))
    assert decision.error is not None and not repeatable
    engine.add_step(lambda _a, _f: None, name="counter")  # a step of its own may keep state
    assert not engine.check_repeatable(Action("pay", {"amount": 50}))[1]


def test_answers_are_bounded_and_keep_the_text_around_the_latency() -> None:
    answers = Answers(lines=2)
    text = json.dumps({"verdict": "allow", "reason": '"latency_us": 1.0', "latency_us": 12.3, "tool": "x"})
    answers.remember(b"a", text)
    known = answers.recall(b"a")
    assert known is not None
    assert Answers.answer(known, 12.3) == text
    assert json.loads(Answers.answer(known, 0.04)) == {**json.loads(text), "latency_us": 0.0}
    answers.remember(b"x" * (_repeats.MAX_LINE + 1), text)  # too long: decided each time
    answers.remember(b"n", text.replace("latency_us", "elapsed"))  # not an answer: decided each time
    assert len(answers) == 1
    answers.remember(b"c", text)
    answers.remember(b"d", text)
    assert len(answers) == 2 and answers.recall(b"a") is None

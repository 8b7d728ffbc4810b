"""Backtest on stored history: a scripted agent runs through a traced engine with stateful guards
(loop cap, a per-run limit, an ask a human answers) into a real store (SQLite file and PostgreSQL);
replaying the window with the unchanged policy reproduces every stored verdict, and a candidate's
changes are counted by rule, run, approval and labelled failure."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from opentelemetry import trace as otel_trace
from typer.testing import CliRunner

from railguard._scope import run
from railguard.cli import app
from railguard.diagnose.backtest import backtest, read_history, replay_engine
from railguard.diagnose.labels import label_run
from railguard.engine import Engine
from railguard.model import Action, Verdict
from railguard.state import install_cushions
from railguard.store import SpanRow, open_store
from railguard.trace import configure_tracing, tool_call, trace_engine

CURRENT = """
loops: {max_repeats: 3}
limits:
  - {tools: [send_email], key: run, window_s: null, max_count: 2}
rules:
  - rule: shell/rm-root
    tools: [Bash]
    when: "args.command.startsWith('rm -rf /')"
    verdict: block
    message: "deleting the root"
  - rule: refund/large
    tools: [refund]
    when: "args.amount > 100"
    verdict: ask
    message: "a large refund needs a person"
"""

# The candidate adds a terraform-against-prod block and turns large refunds into blocks.
CANDIDATE = CURRENT.replace(
    """    verdict: ask
    message: "a large refund needs a person"
""",
    """    verdict: block
    message: "no large refunds"
  - rule: deploy/terraform-prod
    tools: [Bash]
    when: "args.command.contains('terraform apply') && args.command.contains('prod')"
    verdict: block
    message: "terraform apply against prod"
""",
)

RUN_SCRIPT: list[tuple[str, dict[str, object]]] = [
    ("Bash", {"command": "ls -la"}),
    ("Bash", {"command": "terraform apply -var env=prod"}),
    ("Bash", {"command": "rm -rf /"}),
    *[("poll_status", {"job": "j1"})] * 5,  # the loop cap blocks the 4th and 5th
    *[("send_email", {"to": "a@example.com", "body": "hi"})] * 3,  # the limit blocks the 3rd
    ("refund", {"order": "o1", "amount": 20}),
]


def _record_history(url: str, tmp_path: Path, runs: int = 3) -> list[str]:
    """Run the scripted agent `runs` times; the last run's large refund is asked and approved by a
    person, then retried. Returns the trace ids of the runs."""
    policy = tmp_path / "current.yaml"
    policy.write_text(CURRENT)
    store = open_store(url)
    tracing = configure_tracing(store, service_name="backtest-test")
    engine = Engine([str(policy)])
    trace_engine(engine)
    cushions = install_cushions(engine, store)
    trace_ids: list[str] = []
    try:
        for r in range(runs):
            with run(agent="deploy" if r % 2 == 0 else "support", tenant="acme", user="ana", session=f"s{r}"):
                trace_ids.append(format(otel_trace.get_current_span().get_span_context().trace_id, "032x"))
                for i, (tool, args) in enumerate(RUN_SCRIPT):
                    call_id = f"c{i}"
                    with tool_call(tool, call_id, args) as span:
                        decision = engine.check(Action(tool, args, call_id))
                        if decision.allowed:
                            span.record_result(f"ok {tool} {i}")
                if r == runs - 1:
                    refund = Action("refund", {"order": "o2", "amount": 500}, "big")
                    with tool_call("refund", "big", refund.args):
                        asked = engine.admit(refund)
                    assert asked.verdict is Verdict.ASK and asked.approval_id
                    cushions.approvals.approve(asked.approval_id, by="lead")
                    with tool_call("refund", "big", refund.args) as span:
                        approved = engine.admit(refund)
                        assert approved.allowed
                        span.record_result("refunded")
    finally:
        tracing.shutdown()
        engine.close()
        store.close()
    return trace_ids


def _policy(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.postgres
def test_unchanged_policy_reproduces_every_stored_verdict(store_url: str, tmp_path: Path) -> None:
    _record_history(store_url, tmp_path)
    with open_store(store_url) as store:
        history = read_history(store, since=time.time() - 3600, until=time.time() + 60)
        assert history.skipped == 0
        recorded = [a.recorded for a in history.actions]
        assert len(recorded) == 3 * len(RUN_SCRIPT) + 1
        # the stateful guards did act in the recorded history
        assert recorded.count("block") == 3 * (1 + 2 + 1) and recorded.count("ask") == 1
        with replay_engine([_policy(tmp_path, "same.yaml", CURRENT)]) as same:
            report = backtest(history, same)
        assert report.actions == len(recorded)
        assert report.changed == 0, report.examples
        with (
            replay_engine([_policy(tmp_path, "same.yaml", CURRENT)]) as current,
            replay_engine([_policy(tmp_path, "same2.yaml", CURRENT)]) as same,
        ):
            report = backtest(history, same, current=current)
        assert report.not_reproduced == 0 and report.changed == 0


@pytest.mark.postgres
def test_candidate_changes_are_counted(store_url: str, tmp_path: Path) -> None:
    traces = _record_history(store_url, tmp_path)
    with open_store(store_url) as store:
        label_run(store, traces[0], label="failure", note="deployed to prod", by="ana", tenant="acme")
        history = read_history(store, since=time.time() - 3600, until=time.time() + 60)
        failed = {traces[0]}
        with replay_engine([_policy(tmp_path, "candidate.yaml", CANDIDATE)]) as candidate:
            report = backtest(history, candidate, failed_traces=failed)
    out = report.to_json()
    assert out["newly_blocked"] == 3 + 1  # three terraform applies and the approved large refund
    assert out["changed"] == 4 and out["newly_asked"] == out["newly_allowed"] == out["newly_modified"] == 0
    assert out["by_rule"] == {"deploy/terraform-prod": 3, "refund/large": 1}
    assert out["runs_affected"] == 3
    assert out["approved_now_blocked"] == 1
    assert out["labelled_failures_caught"] == 1
    assert set(report.by_agent) == {"deploy", "support"}


def test_backtest_cli_json_is_one_object(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rg.db'}"
    _record_history(url, tmp_path, runs=2)
    candidate = _policy(tmp_path, "candidate.yaml", CANDIDATE)
    result = CliRunner().invoke(
        app, ["backtest", "-p", str(candidate), "--since", "1h", "--db", url, "--json"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert list(out) == [
        "actions", "changed", "newly_blocked", "newly_asked", "newly_allowed", "newly_modified", "by_rule",
        "runs_affected", "approved_now_blocked", "labelled_failures_caught",
    ]  # fmt: skip
    assert out["actions"] == 2 * len(RUN_SCRIPT) + 1 and out["newly_blocked"] == 2 + 1
    text = CliRunner().invoke(app, ["backtest", "-p", str(candidate), "--since", "1h", "--db", url])
    assert text.exit_code == 0 and "newly blocked 3" in text.stdout and "deploy/terraform-prod" in text.stdout


def test_backtest_leaves_live_state_alone(tmp_path: Path) -> None:
    """Replaying through the candidate charges only the throw-away store: the live loop history and
    limits are what the agent left, so its next call is decided exactly as before the backtest."""
    url = f"sqlite:///{tmp_path / 'rg.db'}"
    _record_history(url, tmp_path, runs=1)
    policy = _policy(tmp_path, "p.yaml", CURRENT)
    with open_store(url) as store:
        engine = Engine([str(policy)])
        install_cushions(engine, store)
        probe = Action("send_email", {"to": "b@example.com", "body": "x"}, "probe")
        with run(agent="deploy", tenant="acme", user="ana", session="fresh"):
            before = engine.dry_run(probe)
        history = read_history(store, since=time.time() - 3600, until=time.time() + 60)
        with replay_engine([policy]) as replayed:
            backtest(history, replayed)
        with run(agent="deploy", tenant="acme", user="ana", session="fresh"):
            after = engine.dry_run(probe)
        engine.close()
    assert before.verdict is after.verdict is Verdict.ALLOW


def test_missing_candidate_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["backtest", "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code == 2
    assert "-p FILE" in result.output


def test_otlp_ingested_tool_calls_without_decisions_are_replayed(tmp_path: Path) -> None:
    """Traces from other instrumentation carry no decision: their tool spans' recorded arguments are
    the actions (baseline: they ran), a chat span's user turn reaches the replay, and a span without
    arguments is counted as skipped."""
    url = f"sqlite:///{tmp_path / 'otlp.db'}"
    start = int((time.time() - 60) * 1e9)
    common = {"tenant": "acme", "agent": "deploy"}
    rows = [
        SpanRow("a" * 32, "c" * 16, None, "chat", "client", start, start + 10, operation="chat",
                attributes={"gen_ai.input.messages": json.dumps([{"role": "user", "content": "ship it"}])},
                **common),
        SpanRow("a" * 32, "1" * 16, None, "execute_tool Bash", "internal", start + 20, start + 30,
                operation="execute_tool", tool_name="Bash", tool_call_id="t1",
                attributes={"gen_ai.tool.call.arguments": json.dumps({"command": "terraform apply -var env=prod"})},
                **common),
        SpanRow("a" * 32, "2" * 16, None, "execute_tool Bash", "internal", start + 40, start + 50,
                operation="execute_tool", tool_name="Bash", tool_call_id="t2", **common),
    ]  # fmt: skip
    with open_store(url) as store:
        store.write_spans(rows)
        history = read_history(store, since=time.time() - 3600, until=time.time() + 60)
        assert [e["type"] for e in history.events] == ["user", "action"]
        assert history.skipped == 1 and history.actions[0].recorded is None
        with replay_engine([_policy(tmp_path, "candidate.yaml", CANDIDATE)]) as candidate:
            report = backtest(history, candidate)
    assert report.to_json()["newly_blocked"] == 1 and report.runs == {"a" * 32}


@pytest.mark.postgres
def test_a_call_checked_again_after_a_person_answered_is_one_action(store_url: str, tmp_path: Path) -> None:
    """Asked, answered by a person, checked again under the same call id: one stored action, its
    recorded verdict the ask, carrying the person's answer (a denial as much as an approval)."""
    policy = _policy(tmp_path, "current.yaml", CURRENT)
    with open_store(store_url) as store:
        tracing = configure_tracing(store, service_name="backtest-test")
        engine = Engine([str(policy)])
        trace_engine(engine)
        cushions = install_cushions(engine, store)
        try:
            with run(agent="support", tenant="acme", user="ana", session="answers"):
                for call_id, answer in (
                    ("denied-1", cushions.approvals.deny),
                    ("approved-1", cushions.approvals.approve),
                ):
                    refund = Action("refund", {"order": call_id, "amount": 500}, call_id)
                    with tool_call("refund", call_id, refund.args):
                        asked = engine.admit(refund)
                    assert asked.verdict is Verdict.ASK and asked.approval_id
                    answer(asked.approval_id, by="lead")
                    with tool_call("refund", call_id, refund.args):
                        engine.admit(refund)
        finally:
            tracing.shutdown()
            engine.close()
        history = read_history(store, since=time.time() - 3600, until=time.time() + 60)
        assert [(a.tool, a.recorded, a.human) for a in history.actions] == [
            ("refund", "ask", "denied"),
            ("refund", "ask", "approved"),
        ]
        with replay_engine([policy]) as same:
            report = backtest(history, same)
        assert (report.actions, report.changed) == (2, 0)
        with replay_engine([_policy(tmp_path, "candidate.yaml", CANDIDATE)]) as candidate:
            report = backtest(history, candidate)
        assert (report.newly_blocked, report.approved_now_blocked, report.denied_now_allowed) == (2, 1, 0)


BUDGETED = (
    CURRENT
    + """
budgets:
  - {name: run-tokens, scope: run, metric: tokens, limit: 2000}
"""
)


@pytest.mark.postgres
def test_budgets_replay_each_runs_model_usage(store_url: str, tmp_path: Path) -> None:
    """A run's model calls (chat spans with their tokens) are charged to the budgets before the calls
    that follow them, in replay as live: the unchanged policy reproduces the budget's blocks, and a
    candidate with a tighter budget blocks exactly the calls made once a run had spent past it."""
    from railguard.trace import model_call

    policy = _policy(tmp_path, "budgeted.yaml", BUDGETED)
    with open_store(store_url) as store:
        tracing = configure_tracing(store, service_name="backtest-test")
        engine = Engine([str(policy)])
        trace_engine(engine)
        install_cushions(engine, store)
        try:
            for r in range(2):
                with run(agent="deploy", tenant="acme", user="ana", session=f"budget-{r}"):
                    for i in range(6):  # 500 tokens before each call: from the 4th on, 2000 are used up
                        with model_call("openai", "gpt-4o-mini") as call:
                            call.record_usage(input_tokens=400, output_tokens=100)
                        engine.record_usage(tokens=500)
                        with tool_call("Bash", f"c{i}", {"command": f"echo {i}"}):
                            engine.check(Action("Bash", {"command": f"echo {i}"}, f"c{i}"))
        finally:
            tracing.shutdown()
            engine.close()
        history = read_history(store, since=time.time() - 3600, until=time.time() + 60)
        assert [e["type"] for e in history.events].count("usage") == 12
        recorded = [a.recorded for a in history.actions]
        assert recorded == (["allow"] * 3 + ["block"] * 3) * 2
        with replay_engine([policy]) as same:
            report = backtest(history, same)
        assert (report.actions, report.changed) == (12, 0)
        tighter = _policy(tmp_path, "tighter.yaml", BUDGETED.replace("limit: 2000", "limit: 1000"))
        with replay_engine([tighter]) as candidate:
            report = backtest(history, candidate)
        # 1000 tokens are used up before the 2nd call: the 2nd and 3rd of each run are newly blocked
        assert (report.newly_blocked, report.changed, report.runs_affected) == (4, 4, 2)
        assert dict(report.by_rule) == {"run-tokens": 4}

"""Release gate over stored runs (SQLite file and PostgreSQL): a planted regression fails it, two
equal versions pass, too little data gives exit 2 — through the library and `railguard gate`."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from railguard.cli import app
from railguard.diagnose.gate import gate
from railguard.store import SpanRow, open_store

NOW = time.time()


def _runs(version: str, n: int, *, seed: int, block_p: float, cost: float, error_p: float) -> list[SpanRow]:
    """`n` runs of agent `support` at `version`: a model call and three tool calls each."""
    rng = random.Random(seed)
    rows: list[SpanRow] = []
    for i in range(n):
        trace = f"{version.replace('.', '')}{seed:04d}{i:06d}".ljust(32, "0")
        start = int((NOW - 3600 + i) * 1e9)
        common = {"tenant": "acme", "agent": "support", "agent_version": version}
        rows.append(SpanRow(trace, f"{i:08x}root".ljust(16, "0")[:16], None, "invoke_agent support", "internal",
                            start, start + 10**9, operation="invoke_agent", **common))  # fmt: skip
        rows.append(SpanRow(trace, f"{i:08x}chat".ljust(16, "0")[:16], None, "chat", "client", start,
                            start + int(rng.uniform(200, 400) * 1e6), operation="chat", response_model="m1",
                            cost_usd=cost * rng.uniform(0.8, 1.2), **common))  # fmt: skip
        for j in range(3):
            blocked = rng.random() < block_p
            failed = rng.random() < error_p
            rows.append(SpanRow(trace, f"{i:08x}{j:04d}t".ljust(16, "0")[:16], None, "execute_tool lookup",
                                "internal", start, start + int(rng.uniform(20, 40) * 1e6),
                                status="error" if failed else "ok", operation="execute_tool", tool_name="lookup",
                                verdict="block" if blocked else "allow", decision_id=f"d{trace}{j}",
                                **common))  # fmt: skip
    return rows


@pytest.mark.postgres
def test_planted_regression_fails_equal_versions_pass(store_url: str) -> None:
    with open_store(store_url) as store:
        store.write_spans(_runs("1.0", 60, seed=1, block_p=0.03, cost=0.01, error_p=0.01))
        store.write_spans(_runs("1.1", 60, seed=2, block_p=0.03, cost=0.01, error_p=0.01))
        store.write_spans(_runs("2.0", 60, seed=3, block_p=0.30, cost=0.03, error_p=0.01))
        window = {"since": NOW - 86400, "until": NOW + 60}
        worse = gate(store, baseline="1.0", candidate="2.0", **window)
        assert worse.exit_code == 1 and worse.verdict == "fail"
        flagged = {m.name for m in worse.metrics if m.worse}
        assert flagged == {"block_rate", "cost_per_run"}
        equal = gate(store, baseline="1.0", candidate="1.1", **window)
        assert equal.exit_code == 0, [m for m in equal.metrics if m.worse]
        assert equal.runs_baseline == equal.runs_candidate == 60
        little = gate(store, baseline="1.0", candidate="9.9", **window)
        assert little.exit_code == 2 and little.verdict == "insufficient_data"
        by_model = gate(store, baseline="m1", candidate="m2", by="model", **window)
        assert by_model.runs_baseline == 180 and by_model.exit_code == 2
        # policy revisions: the decisions on a run's tool calls name the revision that made them
        for row in _runs("2.0", 60, seed=3, block_p=0.30, cost=0.03, error_p=0.01):
            if row.decision_id:
                store.write_decisions([{"decision_id": row.decision_id, "timestamp": NOW - 60, "tool": "lookup",
                                        "verdict": row.verdict, "policy_revision": "rev-b", "context": {}}])  # fmt: skip
        for row in _runs("1.0", 60, seed=1, block_p=0.03, cost=0.01, error_p=0.01):
            if row.decision_id:
                store.write_decisions([{"decision_id": row.decision_id, "timestamp": NOW - 60, "tool": "lookup",
                                        "verdict": row.verdict, "policy_revision": "rev-a", "context": {}}])  # fmt: skip
        by_revision = gate(store, baseline="rev-a", candidate="rev-b", by="policy_revision", **window)
        assert (by_revision.runs_baseline, by_revision.runs_candidate) == (60, 60)
        assert by_revision.exit_code == 1 and any(
            m.name == "block_rate" and m.worse for m in by_revision.metrics
        )


def test_gate_cli_exit_codes_and_json(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rg.db'}"
    with open_store(url) as store:
        store.write_spans(_runs("1.0", 40, seed=1, block_p=0.03, cost=0.01, error_p=0.01))
        store.write_spans(_runs("2.0", 40, seed=3, block_p=0.03, cost=0.01, error_p=0.40))
    runner = CliRunner()
    failed = runner.invoke(app, ["gate", "--baseline", "1.0", "--candidate", "2.0", "--db", url, "--json"])
    assert failed.exit_code == 1, failed.output
    (line,) = failed.stdout.strip().splitlines()
    report = json.loads(line)
    assert report["verdict"] == "fail"
    assert [m["metric"] for m in report["metrics"] if m["worse"]] == ["error_rate"]
    passed = runner.invoke(app, ["gate", "--baseline", "1.0", "--candidate", "1.0", "--db", url])
    assert passed.exit_code == 0 and "PASS" in passed.stdout
    unknown = runner.invoke(app, ["gate", "--baseline", "1.0", "--candidate", "3.0", "--db", url])
    assert unknown.exit_code == 2 and "INSUFFICIENT DATA" in unknown.stdout
    bad = runner.invoke(
        app, ["gate", "--baseline", "1.0", "--candidate", "2.0", "--by", "colour", "--db", url]
    )
    assert bad.exit_code == 2 and "agent_version, model, policy_revision" in bad.output


def test_gate_replay_runs_a_transcript_suite_through_two_policies(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text("rules: []\n")
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        "rules:\n  - rule: no-curl\n    tools: [Bash]\n    when: \"args.command.startsWith('curl')\"\n"
        "    verdict: block\n    message: no curl\n"
    )
    suite = tmp_path / "suite.jsonl"
    lines = []
    for r in range(30):
        lines.append({"run": f"r{r}", "type": "user", "content": "check the site"})
        lines.append({"run": f"r{r}", "type": "action", "id": "1", "tool": "Bash", "args": {"command": "ls"}})
        lines.append(
            {"run": f"r{r}", "type": "action", "id": "2", "tool": "Bash", "args": {"command": "curl x.io"}}
        )
    suite.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    runner = CliRunner()
    args = ["gate", "--replay", str(suite), "--json", "--baseline", str(base)]
    worse = runner.invoke(app, [*args, "--candidate", str(strict)])
    assert worse.exit_code == 1, worse.output
    report = json.loads(worse.stdout)
    assert report["changed"] == 30 and report["metrics"][0]["metric"] == "block_rate"
    assert report["metrics"][0]["baseline"] == 0 and report["metrics"][0]["candidate"] == 0.5
    same = runner.invoke(app, [*args, "--candidate", str(base)])
    assert same.exit_code == 0 and json.loads(same.stdout)["changed"] == 0
    few = runner.invoke(app, [*args, "--candidate", str(strict), "--min-runs", "31"])
    assert few.exit_code == 2


def _traced_confidence_runs(url: str, scores: dict[str, list[float]]) -> None:
    """One run per score, for each agent version, through a real traced engine into `url`: a tool call
    that records its confidence with `record_confidence`. A simulated clock steps the same amount on
    every reading, so latencies are equal on both sides and only confidence differs."""
    from railguard._scope import run
    from railguard.engine import Engine
    from railguard.model import Action
    from railguard.trace import configure_tracing, record_confidence, tool_call, trace_engine

    ticks = iter(range(10**9))
    start_ns = int((NOW - 3600) * 1e9)
    store = open_store(url)
    tracing = configure_tracing(
        store, service_name="gate-confidence", clock=lambda: start_ns + next(ticks) * 10**6
    )
    engine = Engine(
        text="rules:\n  - rule: no-rm\n    tools: [Bash]\n    when: \"args.command.contains('rm -rf')\"\n    verdict: block\n"
    )
    trace_engine(engine)
    try:
        for version, values in scores.items():
            for i, score in enumerate(values):
                with run(
                    agent="support",
                    tenant="acme",
                    session=f"{version}-{i}",
                    labels={"agent.version": version},
                ):
                    args = {"order": f"o{i}"}
                    with tool_call("lookup", f"c{i}", args) as span:
                        assert engine.check(Action("lookup", args, f"c{i}")).allowed
                        record_confidence(score)
                        span.record_result("found")
    finally:
        tracing.shutdown()
        engine.close()
        store.close()


def test_a_confidence_drop_fails_the_gate_and_equal_confidence_passes(tmp_path: Path) -> None:
    rng = random.Random(7)
    high = [round(rng.uniform(0.85, 0.95), 3) for _ in range(30)]
    url = f"sqlite:///{tmp_path / 'confidence.db'}"
    _traced_confidence_runs(
        url,
        {
            "1.0": high,
            "1.1": [round(rng.uniform(0.85, 0.95), 3) for _ in range(30)],  # the same distribution
            "1.2": list(high),  # the very same scores
            "2.0": [round(rng.uniform(0.55, 0.70), 3) for _ in range(30)],  # a planted drop
        },
    )
    window = {"since": NOW - 86400, "until": NOW + 60}
    with open_store(url) as store:
        dropped = gate(store, baseline="1.0", candidate="2.0", **window)
        confidence = next(m for m in dropped.metrics if m.name == "confidence")
        assert (confidence.n_baseline, confidence.n_candidate) == (30, 30)
        assert dropped.exit_code == 1 and [m.name for m in dropped.metrics if m.worse] == ["confidence"]
        assert confidence.candidate is not None and confidence.baseline is not None
        assert confidence.candidate < confidence.baseline
        for equal in ("1.1", "1.2"):
            same = gate(store, baseline="1.0", candidate=equal, **window)
            assert same.exit_code == 0, [m for m in same.metrics if m.worse]
            assert next(m for m in same.metrics if m.name == "confidence").n_candidate == 30
        # a rise in confidence is not a regression
        better = gate(store, baseline="2.0", candidate="1.0", **window)
        assert better.exit_code == 0
    cli = CliRunner().invoke(app, ["gate", "--baseline", "1.0", "--candidate", "2.0", "--db", url, "--json"])
    assert cli.exit_code == 1, cli.output
    assert [m["metric"] for m in json.loads(cli.stdout)["metrics"] if m["worse"]] == ["confidence"]

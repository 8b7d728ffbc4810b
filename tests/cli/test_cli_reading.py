"""The read commands as a newcomer uses them: they never create a store, every id accepts an
unambiguous prefix, `--json` is JSON Lines everywhere, `traces list` fits 80 columns and filters,
and `railguard decisions` reads the decision log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from railguard._scope import run
from railguard.cli import app
from railguard.engine import Engine
from railguard.model import Action
from railguard.state import Approvals
from railguard.store import SpanRow, open_store
from railguard.trace import configure_tracing, model_call, tool_call, trace_engine

runner = CliRunner()

READ_COMMANDS = [
    ["traces", "list"],
    ["traces", "show", "abc123"],
    ["traces", "export", "abc123"],
    ["approvals", "list"],
    ["approvals", "show", "abc123"],
    ["killswitch", "status"],
    ["decisions"],
    ["decisions", "stats"],
    ["decisions", "show", "abc123"],
]


def rg(*args: str) -> Result:
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store filled by the scripted demo: runs, decisions, an approved request."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    result = rg("demo", "--db", url)
    assert result.exit_code == 0, result.output
    return url


@pytest.fixture(scope="module")
def runs_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Three runs: a priced model call, a failing tool call, and another tenant's blocked call."""
    url = f"sqlite:///{tmp_path_factory.mktemp('runs') / 'runs.db'}"
    engine = Engine(text="rules:\n  - {rule: no-rm, tools: [rm], verdict: block}\n")
    tracing = configure_tracing(url)
    trace_engine(engine)
    with run(agent="writer", tenant="acme"), model_call("openai", "gpt-4o-mini") as call:
        call.record_usage(input_tokens=200_000, output_tokens=50_000)
    with run(agent="fixer", tenant="acme"), pytest.raises(RuntimeError), tool_call("deploy"):
        raise RuntimeError("deploy failed")
    with run(agent="cleaner", tenant="globex"), tool_call("rm"):
        engine.check(Action("rm", {"path": "/"}))
    tracing.shutdown()
    return url


def _runs(db: str, *filters: str) -> list[dict[str, object]]:
    result = rg("traces", "list", "--db", db, "--json", *filters)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_read_commands_never_create_a_store(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RAILGUARD_DB", raising=False)
    result = rg(*command)
    assert result.exit_code != 0
    text = result.output.replace("\n", " ")
    assert "no Railguard store at sqlite:///.railguard/railguard.db" in text
    assert list(tmp_path.iterdir()) == []  # not even the folder


def test_traces_list_says_which_store_it_read(runs_db: str) -> None:
    result = rg("traces", "list", "--db", runs_db)
    assert result.exit_code == 0
    assert f"3 run(s) from {runs_db}" in result.output.replace("\n", " ")


def test_traces_list_filters(runs_db: str) -> None:
    assert [r["agent"] for r in _runs(runs_db, "--status", "error")] == ["fixer"]
    assert [r["agent"] for r in _runs(runs_db, "--min-cost", "0.01")] == ["writer"]
    assert {r["agent"] for r in _runs(runs_db, "--tenant", "acme")} == {"writer", "fixer"}
    assert len(_runs(runs_db, "--since", "1h")) == 3
    assert _runs(runs_db, "--since", "2000-01-01T00:00:00", "--agent", "nobody") == []
    assert rg("traces", "list", "--db", runs_db, "--status", "broken").exit_code == 2


def test_traces_list_fits_80_columns_and_its_short_ids_work_everywhere(runs_db: str) -> None:
    env = {**os.environ, "COLUMNS": "80"}
    command = [sys.executable, "-m", "railguard.cli", "traces", "list", "--db", runs_db]
    shown = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=True).stdout
    *table, footer = shown.splitlines()  # the footer names the store's path, which is never broken
    assert max(len(line) for line in table) <= 80 and footer.startswith("3 run(s) from ")
    assert "\u2026" not in shown  # no id cut to an ellipsis
    full_ids = [str(r["trace_id"]) for r in _runs(runs_db)]
    short_ids = [
        line.split()[0]
        for line in shown.splitlines()
        if line.split() and line.split()[0] in {i[:12] for i in full_ids}
    ]
    assert len(short_ids) == 3
    for short in short_ids:
        result = rg("traces", "show", short, "--db", runs_db)
        assert result.exit_code == 0, result.output
        assert "trace " + next(i for i in full_ids if i.startswith(short)) in result.output
    wide = rg("traces", "list", "--db", runs_db, "--wide")
    assert wide.exit_code == 0 and "tenant" in wide.output


def test_costs_are_dashes_when_unknown(runs_db: str) -> None:
    table = rg("traces", "list", "--db", runs_db).output
    rows = {line.split()[3]: line for line in table.splitlines() if len(line.split()) > 4}
    assert rows["writer"].rstrip()[-6:].replace(".", "").isdigit()  # priced
    assert rows["fixer"].rstrip().endswith("\u2013") and rows["cleaner"].rstrip().endswith("\u2013")


def test_traces_show_accepts_a_run_id_and_rejects_an_ambiguous_prefix(demo_db: str) -> None:
    (trace,) = _runs(demo_db)
    with open_store(demo_db) as store:
        (record,) = store.list_decisions(tenant=None, limit=1)
    run_id = record["context"]["run"]
    by_run = rg("traces", "show", run_id, "--db", demo_db)
    assert by_run.exit_code == 0 and f"trace {trace['trace_id']}" in by_run.output
    assert rg("traces", "export", str(trace["trace_id"])[:6], "--db", demo_db).exit_code == 0
    missing = rg("traces", "show", "ffffffffffff", "--db", demo_db)
    assert missing.exit_code == 1 and "no trace: nothing matches" in missing.output.replace("\n", " ")


def test_ambiguous_prefixes_are_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'two.db'}"
    with open_store(db) as store:
        store.write_spans(
            [SpanRow(trace_id=f"abcd{n}" + "0" * 27, span_id=f"{n}" * 16, parent_span_id=None, name="invoke_agent",
                     kind="internal", start_ns=n, end_ns=n + 1) for n in (1, 2)]
        )  # fmt: skip
    result = rg("traces", "show", "abcd", "--db", db)
    assert result.exit_code == 1 and "ambiguous trace id" in result.output
    assert rg("traces", "show", "abcd2", "--db", db).exit_code == 0


def test_json_is_json_lines_everywhere(demo_db: str) -> None:
    with open_store(demo_db) as store:
        (approved,) = Approvals(store).list_requests(tenant=None)
    commands = [
        ["approvals", "list"],
        ["approvals", "show", approved.id[:8]],
        ["killswitch", "status"],
        ["traces", "list"],
        ["decisions"],
        ["decisions", "stats"],
    ]
    rg("killswitch", "on", "--agent", "x", "--db", demo_db)
    for command in commands:
        result = rg(*command, "--json", "--db", demo_db)
        assert result.exit_code == 0, (command, result.output)
        lines = result.output.splitlines()
        assert lines, command
        assert all(isinstance(json.loads(line), dict) for line in lines), command


def test_decisions_list_filters_and_show_by_prefix(demo_db: str) -> None:
    def listed(*filters: str) -> list[dict[str, object]]:
        result = rg("decisions", "--json", "--db", demo_db, *filters)
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.output.splitlines()]

    everything = listed("--limit", "200")
    blocks = listed("--verdict", "block", "--limit", "200")
    assert blocks and all(d["verdict"] == "block" for d in blocks)
    assert len(blocks) == sum(d["verdict"] == "block" for d in everything)
    refunds = listed("--tool", "refund")
    assert refunds and {d["tool"] for d in refunds} == {"refund"}
    shell = listed("--rule", "coding/shell-dangerous")
    assert len(shell) == 2 and all("coding/shell-dangerous" in d["rules"] for d in shell)  # type: ignore[operator]
    assert listed("--rule", "coding/shell") == []  # a whole rule id, not a substring
    assert listed("--since", "24h", "--limit", "200") == everything
    one = str(blocks[0]["decision_id"])
    shown = rg("decisions", "show", one[:10], "--db", demo_db, "--json")
    assert shown.exit_code == 0 and json.loads(shown.output)["decision_id"] == one
    table = rg("decisions", "--db", demo_db, "--verdict", "block")
    assert table.exit_code == 0 and "Bash" in table.output and "block" in table.output
    assert rg("decisions", "--db", demo_db, "--verdict", "nope").exit_code == 2


def test_decisions_stats(demo_db: str) -> None:
    result = rg("decisions", "stats", "--json", "--db", demo_db, "--since", "24h")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    verdicts = stats["verdicts"]
    assert stats["total"] == sum(verdicts.values()) and verdicts["block"] >= 5
    assert stats["block_rate"] == pytest.approx(verdicts["block"] / stats["total"])
    assert stats["ask_rate"] == pytest.approx(verdicts.get("ask", 0) / stats["total"])
    top_rules = dict(stats["top_rules"])
    assert top_rules["coding/shell-dangerous"] == 2 and top_rules["contract/args"] == 1
    assert dict(stats["top_tools"])["Bash"] == 2
    ((_day, per_day),) = stats["per_day"]
    assert per_day == verdicts
    table = rg("decisions", "stats", "--db", demo_db)
    assert table.exit_code == 0
    assert "block rate" in table.output and "coding/shell-dangerous" in table.output

"""`railguard check / explain / test / policy validate` in process, and once through the real console script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import rg, rg_process

POLICY = """
name: cli-test
rules:
  - {rule: block-rm, tools: [delete_file], verdict: block, message: no deletes}
  - {rule: ask-pay, tools: [pay], when: args.amount > 10, verdict: ask}
"""


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def test_check_jsonl_stream(policy: Path) -> None:
    stdin = (
        '{"tool": "delete_file", "args": {"path": "a"}}\n'
        '{"tool": "pay", "args": {"amount": 50}, "context": {"tenant": "acme", "run": "r1"}, "id": "c1"}\n'
        '{"tool": "pay", "args": {"amount": 5}}\n'
    )
    result = rg_process("check", "--policy", str(policy), "--json", stdin=stdin)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [x["verdict"] for x in lines] == ["block", "ask", "allow"]
    assert lines[0]["rules"] == ["block-rm"] and lines[0]["reason"] == "no deletes"
    for line in lines:
        assert {"verdict", "rules", "reason", "decision_id", "latency_us"} <= set(line)


def test_check_single_pretty_printed_action_from_file(policy: Path, tmp_path: Path) -> None:
    action = tmp_path / "action.json"
    action.write_text('{\n  "tool": "pay",\n  "args": {"amount": 99}\n}\n')
    result = rg("check", "-p", str(policy), "--input", str(action), "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["verdict"] == "ask"


def test_check_reports_bad_lines_and_keeps_going(policy: Path) -> None:
    stdin = 'not json\n{"tool": "pay", "args": {"amount": 1}}\n{"tool": 3}\n{"tool": "x", "args": {}, "bogus": 1}\n'
    result = rg("check", "-p", str(policy), "--json", stdin=stdin)
    assert result.returncode == 2
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["line"] == 1 and "invalid JSON" in lines[0]["error"]
    assert lines[1]["verdict"] == "allow"
    assert "non-empty string" in lines[2]["error"]
    assert "unknown action key" in lines[3]["error"] and "bogus" in lines[3]["error"]


def test_check_human_output(policy: Path) -> None:
    result = rg("check", "-p", str(policy), stdin='{"tool": "delete_file", "args": {}}')
    assert "BLOCK" in result.stdout and "no deletes" in result.stdout and "[block-rm]" not in result.stdout


def test_check_without_policy_uses_the_default_pack() -> None:
    result = rg("check", "--json", stdin='{"tool": "read_ticket", "args": {"id": 1}}')
    assert result.returncode == 0
    assert json.loads(result.stdout)["policy_revision"].startswith("default@")


def test_check_with_a_broken_policy_exits_2_with_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {rule: r, verdict: alow}\n")
    result = rg("check", "-p", str(bad), stdin="{}")
    assert result.returncode == 2
    assert "bad.yaml:2" in result.stderr and "allow" in result.stderr


def test_explain_json(policy: Path) -> None:
    result = rg("explain", "-p", str(policy), "--json", stdin='{"tool": "pay", "args": {"amount": 50}}')
    payload = json.loads(result.stdout)
    assert payload["decision"]["verdict"] == "ask"
    assert payload["rules"] == [
        {"rule": "ask-pay", "verdict": "ask", "when": "args.amount > 10", "matched": True, "exception": None,
         "error": None}
    ]  # fmt: skip
    assert payload["candidate_rules"] == 1 and payload["total_rules"] == 2


def test_explain_human(policy: Path) -> None:
    result = rg("explain", "-p", str(policy), stdin='{"tool": "pay", "args": {"amount": 1}}')
    assert "ask-pay" in result.stdout and "no match" in result.stdout


def test_policy_validate(policy: Path, tmp_path: Path) -> None:
    ok = rg("policy", "validate", str(policy))
    assert ok.returncode == 0 and "2 rules" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - rule: r\n    verdict: block\n    when: argz.x\n")
    result = rg("policy", "validate", str(bad))
    assert result.returncode == 1
    assert "bad.yaml:4" in result.stderr and "did you mean 'args'" in result.stderr


def test_policy_unit_tests_pass_fail_error(policy: Path, tmp_path: Path) -> None:
    (tmp_path / "policy_test.yaml").write_text(
        """
cases:
  - name: deletes are blocked
    action: {tool: delete_file, args: {path: x}}
    expect: block
    rule: block-rm
  - name: small payments pass
    action: {tool: pay, args: {amount: 1}}
    expect: allow
  - name: wrong expectation
    action: {tool: pay, args: {amount: 100}}
    expect: allow
  - name: broken case
    action: {tool: pay, args: {amount: 1}}
    expect: maybe
"""
    )
    result = rg("test", str(tmp_path))
    assert result.returncode == 1
    out = result.stdout
    assert out.count("PASS") == 2 and out.count("FAIL") == 1 and out.count("ERROR") == 1
    assert "expected allow, got ask" in out
    assert "2 passed, 1 failed, 1 errors" in out
    as_json = [json.loads(x) for x in rg("test", str(tmp_path), "--json").stdout.splitlines()]
    assert [x["status"] for x in as_json] == ["PASS", "PASS", "FAIL", "ERROR"]
    assert as_json[2]["line"] is not None


def test_policy_unit_tests_all_pass_exit_0(policy: Path, tmp_path: Path) -> None:
    (tmp_path / "policy_test.yaml").write_text(
        "cases:\n  - {action: {tool: pay, args: {amount: 11}}, expect: ask, rule: ask-pay}\n"
    )
    result = rg("test", str(tmp_path / "policy_test.yaml"))
    assert result.returncode == 0 and "1 passed, 0 failed, 0 errors" in result.stdout


def test_policy_unit_test_with_a_broken_policy_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("rules: [{rule: r}]\n")
    (tmp_path / "p_test.yaml").write_text("cases:\n  - {action: {tool: t}, expect: allow}\n")
    result = rg("test", str(tmp_path))
    assert result.returncode == 1 and "ERROR" in result.stdout and "no 'verdict'" in result.stdout


def test_demo_shows_every_verdict_and_the_cushions(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    result = rg("demo", "--json", "--db", db)
    assert result.returncode == 0, result.stderr
    decisions = [json.loads(line) for line in result.stdout.splitlines()]
    by_tool = [(d["tool"], d["verdict"]) for d in decisions]
    assert ("Bash", "allow") in by_tool and ("Bash", "block") in by_tool
    assert ("refund", "ask") in by_tool and ("send_email", "modify") in by_tool
    modified = next(d for d in decisions if d["verdict"] == "modify")
    assert "[redacted:aws_access_key]" in modified["args"]["body"]
    assert modified["args"]["to"] == "ops@acme.example"
    # a human approves the large refund; the identical retry then runs
    approved = next(d for d in decisions if d.get("note"))
    assert approved["tool"] == "refund" and approved["verdict"] == "allow" and approved["approval_id"]
    # the polling loop is stopped, then the step budget stops the run
    assert any(d["rules"] == ["loop/repeat"] and d["verdict"] == "block" for d in decisions)
    assert decisions[-1]["verdict"] == "block" and decisions[-1]["rules"] == ["budget/run/steps"]
    # everything was recorded in the store
    listed = rg("traces", "list", "--db", db, "--json")
    assert listed.returncode == 0 and "support-bot" in listed.stdout
    approvals = rg("approvals", "list", "--db", db, "--status", "approved")
    assert approvals.returncode == 0 and "refund" in approvals.stdout

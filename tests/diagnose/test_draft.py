"""`railguard rules draft`: the REAL `anthropic` and `openai` clients talk to a local fake model server
(the wire formats of tests/integrations/fake_providers.py); the drafts go through the real compiler,
the real policy test runner and the real backtest over a SQLite store seeded by running decisions
through a traced engine. A draft is never activated."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from integrations.fake_providers import anthropic_message, chat_completion, serving, text_block
from railguard._scope import run
from railguard.cli import app
from railguard.diagnose.draft import CurrentPolicy, draft_rule
from railguard.engine import Engine
from railguard.errors import DraftError
from railguard.model import Action, Context, Verdict
from railguard.state import install_cushions
from railguard.store import open_store
from railguard.trace import configure_tracing, tool_call, trace_engine

CURRENT = """
name: current
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

PROD_APPLY = "terraform workspace select prod && terraform apply -auto-approve"
DEPLOY_SCRIPT = [
    ("Bash", {"command": PROD_APPLY}),
    ("Bash", {"command": "terraform apply -auto-approve -var env=staging"}),
    ("Bash", {"command": "terraform plan -var env=prod"}),
    ("Bash", {"command": "ls -la"}),
    ("Bash", {"command": "git status"}),
]
SUPPORT_SCRIPT = [
    ("lookup", {"order": "o1"}),
    ("lookup", {"order": "o2"}),
    ("lookup", {"order": "o3"}),
    ("Bash", {"command": PROD_APPLY}),  # the support agent's apply: not the deploy agent's
]
DEPLOY_RUNS = 3
# 3 deploy runs x 5 + 3 support runs x 4 + 1 refund run (2 lookups + a large refund a person approved)
TOTAL = DEPLOY_RUNS * 5 + 3 * 4 + 3

RULE = """rules:
  - rule: deploy/no-terraform-apply-prod
    desc: The deploy agent never applies terraform to a prod workspace.
    tools: [Bash]
    when: ctx.agent == "deploy" && "terraform" in shell.names && args.command.contains("apply") && args.command.contains("prod")
    verdict: block
    severity: critical
    message: "terraform apply against prod by the deploy agent"
    tags: [incubating, deploy]
"""
CASES = """cases:
  - name: deploy applies to prod
    action: {tool: Bash, args: {command: "terraform workspace select prod && terraform apply -auto-approve"}, context: {agent: deploy}}
    expect: block
    rule: deploy/no-terraform-apply-prod
  - name: deploy applies to staging
    action: {tool: Bash, args: {command: "terraform apply -auto-approve -var env=staging"}, context: {agent: deploy}}
    expect: allow
  - name: deploy plans prod
    action: {tool: Bash, args: {command: "terraform plan -var env=prod"}, context: {agent: deploy}}
    expect: allow
"""
REQUEST = "never let the deploy agent run terraform apply against a prod workspace"


@pytest.fixture(scope="module")
def history_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Real decisions through a traced engine with the current policy into a SQLite file."""
    folder = tmp_path_factory.mktemp("draft")
    policy = folder / "current.yaml"
    policy.write_text(CURRENT)
    url = f"sqlite:///{folder / 'history.db'}"
    store = open_store(url)
    tracing = configure_tracing(store, service_name="draft-test")
    engine = Engine([str(policy)])
    trace_engine(engine)
    cushions = install_cushions(engine, store)

    def act(i: int, tool: str, args: dict[str, Any]) -> None:
        with tool_call(tool, f"c{i}", args) as span:
            if engine.check(Action(tool, args, f"c{i}")).allowed:
                span.record_result("ok")

    try:
        for r in range(DEPLOY_RUNS):
            with run(agent="deploy", tenant="acme", user="ana", session=f"d{r}"):
                for i, (tool, args) in enumerate(DEPLOY_SCRIPT):
                    act(i, tool, args)
        for r in range(3):
            with run(agent="support", tenant="acme", user="bo", session=f"s{r}"):
                for i, (tool, args) in enumerate(SUPPORT_SCRIPT):
                    act(i, tool, args)
        with run(agent="support", tenant="acme", user="bo", session="refund"):
            act(0, "lookup", {"order": "o9"})
            act(1, "lookup", {"order": "o10"})
            refund = Action("refund", {"order": "o9", "amount": 500}, "big")
            with tool_call("refund", "big", refund.args):
                asked = engine.admit(refund)
            assert asked.verdict is Verdict.ASK and asked.approval_id
            cushions.approvals.approve(asked.approval_id, by="lead")
            with tool_call("refund", "big", refund.args) as span:
                assert engine.admit(refund).allowed
                span.record_result("refunded")
    finally:
        tracing.shutdown()
        engine.close()
        store.close()
    return url


@pytest.fixture
def current(tmp_path: Path) -> Path:
    path = tmp_path / "current.yaml"
    path.write_text(CURRENT)
    return path


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAILGUARD_LLM", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def _draft(policy: str, tests: str, summary: str = "blocks it") -> str:
    return json.dumps({"policy": policy, "tests": tests, "summary": summary})


def anthropic_says(text: str, check: Callable[[dict[str, Any]], None] | None = None) -> Any:
    def turn(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if check is not None:
            check(body)
        return 200, anthropic_message([text_block(text)], stop_reason="end_turn")

    return turn


def openai_says(text: str, check: Callable[[dict[str, Any]], None] | None = None) -> Any:
    def turn(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if check is not None:
            check(body)
        return 200, chat_completion({"content": text}, finish_reason="stop")

    return turn


def _window() -> dict[str, float]:
    now = time.time()
    return {"since": now - 7 * 86400, "until": now + 60}


def _draft_with(url: str, current: Path, **kw: Any) -> Any:
    with open_store(url) as store:
        return draft_rule(
            REQUEST, current=CurrentPolicy(paths=(str(current),)), store=store, **_window(), **kw
        )


def test_a_valid_draft_is_checked_backtested_and_written_never_activated(
    history_db: str, current: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def check(body: dict[str, Any]) -> None:
        prompt = body["messages"][0]["content"]
        assert body["model"] == "claude-test"
        assert REQUEST in prompt
        # the model is told the tools seen, their argument keys, agents and (redacted) examples,
        # the format and the names it must not reuse
        assert (
            f"Bash: {DEPLOY_RUNS * 5 + 3} calls" in prompt and "['command']" in prompt and "deploy" in prompt
        )
        assert "terraform workspace select prod" in prompt and "lookup" in prompt
        assert "shell/rm-root" in prompt and "refund/large" in prompt
        assert "ctx.agent" in body["system"] and "cases:" in body["system"]

    with serving() as fake:
        fake.script(anthropic_says(_draft(RULE, CASES), check))
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        monkeypatch.setenv("RAILGUARD_LLM", "anthropic:claude-test")
        out = tmp_path / "no-prod-apply.yaml"
        before = current.read_text()
        result = CliRunner().invoke(
            app,
            ["rules", "draft", REQUEST, "-p", str(current), "--db", history_db, "--out", str(out), "--json"],
        )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["valid"] and report["attempts"] == 1 and report["active"] is False
    assert report["rules"] == ["deploy/no-terraform-apply-prod"]
    assert [c["status"] for c in report["cases"]] == ["PASS", "PASS", "PASS"]
    backtest = report["backtest"]
    # exactly the deploy agent's prod applies: one per deploy run, not the support agent's
    assert backtest["actions"] == TOTAL
    assert (backtest["newly_blocked"], backtest["changed"], backtest["runs_affected"]) == (DEPLOY_RUNS,) * 3
    assert backtest["by_rule"] == {"deploy/no-terraform-apply-prod": DEPLOY_RUNS}
    assert backtest["approved_now_blocked"] == 0 and report["flags"] == []
    # written for review with its tests, which `railguard test` runs green; the current policy is untouched
    assert out.read_text() == RULE
    tests = out.with_name("no-prod-apply_test.yaml")
    assert tests.read_text().startswith("policy: no-prod-apply.yaml\n")
    ran = CliRunner().invoke(app, ["test", str(tests)])
    assert ran.exit_code == 0, ran.output
    assert current.read_text() == before
    live = Engine([str(current)])
    try:
        prod = Action("Bash", {"command": PROD_APPLY}, context=Context(agent="deploy"))
        assert live.check(prod).allowed  # not active until a person accepts it
    finally:
        live.close()


def test_human_review_output_says_how_to_accept(
    history_db: str, current: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving() as fake:
        wrapped = f"Here is the draft:\n```json\n{_draft(RULE, CASES)}\n```\nIt blocks prod applies."
        fake.script(anthropic_says(_draft(RULE, CASES)), anthropic_says(wrapped))
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        monkeypatch.setenv("RAILGUARD_LLM", "anthropic:claude-test")
        result = CliRunner().invoke(app, ["rules", "draft", REQUEST, "-p", str(current), "--db", history_db])
        out = tmp_path / "rule.yaml"
        saved = CliRunner().invoke(
            app, ["rules", "draft", REQUEST, "-p", str(current), "--db", history_db, "--out", str(out)]
        )
    assert saved.exit_code == 0, saved.output
    said = " ".join(saved.stdout.split())  # with --out the review is the output
    assert f"wrote {out}" in said and "add 'include: [rule.yaml]' to your policy file" in said
    assert result.exit_code == 0, result.output
    # stdout is a policy file (the tests as comments); the review is on stderr
    assert result.stdout.startswith(RULE)
    assert "#   - name: deploy applies to prod" in result.stdout
    review = " ".join(result.stderr.split())  # Rich wraps lines at the terminal width
    assert f"newly blocked {DEPLOY_RUNS}," in review
    assert "not active. To accept:" in review and "railguard policy push" in review


def test_invalid_yaml_goes_back_to_the_model_then_the_fix_is_accepted(
    history_db: str, current: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = RULE.replace("    verdict: block\n", "    verdict: [block\n")

    def sees_the_error(body: dict[str, Any]) -> None:
        messages = body["messages"]
        assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
        assert "verdict: [block" in messages[2]["content"]
        assert "draft.yaml:" in messages[3]["content"] and "railguard-draft-" not in messages[3]["content"]

    with serving() as fake:
        fake.script(openai_says(_draft(broken, CASES)), openai_says(_draft(RULE, CASES), sees_the_error))
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url + "/v1")
        result = _draft_with(history_db, current, setting="openai:gpt-test")
    assert result.valid and result.attempts == 2 and result.errors == []
    assert result.backtest.newly_blocked == DEPLOY_RUNS


def test_an_invalid_cel_condition_comes_back_with_its_line_and_is_fixed(
    history_db: str, current: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    typo = RULE.replace('ctx.agent == "deploy"', 'agent == "deploy"')
    line = next(i for i, text in enumerate(typo.splitlines(), 1) if "when:" in text)
    feedback: list[str] = []

    def record(body: dict[str, Any]) -> None:
        feedback.append(body["messages"][-1]["content"])

    with serving() as fake:
        fake.script(anthropic_says(_draft(typo, CASES)), anthropic_says(_draft(RULE, CASES), record))
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        result = _draft_with(history_db, current, setting="anthropic:claude-test")
    assert result.valid and result.attempts == 2
    assert f"draft.yaml:{line}: unknown variable 'agent'" in feedback[0]
    assert "fix:" in feedback[0]  # the compiler's hint goes along


def test_a_failing_case_goes_back_to_the_model(
    history_db: str, current: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = CASES.replace(
        'args: {command: "terraform plan -var env=prod"}, context: {agent: deploy}}\n    expect: allow',
        'args: {command: "terraform plan -var env=prod"}, context: {agent: deploy}}\n    expect: block',
    )
    assert wrong != CASES
    feedback: list[str] = []
    with serving() as fake:
        fake.script(
            anthropic_says(_draft(RULE, wrong)),
            anthropic_says(
                _draft(RULE, CASES), lambda body: feedback.append(body["messages"][-1]["content"])
            ),
        )
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        result = _draft_with(history_db, current, setting="anthropic:claude-test")
    assert result.valid and result.attempts == 2
    assert "case 'deploy plans prod': FAIL: expected block, got allow" in feedback[0]


def test_a_model_that_keeps_failing_stops_after_the_retries_and_nothing_is_written(
    history_db: str, current: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reuses = RULE.replace("deploy/no-terraform-apply-prod", "shell/rm-root")  # would replace a live rule
    out = tmp_path / "draft.yaml"
    with serving() as fake:
        fake.script(
            openai_says("I think you should block terraform."),
            openai_says(_draft(reuses, CASES)),
            openai_says(_draft(RULE, "cases: []")),
        )
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url + "/v1")
        monkeypatch.setenv("RAILGUARD_LLM", "openai:gpt-test")
        result = CliRunner().invoke(
            app,
            ["rules", "draft", REQUEST, "-p", str(current), "--db", history_db, "--retries", "2",
             "--out", str(out)],
        )  # fmt: skip
        assert len(fake.requests) == 3  # 1 try + 2 retries, then it stops
        second = fake.requests[2][1]["messages"][-1]["content"]
    assert result.exit_code == 1
    said = " ".join(result.stderr.split())  # Rich wraps lines at the terminal width
    assert "no valid draft: after 3 attempt(s)" in said and "nothing written, nothing activated" in said
    assert "non-empty 'cases:' list" in said
    assert "shell/rm-root already exist" in second
    assert not out.exists() and not out.with_name("draft_test.yaml").exists()


def test_a_rule_that_would_block_half_of_last_week_is_flagged(
    history_db: str, current: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broad = """rules:
  - rule: deploy/freeze
    tools: ["*"]
    when: ctx.agent == "deploy"
    verdict: block
    message: "the deploy agent is frozen"
"""
    cases = """cases:
  - name: deploy is frozen
    action: {tool: Bash, args: {command: ls}, context: {agent: deploy}}
    expect: block
    rule: deploy/freeze
  - name: support still works
    action: {tool: lookup, args: {order: o1}, context: {agent: support}}
    expect: allow
"""
    with serving() as fake:
        fake.script(anthropic_says(_draft(broad, cases)))
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        refreshers = sum(t.name == "railguard-killswitch" for t in threading.enumerate())
        result = _draft_with(history_db, current, setting="anthropic:claude-test")
    # the replay engines' kill-switch refreshers stop with them (a server drafts many times)
    assert sum(t.name == "railguard-killswitch" for t in threading.enumerate()) == refreshers
    assert result.valid
    report = result.backtest
    assert report.newly_blocked == DEPLOY_RUNS * len(DEPLOY_SCRIPT) == TOTAL // 2
    assert result.share_stopped == 0.5
    assert result.flags == [
        f"would stop {TOTAL // 2} of the window's {TOTAL} calls (50%, over 20%): check the condition is not too broad"
    ]
    assert result.to_json()["backtest"]["share_stopped"] == 0.5


def test_blocking_what_a_person_approved_is_flagged(
    history_db: str, current: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refunds = """rules:
  - rule: refund/no-large
    tools: [refund]
    when: args.amount > 100
    verdict: block
    message: "no large refunds"
"""
    cases = """cases:
  - name: large refund
    action: {tool: refund, args: {order: o1, amount: 500}}
    expect: block
    rule: refund/no-large
  - name: small refund
    action: {tool: refund, args: {order: o1, amount: 20}}
    expect: allow
"""
    with serving() as fake:
        fake.script(anthropic_says(_draft(refunds, cases)))
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        result = _draft_with(history_db, current, setting="anthropic:claude-test")
    assert result.valid and result.backtest.approved_now_blocked == 1
    assert "would block 1 call(s) a person approved (over-blocking)" in result.flags


def test_without_an_llm_the_message_says_how_to_configure_one(current: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["rules", "draft", REQUEST, "-p", str(current), "--out", str(tmp_path / "x.yaml")]
    )
    assert result.exit_code == 2
    said = " ".join(result.stderr.split())
    assert (
        "cannot draft: no LLM configured: set RAILGUARD_LLM=anthropic:MODEL" in said
        and "OPENAI_API_KEY" in said
    )
    assert not (tmp_path / "x.yaml").exists()
    with pytest.raises(DraftError, match="no LLM configured") as caught:
        draft_rule(REQUEST, setting=None, current=CurrentPolicy(), store=None, **_window())
    assert caught.value.usage
    many = CliRunner().invoke(
        app, ["rules", "draft", REQUEST, "--retries", "11"], env={"RAILGUARD_LLM": "anthropic:claude-test"}
    )
    assert many.exit_code == 2 and "use 0 to 10" in many.stderr  # refused before any model call
    bad = CliRunner().invoke(app, ["rules", "draft", REQUEST], env={"RAILGUARD_LLM": "gemini:pro"})
    assert bad.exit_code == 2 and "anthropic:MODEL or openai:MODEL" in " ".join(bad.stderr.split())


def test_an_unreachable_provider_is_a_clear_error_without_the_key(
    current: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no store here: drafted without a backtest
    monkeypatch.delenv("RAILGUARD_DB", raising=False)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value")
    monkeypatch.setenv("RAILGUARD_LLM", "anthropic:claude-test")
    result = CliRunner().invoke(
        app, ["rules", "draft", REQUEST, "-p", str(current), "--db", "sqlite:///nowhere.db"]
    )
    assert result.exit_code == 2 and "store error" in result.stderr  # --db given: it must exist
    result = CliRunner().invoke(app, ["rules", "draft", REQUEST, "-p", str(current)])
    assert result.exit_code == 1
    said = " ".join(result.stderr.split())
    assert "the anthropic call failed (APIConnectionError)" in said and "sk-ant" not in result.output


def test_a_draft_may_not_include_files_or_declare_tools(
    current: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "local.yaml"
    secret.write_text("rules:\n  - rule: local/SENTINEL-7731\n    verdict: block\n")
    including = f"include: [{secret}]\n{RULE}"
    with serving() as fake:
        fake.script(anthropic_says(_draft(including, CASES)))
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        result = draft_rule(
            REQUEST, setting="anthropic:claude-test", current=CurrentPolicy(paths=(str(current),)),
            store=None, retries=0, **_window(),
        )  # fmt: skip
    assert not result.valid and result.attempts == 1 and result.backtest is None
    assert result.errors == [
        "draft.yaml: the draft may only hold name, description, rules; remove include "
        "(tools, limits and includes belong to the policy it is added to)"
    ]
    assert "SENTINEL" not in json.dumps(result.to_json())


def test_without_a_current_policy_the_draft_is_compared_with_no_policy(
    history_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_names(body: dict[str, Any]) -> None:
        assert "already uses" not in body["messages"][0]["content"]

    with serving() as fake:
        fake.script(anthropic_says(_draft(RULE, CASES), no_names))
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        with open_store(history_db) as store:
            result = draft_rule(
                REQUEST, setting="anthropic:claude-test", current=CurrentPolicy(), store=store, **_window()
            )
    assert result.valid and result.to_json()["backtest"]["compared_with"] == "no policy"
    # the recorded ask on the large refund is not the draft's doing: only the prod applies change
    assert (result.backtest.actions, result.backtest.changed, result.backtest.newly_blocked) == (
        TOTAL,
        DEPLOY_RUNS,
        DEPLOY_RUNS,
    )

"""`why`: the deterministic root cause of runs with planted failures, and the LLM escalation against
local fake Anthropic / OpenAI servers driven by the real SDK clients."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from integrations.fake_providers import anthropic_message, chat_completion, serving, text_block
from railguard._demo_week import WeekResult
from railguard.cli import app
from railguard.diagnose.why import stored_why, why
from railguard.store import SpanRow, Store, open_store
from railguard.store._schema import spans


@pytest.fixture
def store(week_db: tuple[str, WeekResult], tmp_path: Path) -> Store:
    target = tmp_path / "week.db"
    shutil.copy(Path(week_db[0].removeprefix("sqlite:///")), target)
    return open_store(f"sqlite:///{target}")


def _trace_where(store: Store, *conditions) -> str:  # type: ignore[no-untyped-def]
    with store.read_connection() as conn:
        row = conn.execute(
            select(spans.c.trace_id).where(*conditions).order_by(spans.c.start_ns).limit(1)
        ).first()
    assert row is not None
    return str(row[0])


@pytest.fixture(autouse=True)
def no_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAILGUARD_LLM", raising=False)


def test_a_loop_is_traced_to_its_first_repeated_call(store: Store) -> None:
    trace_id = _trace_where(store, spans.c.rules.like("%loop/repeat%"))
    answer = why(store, trace_id)
    assert answer.cause == "loop" and answer.confidence >= 0.85
    run = store.get_trace(trace_id, tenant=None)
    polls = [
        s
        for s in run
        if s.tool_name == "Bash" and "gh run view" in str(s.attributes.get("gen_ai.tool.call.arguments"))
    ]
    assert answer.step is not None and answer.step["span_id"] == polls[0].span_id
    assert "not needed" in answer.llm
    assert stored_why(store, trace_id)["cause"] == "loop"  # type: ignore[index]


@pytest.mark.parametrize(
    ("rule", "words"),
    [("deploy/terraform-apply-prod", "terraform-apply-prod"), ("provenance/injected-value", "untrusted")],
)
def test_a_block_is_the_root_cause(store: Store, rule: str, words: str) -> None:
    trace_id = _trace_where(store, spans.c.rules.like(f"%{rule}%"))
    answer = why(store, trace_id)
    assert answer.cause == "blocked" and rule in answer.tags
    assert words in answer.suggestion + answer.explanation
    assert answer.evidence[0]["span_id"] == answer.step["span_id"]  # type: ignore[index]


def test_an_error_is_the_root_cause(store: Store) -> None:
    trace_id = _trace_where(store, spans.c.status == "error", spans.c.tool_name == "run_tests")
    answer = why(store, trace_id)
    assert answer.cause == "error" and "run_tests" in answer.explanation


def test_slow_step_without_llm_says_so_and_keeps_the_answer(
    store: Store, week_db: tuple[str, WeekResult]
) -> None:
    _, week = week_db
    late = int((week.start_ts + 5 * 86_400) * 1e9)
    with store.read_connection() as conn:
        rows = conn.execute(
            select(spans.c.trace_id, spans.c.end_ns - spans.c.start_ns)
            .where(spans.c.tool_name == "search_kb", spans.c.start_ns >= late)
            .order_by((spans.c.end_ns - spans.c.start_ns).desc())
        ).all()
    clean = next(
        t
        for t, _ in rows
        if all(
            s.status != "error" and s.verdict not in ("block", "ask") for s in store.get_trace(t, tenant=None)
        )
    )
    answer = why(store, clean)
    assert answer.cause == "slow_step" and answer.confidence < 0.85
    assert answer.source == "deterministic" and "no LLM configured" in answer.llm


def _plant_secret_run(store: Store) -> str:
    """A run stored without redaction (as a foreign OTLP exporter might send it): a slow step with a key in
    its arguments and nothing else wrong, so the deterministic answer is unsure."""
    base = 1_700_000_000 * 10**9
    key = "AKIAZ3MHK2LQ7NPXV4TD"
    rows = [
        SpanRow(
            "ab" * 16,
            "00000000000000a1",
            None,
            "invoke_agent x",
            "internal",
            base,
            base + 10**9,
            tenant="acme",
            agent="x",
            operation="invoke_agent",
        ),
        SpanRow(
            "ab" * 16,
            "00000000000000a2",
            "00000000000000a1",
            "execute_tool deploy",
            "internal",
            base,
            base + 9 * 10**8,
            tenant="acme",
            agent="x",
            operation="execute_tool",
            tool_name="deploy",
            attributes={"gen_ai.tool.call.arguments": json.dumps({"key": key, "target": "prod"})},
        ),
    ]
    store.write_spans(rows)
    return "ab" * 16


def test_escalation_to_anthropic_sends_only_redacted_content_and_validates(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace_id = _plant_secret_run(store)
    answer = {
        "step_span_id": "00000000000000a2",
        "cause": "unsafe_deploy",
        "explanation": "deployed to prod with a raw key",
        "suggestion": "block deploys that carry credentials",
        "tags": ["deploy", "secret"],
        "confidence": 0.8,
    }

    def turn(body):  # type: ignore[no-untyped-def]
        sent = json.dumps(body)
        assert "AKIAZ3MHK2LQ7NPXV4TD" not in sent
        assert "00000000000000a2" in sent and body["model"] == "claude-test"
        return 200, anthropic_message([text_block(json.dumps(answer))], stop_reason="end_turn")

    with serving() as fake:
        fake.script(turn)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        result = why(store, trace_id, llm="anthropic:claude-test")
    assert result.source == "llm:anthropic:claude-test" and result.cause == "unsafe_deploy"
    assert result.step == {"span_id": "00000000000000a2", "name": "execute_tool deploy", "tool": "deploy"}
    assert stored_why(store, trace_id)["source"] == "llm:anthropic:claude-test"  # type: ignore[index]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (
            {
                "step_span_id": "ffffffffffffffff",
                "cause": "x",
                "explanation": "x",
                "suggestion": "x",
                "tags": [],
                "confidence": 0.5,
            },
            "not a step",
        ),
        (
            {
                "step_span_id": None,
                "cause": "x",
                "explanation": "x",
                "suggestion": "x",
                "tags": [],
                "confidence": 7,
            },
            "confidence",
        ),
        ("the deploy step, probably", "not a JSON object"),
    ],
)
def test_escalation_to_openai_rejects_invalid_answers(
    store: Store, monkeypatch: pytest.MonkeyPatch, reply: object, reason: str
) -> None:
    trace_id = _plant_secret_run(store)
    content = reply if isinstance(reply, str) else json.dumps(reply)
    with serving() as fake:
        fake.script(lambda body: (200, chat_completion({"content": content}, finish_reason="stop")))
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("RAILGUARD_LLM", "openai:gpt-test")
        result = why(store, trace_id)
    assert result.source == "deterministic" and reason in result.llm and "rejected" in result.llm
    assert fake.requests[0][1]["model"] == "gpt-test"


def test_provider_failure_and_bad_setting_keep_the_deterministic_answer(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace_id = _plant_secret_run(store)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value")
    failed = why(store, trace_id, llm="anthropic:claude-test")
    assert failed.source == "deterministic" and "call failed" in failed.llm and "sk-ant" not in failed.llm
    bad = why(store, trace_id, llm="gemini:pro")
    assert "anthropic:MODEL or openai:MODEL" in bad.llm


def test_cli_why(store: Store) -> None:
    trace_id = _trace_where(store, spans.c.rules.like("%terraform%"))
    result = CliRunner().invoke(app, ["why", trace_id, "--db", store.url_display, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["cause"] == "blocked"
    missing = CliRunner().invoke(app, ["why", "0" * 32, "--db", store.url_display])
    assert missing.exit_code == 2 and "no run" in missing.output


def test_low_confidence_step(store: Store, week_db: tuple[str, WeekResult]) -> None:
    _, week = week_db
    late = int((week.start_ts + 6 * 86_400) * 1e9)
    with store.read_connection() as conn:
        rows = conn.execute(
            select(spans.c.trace_id)
            .where(spans.c.tool_name == "classify_ticket", spans.c.start_ns >= late)
            .order_by(spans.c.start_ns)
        ).all()
    answers = [why(store, t, save=False) for (t,) in rows]
    flagged = [a for a in answers if "low_confidence" in {c["cause"] for c in a.candidates}]
    assert flagged, [a.cause for a in answers]
    # Weak signals that agree are named together in the explanation.
    assert any("confidence" in a.explanation for a in flagged)

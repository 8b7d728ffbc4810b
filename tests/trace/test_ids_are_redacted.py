"""Ids and model names pass through the same redaction as values before storage: a secret an agent
(or a framework) puts in a tool call id, a run id, a session id or a model name never reaches the
store. Before the fix those fields were never scanned and were stored as given. Ordinary ids stay
exactly as they are."""

from __future__ import annotations

from pathlib import Path

import railguard as rg
from railguard.trace import configure_tracing, model_call, tool_call, trace_engine
from railguard.trace._redaction import RedactionPolicy, Redactor

SECRET = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"  # a GitHub token shape, made up
ORDINARY = [
    "toolu_01A09q90qw90lq917835lq9",
    "call_abc123XYZdef456GHI",
    "3f2b8c1e-5d4a-4b7e-9c2d-1a2b3c4d5e6f",
    "gpt-4o-2024-08-06",
    "claude-sonnet-4-5-20250929",
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
]


def test_ordinary_ids_and_model_names_come_out_unchanged() -> None:
    redactor = Redactor(RedactionPolicy(salt=b"test"))
    attributes = {key: value for key in ("gen_ai.tool.call.id", "gen_ai.request.model") for value in ORDINARY}
    for value in ORDINARY:
        for key in ("gen_ai.tool.call.id", "gen_ai.request.model", "gen_ai.response.model", "railguard.run"):
            assert redactor.attributes({key: value}) == {key: value}
    assert redactor.attributes(attributes) == attributes and redactor.hits == []


def test_secrets_in_ids_and_model_names_never_reach_the_store(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    tracing = configure_tracing(f"sqlite:///{db}", service_name="ids-test")
    try:
        engine = rg.Engine(packs=["coding-agent"])
        trace_engine(engine)
        with rg.run(agent="a", session=SECRET, run_id=SECRET):
            with model_call("openai", SECRET) as call:
                call.record_usage(input_tokens=10, output_tokens=2)
            with tool_call("shell", SECRET, {"command": "ls"}):
                engine.check(rg.Action("shell", {"command": "ls"}, call_id=SECRET))
        assert tracing.flush()
    finally:
        tracing.shutdown()
    stored = db.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("traces.db-*"))
    assert SECRET.encode() not in stored
    assert b"[redacted:github_token]" in stored

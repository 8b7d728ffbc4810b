"""GET /v1/runs/{id}/why escalates an unsure answer to the LLM configured on the server (a local fake
speaking OpenAI's wire format), validates and stores its answer, and answers later calls from the store."""

from __future__ import annotations

import json

import pytest
from api_helpers import Api
from diagnose_seed import seed

from integrations.fake_providers import chat_completion, serving


def test_an_unsure_answer_goes_to_the_configured_llm(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    acme = seed(api.server.store, "acme")
    run = acme.clean_runs[0]  # nothing wrong in it: the deterministic answer is unsure
    step = next(s for s in api.server.store.get_trace(run, tenant="acme") if s.tool_name == "check_status")
    reply = {
        "step_span_id": step.span_id,
        "cause": "stale_status",
        "explanation": "the status check read a job that had already finished",
        "suggestion": "read the job's final state before polling",
        "tags": ["polling"],
        "confidence": 0.7,
    }
    with serving() as fake:
        fake.script(lambda body: (200, chat_completion({"content": json.dumps(reply)}, finish_reason="stop")))
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("RAILGUARD_LLM", "openai:gpt-test")
        first = api.call("GET", f"/v1/runs/{run}/why", role="viewer").json()
        again = api.call("GET", f"/v1/runs/{run}/why", role="viewer").json()  # from the store: no second call
        local = api.call(
            "GET", f"/v1/runs/{run}/why", role="viewer", params={"refresh": "true", "llm": "false"}
        )
    assert first["source"] == "llm:openai:gpt-test" and first["cause"] == "stale_status"
    assert first["step"]["span_id"] == step.span_id and first["stored"] is False
    assert again["stored"] is True and again["source"] == "llm:openai:gpt-test"
    assert fake.requests[0][1]["model"] == "gpt-test" and len(fake.requests) == 1
    assert local.json()["source"] == "deterministic" and local.json()["cause"] == "none"

"""The redaction processor's pieces: attribute cleaning, hashing, safe keys, truncation, events,
status, resource, the `railguard.redacted` record, and decision records."""

from __future__ import annotations

import json

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from railguard.model import Action, Context, Decision, RuleHit, Verdict
from railguard.trace import RedactionPolicy, redact_decision_record, redact_span

TOKEN = "ghp_" + "k3Y9mQ2xV7bN1cR5tW8zL4pD6fH0jS2aE8uI"
EMAIL = "ana.lopez@corp.example.com"
CARD = 4539148803436467
POLICY = RedactionPolicy.build(salt="test-salt")


def _span(attributes: dict[str, object]) -> object:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "svc", "deploy.owner": EMAIL}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("execute_tool x", attributes=attributes) as span:  # type: ignore[arg-type]
        span.add_event("log", {"line": f"token={TOKEN}"})
        span.set_status(Status(StatusCode.ERROR, f"failed for {EMAIL}"))
    (finished,) = memory.get_finished_spans()
    return finished


def test_strings_events_status_and_resource_are_redacted_and_recorded() -> None:
    raw = _span(
        {
            "gen_ai.tool.call.arguments": json.dumps({"to": EMAIL, "auth": TOKEN}),
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 12_000_000,
            "app.card": CARD,
            "app.list": [TOKEN, "fine"],
            "railguard.user": "u-42",
        }
    )
    clean = redact_span(raw, POLICY)  # type: ignore[arg-type]
    attrs = dict(clean.attributes or {})
    assert json.loads(str(attrs["gen_ai.tool.call.arguments"])) == {
        "to": "[redacted:email]",
        "auth": "[redacted:github_token]",
    }
    assert attrs["gen_ai.request.model"] == "gpt-4o" and attrs["gen_ai.usage.input_tokens"] == 12_000_000
    assert attrs["app.card"] == "[redacted:credit_card]"
    assert attrs["app.list"] == ("[redacted:github_token]", "fine")
    assert attrs["railguard.user"] == POLICY.hash_identifier("u-42") != "u-42"
    assert attrs["railguard.redacted"] == (
        "gen_ai.tool.call.arguments.to:email",
        "gen_ai.tool.call.arguments.auth:github_token",
        "app.card:credit_card",
        "app.list:github_token",
        "event:log/line:github_token",
        "status:email",
    )
    assert dict(clean.events[0].attributes or {})["line"] == "token=[redacted:github_token]"
    assert clean.status.description == "failed for [redacted:email]"
    assert clean.context == raw.context  # type: ignore[attr-defined]
    assert clean.resource.attributes["deploy.owner"] == "[redacted:email]"
    assert clean.resource.attributes["service.name"] == "svc"
    text = repr(clean.to_json())
    assert TOKEN not in text and EMAIL not in text.replace("[redacted:email]", "")


def test_hashes_are_stable_per_salt_and_differ_across_salts() -> None:
    other = RedactionPolicy.build(salt="another-salt")
    assert POLICY.hash_identifier("u-42") == RedactionPolicy.build(salt="test-salt").hash_identifier("u-42")
    assert POLICY.hash_identifier("u-42") != other.hash_identifier("u-42")
    assert "test-salt" not in repr(POLICY)


def test_truncation_happens_after_redaction() -> None:
    policy = RedactionPolicy.build(salt="s", max_value_chars=30)
    # The token straddles the cut: cut first, the detector would miss its head and leak it.
    clean = redact_span(_span({"app.text": "x" * 19 + " " + TOKEN + " " + "y" * 50}), policy)  # type: ignore[arg-type]
    value = str(dict(clean.attributes or {})["app.text"])
    assert value.startswith("x" * 19 + " [redacted") and value.endswith("...[truncated]")
    assert TOKEN[:10] not in value


def test_extra_safe_keys_and_disabled_hashing() -> None:
    policy = RedactionPolicy.build(salt="s", extra_safe_keys={"app.trusted"}, hash_keys=())
    clean = redact_span(_span({"app.trusted": EMAIL, "railguard.user": EMAIL}), policy)  # type: ignore[arg-type]
    attrs = dict(clean.attributes or {})
    assert attrs["app.trusted"] == EMAIL
    assert attrs["railguard.user"] == "[redacted:email]"


def test_decision_records_are_redacted_the_same_way() -> None:
    action = Action("send", {"to": EMAIL}, context=Context(tenant="acme", user="u-42", labels={"k": TOKEN}))
    decision = Decision(
        verdict=Verdict.MODIFY,
        reason=f"recipient {EMAIL} redacted",
        decision_id=action.decision_id(),
        tool="send",
        hits=(RuleHit("r/1", Verdict.MODIFY, f"found {TOKEN}"),),
        args={"to": EMAIL, "nested": [{"k": TOKEN}]},
        error=f"while reading {TOKEN}",
        context=action.context,
    )
    record = redact_decision_record(decision.to_record(), POLICY)
    text = json.dumps(record)
    assert TOKEN not in text and EMAIL not in text
    assert record["args"] == {"to": "[redacted:email]", "nested": ({"k": "[redacted:github_token]"},)}
    assert record["context"]["user"] == POLICY.hash_identifier("u-42")
    assert record["context"]["tenant"] == "acme" and record["decision_id"] == decision.decision_id
    assert record["hits"][0]["rule"] == "r/1"


def test_values_seen_clean_are_remembered_but_a_secret_is_scanned_every_time() -> None:
    from railguard.trace import _redaction

    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    for _ in range(3):
        redactor = _redaction.Redactor(_redaction.RedactionPolicy())
        assert redactor.text("gpt-4o-mini", "gen_ai.request.model") == "gpt-4o-mini"
        assert secret not in redactor.text(secret, "token")
        assert redactor.record() == ("token:github_token",)
    remembered = {text for texts in _redaction._CLEAN_TEXTS.values() for text in texts}
    assert "gpt-4o-mini" in remembered
    assert not any(secret in text for text in remembered)
    # The attribute path's shortcut for remembered texts still scans the secret.
    cleaned = _redaction.Redactor(_redaction.RedactionPolicy()).attributes(
        {"model": "gpt-4o-mini", "t": secret}
    )
    assert cleaned["model"] == "gpt-4o-mini" and secret not in cleaned["t"]

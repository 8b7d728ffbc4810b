"""Redaction: output format and positions, nested values with safe keys, the policy fact, and the
promise that no found value survives in the output, a repr or an error."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from railguard.detect.redact import (
    ALL_KINDS,
    PII_KINDS,
    SECRET_KINDS,
    RedactionResult,
    fact,
    find_sensitive,
    redact,
    redact_value,
)

_RANDOM_36 = "Zq7Lm2Xv9Pw4Rt8Ky1Bn6Cd3Fg5Hj0Ns2QaW"
GH_TOKEN = "ghp_" + _RANDOM_36
NPM_TOKEN = "npm_" + _RANDOM_36[::-1]
EMAIL = "ana.lopez@corp.example.com"
PASSWORD = "Tq8#vLm2pZx9"


def test_redact_replaces_each_finding_and_keeps_original_positions() -> None:
    text = f"user {EMAIL} pushed with {GH_TOKEN} to postgres://app:{PASSWORD}@db.internal/app"
    result = redact(text)
    assert result.text == (
        "user [redacted:email] pushed with [redacted:github_token] to "
        "postgres://app:[redacted:connection_string]@db.internal/app"
    )
    assert [text[f.start : f.end] for f in result.findings] == [EMAIL, GH_TOKEN, PASSWORD]


def test_secret_wins_over_pii_inside_a_url() -> None:
    # `PASSWORD@db.example.com` also looks like an email address; the credential is what matters.
    text = f"redis://:{PASSWORD}@db.example.com:6379"
    assert [f.kind for f in find_sensitive(text)] == ["connection_string"]


def test_kinds_filter_and_unknown_kind() -> None:
    text = f"{EMAIL} {GH_TOKEN} 10.1.2.3"
    assert [f.kind for f in find_sensitive(text, SECRET_KINDS)] == ["github_token"]
    assert [f.kind for f in find_sensitive(text, ALL_KINDS - {"ip_address"})] == ["email", "github_token"]
    assert find_sensitive(text, ()) == []
    with pytest.raises(ValueError, match="unknown redaction kind") as caught:
        redact(text, ["bogus"])
    assert GH_TOKEN not in str(caught.value) and EMAIL not in str(caught.value)


def test_clean_text_is_returned_unchanged() -> None:
    text = "All 12 tests passed in 0.4s; see build 2024.05.01."
    assert redact(text) == RedactionResult(text, ())


def test_redact_value_recurses_and_reports_json_paths() -> None:
    value = {
        "to": EMAIL,
        "headers": {"Authorization": f"token {GH_TOKEN}", "X-Request-Id": "42"},
        "items": [("note", "card 4539 1488 0343 6467"), 4539148803436467, True],
        "user id": EMAIL,
        "audit": {"email": EMAIL},
    }
    redacted, hits = redact_value(value, safe_keys={"audit"})
    assert redacted == {
        "to": "[redacted:email]",
        "headers": {"Authorization": "token [redacted:github_token]", "X-Request-Id": "42"},
        "items": [("note", "card [redacted:credit_card]"), "[redacted:credit_card]", True],
        "user id": "[redacted:email]",
        "audit": {"email": EMAIL},
    }
    assert hits == [
        ("$.to", "email"),
        ("$.headers.Authorization", "github_token"),
        ("$.items[0][1]", "credit_card"),
        ("$.items[1]", "credit_card"),
        ('$["user id"]', "email"),
    ]
    assert value["to"] == EMAIL  # the input is not mutated


def test_fact_reports_kinds_and_counts_only() -> None:
    found = fact([f"mail {EMAIL}", f"token {GH_TOKEN} and {NPM_TOKEN}", "nothing here"])
    assert found == {
        "found": True,
        "kinds": ["email", "github_token", "npm_token"],
        "count": 3,
        "secrets": True,
        "pii": True,
    }
    assert GH_TOKEN not in repr(found) and EMAIL not in repr(found)
    assert fact(["plain text"]) == {"found": False, "kinds": [], "count": 0, "secrets": False, "pii": False}


def test_reprs_never_show_values() -> None:
    result = redact(f"{GH_TOKEN} {EMAIL}")
    for shown in (repr(result), str(result), repr(result.findings), repr(find_sensitive(GH_TOKEN))):
        assert GH_TOKEN not in shown and EMAIL not in shown


def test_kind_sets_are_disjoint_and_complete() -> None:
    assert not SECRET_KINDS & PII_KINDS
    assert SECRET_KINDS | PII_KINDS == ALL_KINDS
    assert {"github_token", "connection_string", "generic_secret"} <= SECRET_KINDS
    assert {"email", "phone", "credit_card", "iban", "us_ssn", "ip_address", "national_id"} | {
        "tax_id",
        "health_id",
        "driver_licence",
        "date_of_birth",
        "postal_address",
        "bank_account",
    } == PII_KINDS


_FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FAST
@given(st.text())
def test_random_text_never_raises_and_findings_are_well_formed(text: str) -> None:
    findings = find_sensitive(text)
    previous_end = 0
    for f in findings:
        assert previous_end <= f.start < f.end <= len(text)
        previous_end = f.end
    result = redact(text)
    assert result.findings == tuple(findings)


_NOISE = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@_FAST
@given(_NOISE, st.sampled_from([GH_TOKEN, NPM_TOKEN, EMAIL]), _NOISE)
def test_redacted_output_never_contains_the_embedded_value(before: str, value: str, after: str) -> None:
    text = f"{before} {value} {after}"
    result = redact(text)
    assert value not in result.text
    for f in result.findings:
        assert text[f.start : f.end] not in result.text or len(text[f.start : f.end]) < 6


@_FAST
@given(
    st.recursive(
        st.text() | st.integers() | st.none(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
)
def test_redact_value_never_raises(value: object) -> None:
    redact_value(value)

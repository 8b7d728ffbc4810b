"""`railguard policy validate` reports every error of a policy (up to a cap), each with file:line,
instead of stopping at the first; a valid policy loads exactly as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from railguard.cli import app
from railguard.errors import PolicyError
from railguard.policy import load_policy
from railguard.policy._collect import MAX_ERRORS, validate

BROKEN = """\
name: broken
tools:
  refund: {effect: sometimes}
  lookup: {effect: read}
rules:
  - rule: typo-in-condition
    tools: [refund]
    when: arg.amount > 5
    verdict: block
  - rule: unknown-verdict
    tools: [refund]
    verdict: maybe
  - rule: fine
    tools: [lookup]
    verdict: allow
  - macro: half_written
    condition: 'args.x >'
"""


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(BROKEN)
    return path


def test_every_error_is_reported_with_its_line(broken: Path) -> None:
    policy, errors = validate([str(broken)])
    assert policy is None
    assert [(Path(e.file or "").name, e.line, e.key) for e in errors] == [
        ("policy.yaml", 3, "effect"),
        ("policy.yaml", 8, "when"),
        ("policy.yaml", 12, "verdict"),
        ("policy.yaml", 16, "macro half_written"),
    ]


def test_normal_loading_still_stops_at_the_first_error(broken: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(broken)
    assert info.value.line == 3


def test_the_cli_prints_them_all(broken: Path) -> None:
    result = CliRunner().invoke(app, ["policy", "validate", str(broken)])
    assert result.exit_code == 1
    text = result.output.replace("\n", " ")
    for line in (3, 8, 12, 16):
        assert f"policy.yaml:{line}: " in text
    assert "4 error(s)" in text
    assert "invalid: " in text  # the prefix keeps its colon


def test_the_number_of_errors_is_capped(tmp_path: Path) -> None:
    rules = "".join(f"  - rule: r{i}\n    tools: [t]\n    verdict: nope\n" for i in range(MAX_ERRORS + 20))
    path = tmp_path / "many.yaml"
    path.write_text("rules:\n" + rules)
    _policy, errors = validate([str(path)])
    assert MAX_ERRORS <= len(errors) <= MAX_ERRORS + 1


def test_a_valid_policy_validates(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("name: ok\nrules:\n  - {rule: r, tools: [t], verdict: block}\n")
    policy, errors = validate([str(path)])
    assert errors == [] and policy is not None and len(policy.rules) == 1
    result = CliRunner().invoke(app, ["policy", "validate", str(path)])
    assert result.exit_code == 0 and "valid" in result.output

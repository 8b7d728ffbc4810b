"""A policy must say something: an empty or comment-only policy file is a load error naming the
file and the fix (it used to load as a policy that allows everything), and `policy validate` warns
about a policy with no rules and no pack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from railguard import Engine
from railguard.cli import app
from railguard.errors import PolicyError

RUNNER = CliRunner()
EMPTY_FILES = {
    "empty": "",
    "blank-lines": "\n\n   \n",
    "comments-only": "# rules go here\n# - rule: block-rm\n",
    "empty-mapping": "{}\n",
    "empty-list": "[]\n",
}


@pytest.mark.parametrize("text", EMPTY_FILES.values(), ids=EMPTY_FILES.keys())
def test_an_empty_policy_file_is_a_load_error_with_file_and_fix(tmp_path: Path, text: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as caught:
        Engine(str(path))
    message = str(caught.value)
    assert str(path) in message and "empty" in message and "include" in message


def test_an_empty_included_file_is_an_error_too(tmp_path: Path) -> None:
    (tmp_path / "extra.yaml").write_text("# TODO\n")
    main = tmp_path / "policy.yaml"
    main.write_text("include: [pack:coding-agent, extra.yaml]\n")
    with pytest.raises(PolicyError, match=r"extra\.yaml"):
        Engine(str(main))


def test_validate_and_check_refuse_an_empty_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("# nothing yet\n")
    validated = RUNNER.invoke(app, ["policy", "validate", str(path)])
    assert validated.exit_code == 1 and "empty" in validated.stderr
    checked = RUNNER.invoke(
        app,
        ["check", "-p", str(path), "--json"],
        input=json.dumps({"tool": "shell", "args": {"command": "rm -rf /"}}),
    )
    assert checked.exit_code == 2 and checked.stdout == ""


def test_validate_warns_on_a_policy_without_rules_or_packs(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("name: nothing-yet\nmode: enforce\n")
    done = RUNNER.invoke(app, ["policy", "validate", str(path)])
    assert done.exit_code == 0
    assert "0 rules" in done.stdout and "warning" in done.stderr and "no rules" in done.stderr
    with_pack = RUNNER.invoke(app, ["policy", "validate", "--pack", "coding-agent"])
    assert with_pack.exit_code == 0 and "warning" not in with_pack.stderr

"""Every policy loading error names the file, the line, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from railguard import PolicyError, load_policy


def load_error(tmp_path: Path, text: str, name: str = "policy.yaml") -> PolicyError:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    err = info.value
    assert err.file is not None and err.file.endswith(name)
    return err


def test_typo_in_verdict(tmp_path: Path) -> None:
    err = load_error(tmp_path, "rules:\n  - rule: r\n    verdict: blok\n")
    assert err.line == 3 and err.key == "verdict"
    assert "did you mean 'block'" in (err.fix or "")
    assert "policy.yaml:3" in str(err)


def test_unknown_cel_variable(tmp_path: Path) -> None:
    err = load_error(tmp_path, "rules:\n  - rule: r\n    verdict: block\n    when: arg.amount > 5\n")
    assert err.line == 4 and err.key == "when"
    assert "unknown variable 'arg'" in err.message
    assert "did you mean 'args'" in (err.fix or "")


def test_unknown_cel_function(tmp_path: Path) -> None:
    err = load_error(tmp_path, "rules:\n  - rule: r\n    verdict: block\n    when: args.x.startswit('a')\n")
    assert "unknown function 'startswit'" in err.message and "startsWith" in (err.fix or "")


def test_cel_syntax_error(tmp_path: Path) -> None:
    err = load_error(tmp_path, "rules:\n  - rule: r\n    verdict: block\n    when: 'args.x =='\n")
    assert err.line == 4 and "invalid CEL" in err.message


def test_comprehension_variables_are_not_unknown(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("rules:\n  - rule: r\n    verdict: block\n    when: args.items.exists(i, i > 3)\n")
    assert load_policy(path).rules[0].id == "r"


def test_unknown_rule_key_suggests_the_right_one(tmp_path: Path) -> None:
    err = load_error(tmp_path, "rules:\n  - rule: r\n    verdict: block\n    condition: 'true'\n")
    assert err.key == "condition" and err.line == 4
    assert "did you mean 'when'" in (err.fix or "")


def test_unknown_top_level_key(tmp_path: Path) -> None:
    err = load_error(tmp_path, "name: x\nmodes: audit\n")
    assert err.line == 2 and "did you mean 'mode'" in (err.fix or "")


def test_missing_verdict(tmp_path: Path) -> None:
    err = load_error(tmp_path, "rules:\n  - rule: r\n    when: 'true'\n")
    assert "no 'verdict'" in err.message and err.line == 2


def test_item_without_kind(tmp_path: Path) -> None:
    err = load_error(tmp_path, "rules:\n  - verdict: block\n")
    assert "exactly one of 'rule', 'list' or 'macro'" in err.message


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    err = load_error(tmp_path, "rules:\n  - rule: r\n    verdict: block\n    verdict: ask\n")
    assert err.line == 4 and "duplicate key 'verdict'" in err.message


def test_invalid_yaml(tmp_path: Path) -> None:
    err = load_error(tmp_path, "rules:\n  - rule: r\n   verdict: [\n")
    assert "invalid YAML" in err.message and err.line is not None


def test_macro_cycle(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        "rules:\n  - {macro: a, condition: b}\n  - {macro: b, condition: a}\n  - {rule: r, when: a, verdict: ask}\n",
    )
    assert "macro cycle" in err.message


def test_missing_include(tmp_path: Path) -> None:
    err = load_error(tmp_path, "include: [nope.yaml]\n")
    assert err.key == "include" and err.line == 1 and "cannot read" in err.message


def test_unknown_pack(tmp_path: Path) -> None:
    err = load_error(tmp_path, "include: ['pack:nonexistent']\n")
    assert "unknown pack" in err.message and "default" in (err.fix or "")


def test_error_in_an_included_file_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "inner.yaml").write_text("rules:\n  - rule: r\n    verdict: maybe\n")
    (tmp_path / "outer.yaml").write_text("include: [inner.yaml]\n")
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "outer.yaml")
    assert info.value.file is not None and info.value.file.endswith("inner.yaml") and info.value.line == 3


def test_append_to_missing_list(tmp_path: Path) -> None:
    err = load_error(tmp_path, "rules:\n  - {list: xs, items: [1], append: true}\n")
    assert "no earlier list" in err.message


def test_disable_unknown_rule(tmp_path: Path) -> None:
    err = load_error(tmp_path, "rules:\n  - {rule: ghost, enabled: false}\n")
    assert "no earlier rule" in err.message


def test_invalid_contract_schema(tmp_path: Path) -> None:
    err = load_error(tmp_path, "tools:\n  pay:\n    args: {type: objekt}\n")
    assert err.key == "args" and "not a valid JSON Schema" in err.message


def test_invalid_effect(tmp_path: Path) -> None:
    err = load_error(tmp_path, "tools:\n  pay:\n    effect: destroy\n")
    assert err.key == "effect" and "irreversible" in (err.fix or "")


def test_modify_without_block(tmp_path: Path) -> None:
    err = load_error(tmp_path, "rules:\n  - {rule: r, verdict: modify}\n")
    assert "no 'modify' block" in err.message


def test_list_name_must_not_shadow_a_variable(tmp_path: Path) -> None:
    err = load_error(tmp_path, "rules:\n  - {list: args, items: []}\n")
    assert "reserved" in err.message


def test_deadline_must_be_positive(tmp_path: Path) -> None:
    err = load_error(tmp_path, "deadline_ms: -1\n")
    assert err.line == 1 and "deadline_ms" in err.message


def test_message_template_is_checked(tmp_path: Path) -> None:
    err = load_error(tmp_path, "rules:\n  - rule: r\n    verdict: block\n    message: 'to ${argz.to}'\n")
    assert err.key == "message" and "argz" in err.message


def test_falco_style_bare_list_file(tmp_path: Path) -> None:
    path = tmp_path / "falco.yaml"
    path.write_text("- list: xs\n  items: [a]\n- rule: r\n  verdict: block\n  when: tool in xs\n")
    policy = load_policy(path)
    assert [r.id for r in policy.rules] == ["r"] and policy.lists == {"xs": ["a"]}


def test_redaction_kinds_come_from_the_detectors_cached_or_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`redact:` kinds are checked against the names the detectors define, read from the parsed-data
    cache after the first load (without building the scanners): the same names either way."""
    from railguard.detect.redact import PII_KINDS, SECRET_KINDS
    from railguard.policy._compile import _redaction_groups

    monkeypatch.setenv("RAILGUARD_CACHE_DIR", str(tmp_path / "cache"))
    expected = {"secrets": SECRET_KINDS, "pii": PII_KINDS}
    assert _redaction_groups() == expected  # computed, then stored
    assert list((tmp_path / "cache" / "parsed").glob("redaction-kinds-*.marshal"))
    assert _redaction_groups() == expected  # read back
    rule = "rules:\n  - rule: r\n    verdict: modify\n    modify: {redact: [%s]}\n"
    (tmp_path / "ok.yaml").write_text(rule % "secrets, email")
    [compiled] = load_policy(tmp_path / "ok.yaml").rules
    assert compiled.modify is not None and compiled.modify.redact == (*sorted(SECRET_KINDS), "email")
    err = load_error(tmp_path, rule % "credit_cards")
    assert err.key == "redact" and "unknown redaction kind 'credit_cards'" in err.message
    assert "credit_card" in (err.fix or "")

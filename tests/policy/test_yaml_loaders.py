"""Policies parse with libyaml when PyYAML has it; the result (values, and the line of every mapping,
key and list) is the one the pure-Python loader gives, and errors keep its words."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
import yaml

from railguard.errors import PolicyError
from railguard.policy import _yaml


def _with_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return (getattr(value, "line", None), getattr(value, "key_lines", None),
                {k: _with_lines(v) for k, v in value.items()})  # fmt: skip
    if isinstance(value, list):
        return (getattr(value, "line", None), [_with_lines(v) for v in value])
    return value


FAST, PURE = _yaml._loaders()


@pytest.mark.skipif(FAST is None, reason="PyYAML built without libyaml")
def test_every_built_in_pack_parses_the_same_with_both_loaders_and_from_the_cache() -> None:
    packs = [
        p for p in resources.files("railguard.policy").joinpath("packs").iterdir() if p.name.endswith(".yaml")
    ]
    assert len(packs) >= 7
    for pack in packs:
        text = pack.read_text()
        fast = yaml.load(text, Loader=FAST)
        pure = yaml.load(text, Loader=PURE)
        assert _with_lines(fast) == _with_lines(pure), pack.name
        assert _with_lines(_yaml.load_yaml(text, pack.name)) == _with_lines(pure)
        assert _with_lines(_yaml.load_yaml(text, pack.name)) == _with_lines(pure)  # the cached parse


def test_errors_name_the_line_and_keep_their_wording() -> None:
    for _ in range(2):  # an error is never cached: the second load fails the same way
        with pytest.raises(PolicyError) as dup:
            _yaml.load_yaml("rules: []\nmode: audit\nrules: []\n", "p.yaml")
        assert dup.value.line == 3 and "duplicate key 'rules' (first at line 1)" in str(dup.value)
    with pytest.raises(PolicyError) as bad:
        _yaml.load_yaml("rules:\n  - rule: x\n   when: y: z\n", "p.yaml")
    assert bad.value.file == "p.yaml" and bad.value.line == 3
    with pytest.raises(yaml.MarkedYAMLError) as pure:
        yaml.load("rules:\n  - rule: x\n   when: y: z\n", Loader=PURE)
    assert f"invalid YAML: {pure.value.problem}" in str(bad.value)

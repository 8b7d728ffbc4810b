"""`Engine.check` never raises, for any JSON-representable input: random shapes, wrong types, deep
nesting (5,000 levels and more), huge strings, lone surrogates in arguments, ids and context. An
input it cannot walk is decided by the policy's on_error (block in enforce mode)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from railguard import Action, Context, Engine, Verdict

from ._shapes import FUZZ, deep_values, huge_strings, json_values, nasty_text, nest

ENGINE = Engine(packs=["coding-agent"])


@FUZZ
@given(
    tool=st.sampled_from(["Bash", "shell", "write_file", "http_request", "anything"]),
    args=st.dictionaries(nasty_text, st.one_of(json_values, deep_values, huge_strings), max_size=3),
    call_id=st.one_of(st.none(), nasty_text),
    session=st.one_of(st.none(), nasty_text),
)
def test_check_never_raises(
    tool: str, args: dict[str, Any], call_id: str | None, session: str | None
) -> None:
    decision = ENGINE.check(Action(tool, args, call_id, Context(session=session)))
    assert decision.verdict in set(Verdict)
    assert (
        decision.decision_id
        == ENGINE.check(Action(tool, args, call_id, Context(session=session))).decision_id
    )


@pytest.mark.parametrize("as_dict", [False, True])
def test_arguments_nested_5000_deep_are_blocked_not_raised(as_dict: bool) -> None:
    decision = ENGINE.check(Action("Bash", {"command": "ls", "x": nest("rm -rf /", 5_000, as_dict=as_dict)}))
    assert decision.verdict is Verdict.BLOCK
    assert "deeper than" in decision.reason


def test_a_lone_surrogate_in_an_id_is_blocked_not_raised() -> None:
    decision = ENGINE.check(Action("Bash", {"command": "ls"}, "call\ud800", Context(run="r\udfff")))
    assert decision.verdict is Verdict.BLOCK
    assert "surrogate" in decision.reason

"""The Claude Code hook, fuzzed: random JSON shapes, wrong types, deep nesting, huge strings, bytes
that are not UTF-8. Whatever it is handed, the hook answers with exit 0 or 2 and no traceback, and
an input it must refuse — unreadable input, or a destructive command however it is wrapped — is
never allowed."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from railguard.integrations.claude_code import HookResult, run_hook

from ._shapes import FUZZ, deep_values, huge_strings, json_values, nasty_text

DESTRUCTIVE = ["rm -rf /", "rm -rf ~", "sudo rm -rf / --no-preserve-root"]


def allowed(result: HookResult) -> bool:
    """True unless the answer blocks (exit 2) or denies/asks (a PreToolUse JSON decision)."""
    if result.exit_code == 2:
        return False
    if not result.stdout:
        return True  # exit 0, nothing said: Claude Code goes ahead (its own prompt may still ask)
    decision = json.loads(result.stdout).get("hookSpecificOutput", {}).get("permissionDecision")
    return decision not in ("deny", "ask")


def assert_well_formed(result: HookResult) -> None:
    assert result.exit_code in (0, 2)
    assert "Traceback" not in result.stderr
    if result.stdout:
        json.loads(result.stdout)


payloads = st.one_of(
    json_values,
    deep_values,
    st.dictionaries(
        st.sampled_from(["hook_event_name", "tool_name", "tool_input", "session_id", "x"]), json_values
    ),
    st.fixed_dictionaries(
        {"hook_event_name": st.sampled_from(["PreToolUse", "PostToolUse", "Stop", 3, None])},
        optional={
            "tool_name": st.one_of(nasty_text, json_values),
            "tool_input": st.one_of(
                json_values, deep_values, st.dictionaries(nasty_text, huge_strings, max_size=1)
            ),
            "tool_use_id": st.one_of(nasty_text, json_values),
            "tool_response": st.one_of(json_values, huge_strings),
        },
    ),
)


@FUZZ
@given(payloads)
def test_any_json_gets_a_well_formed_answer(payload: Any) -> None:
    try:
        text = json.dumps(payload)
    except (RecursionError, ValueError):
        text = "[" * 10_000  # what a too-deep value looks like on the wire
    assert_well_formed(run_hook(text))


@FUZZ
@given(st.binary(max_size=200))
def test_any_bytes_get_a_well_formed_answer_and_garbage_is_blocked(raw: bytes) -> None:
    result = run_hook(raw, event="pre")
    assert_well_formed(result)
    try:
        json.loads(raw.decode("utf-8"))
    except ValueError:
        assert result.exit_code == 2  # unreadable input is always a block


@FUZZ
@given(
    command=st.sampled_from(DESTRUCTIVE),
    extra_input=st.dictionaries(
        st.sampled_from(["description", "timeout", "run_in_background", "x"]), json_values
    ),
    extra=st.dictionaries(
        st.sampled_from(["session_id", "cwd", "permission_mode", "tool_use_id", "y"]), json_values
    ),
    event=st.sampled_from([None, "pre"]),
)
def test_a_destructive_command_is_never_allowed_whatever_surrounds_it(
    command: str, extra_input: dict[str, Any], extra: dict[str, Any], event: str | None
) -> None:
    payload = {
        **extra,
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {**extra_input, "command": command},
    }
    result = run_hook(json.dumps(payload), event=event)
    assert_well_formed(result)
    assert not allowed(result)


@settings(FUZZ, max_examples=4)
@given(st.one_of(deep_values, st.binary(max_size=50), st.just("rm -rf /")))
def test_the_installed_hook_process_answers_blocked_or_well_formed(value: Any) -> None:
    if isinstance(value, bytes):
        stdin = value
    elif isinstance(value, str):
        stdin = json.dumps(
            {"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": value}}
        ).encode()
    else:
        stdin = (
            b'{"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"a": '
            + b"[" * 5_000
            + b"]" * 5_000
            + b"}}"
        )
    # Generous timeout: the hook's own deadline (30 s) answers long before it.
    done = subprocess.run(
        [sys.executable, "-m", "railguard.integrations.claude_code"],
        input=stdin,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 2 or b'"deny"' in done.stdout
    assert b"Traceback" not in done.stderr

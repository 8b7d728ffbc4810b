"""Claude Code hooks: Railguard decides every tool call Claude Code makes.

Claude Code runs the hook command with the event as JSON on stdin. For `PreToolUse` the hook answers
with exit code 0 and a JSON `hookSpecificOutput` on stdout (`permissionDecision` allow | deny | ask,
`permissionDecisionReason`, `updatedInput`), or with exit code 2 and a reason on stderr, which blocks
the call and is shown to Claude. Mapping of Railguard verdicts:

    block  -> "deny" with the reason (Claude reads it)
    ask    -> "ask" (Claude Code's own permission prompt, with the reason)
    modify -> "allow" with `updatedInput` (the rewritten arguments)
    allow  -> nothing (exit 0, empty stdout) in the default `defer` mode, so the user's normal
              permission flow still applies; "allow" in `allow` mode (skips Claude Code's prompt)

It fails closed: unreadable input, a policy that does not load or any internal error exits 2 with
the reason, which Claude Code treats as a block. `PostToolUse` scans the tool's response: secrets
and (for untrusted tools) prompt-injection signals are reported back to Claude.
"""

from __future__ import annotations

import contextlib
import enum
import fnmatch
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from railguard.engine import Engine
from railguard.errors import GuardBlocked
from railguard.integrations._mcp_scan import injection_notice, scan_text, secrets_notice
from railguard.model import Action, Context, Decision, Trust, Verdict

__all__ = [
    "AllowMode",
    "HookResult",
    "action_from_hook",
    "main",
    "post_tool_use",
    "pre_tool_use",
    "run_hook",
]

PRE_TOOL_USE = "PreToolUse"
POST_TOOL_USE = "PostToolUse"
EVENTS = {"pre": PRE_TOOL_USE, "post": POST_TOOL_USE}
AGENT = "claude-code"
BLOCKING_EXIT = 2  # the only exit code Claude Code treats as "block this call"
# Tools whose output comes from outside the user's machine: scanned for injection by default.
UNTRUSTED_TOOLS = ("WebFetch", "WebSearch")


class AllowMode(enum.StrEnum):
    """What an `allow` verdict answers: `defer` leaves the call to Claude Code's own permission flow;
    `allow` approves it explicitly (and so skips Claude Code's permission prompt)."""

    DEFER = "defer"
    ALLOW = "allow"


@dataclass(frozen=True, slots=True)
class HookResult:
    """What the hook process writes and how it exits."""

    exit_code: int
    stdout: str = ""
    stderr: str = ""


class HookInputError(ValueError):
    """The hook input is not what Claude Code documents. The message never quotes input values."""


def action_from_hook(payload: Mapping[str, Any]) -> Action:
    """The Railguard action for a PreToolUse/PostToolUse input."""
    tool = payload.get("tool_name")
    if not isinstance(tool, str) or not tool:
        raise HookInputError("the hook input has no 'tool_name' string")
    args = payload.get("tool_input", {})
    if not isinstance(args, Mapping):
        raise HookInputError(f"'tool_input' must be a JSON object, got {type(args).__name__}")
    labels = {}
    if isinstance(payload.get("permission_mode"), str):
        labels["permission_mode"] = payload["permission_mode"]
    context = Context(
        agent=AGENT,
        session=_opt_str(payload.get("session_id")),
        workspace=_opt_str(payload.get("cwd")),
        labels=labels,
    )
    return Action(tool, dict(args), call_id=_opt_str(payload.get("tool_use_id")), context=context)


def pre_tool_use(
    engine: Engine, payload: Mapping[str, Any], *, allow_mode: AllowMode = AllowMode.DEFER
) -> HookResult:
    """Decide one PreToolUse event."""
    return _pre_answer(hook_decision(engine, payload), allow_mode)


def hook_decision(engine: Engine, payload: Mapping[str, Any]) -> Decision:
    """The decision on a PreToolUse event: `engine.admit`, the one admission path."""
    return engine.admit(action_from_hook(payload))


def _pre_answer(decision: Decision, allow_mode: AllowMode) -> HookResult:
    rules = f" [rules: {', '.join(decision.rules)}]" if decision.rules else ""
    if decision.verdict is Verdict.BLOCK:
        return _permission("deny", GuardBlocked(decision).model_message())
    if decision.verdict is Verdict.ASK:
        return _permission("ask", f"Railguard asks for approval: {decision.reason}{rules}")
    if decision.verdict is Verdict.MODIFY and decision.args is not None:
        reason = f"Railguard rewrote the arguments: {decision.reason}{rules}"
        return _permission("allow", reason, updated_input=dict(decision.args))
    if allow_mode is AllowMode.ALLOW:
        return _permission("allow", f"Railguard allowed the call: {decision.reason}")
    return HookResult(0)


def _permission(decision: str, reason: str, *, updated_input: dict[str, Any] | None = None) -> HookResult:
    specific: dict[str, Any] = {
        "hookEventName": PRE_TOOL_USE,
        "permissionDecision": decision,
        "permissionDecisionReason": reason,
    }
    if updated_input is not None:
        specific["updatedInput"] = updated_input
    return HookResult(0, json.dumps({"hookSpecificOutput": specific}, default=str) + "\n")


def post_tool_use(
    engine: Engine, payload: Mapping[str, Any], *, untrusted: Callable[[str], bool] | None = None
) -> HookResult:
    """Scan one PostToolUse response. Secrets -> a notice to Claude (`additionalContext`); injection
    signals in an untrusted tool's output -> `decision: block` with the reason, which Claude Code
    feeds to Claude (the tool already ran; this cannot undo it)."""
    action = action_from_hook(payload)
    is_untrusted = untrusted or default_untrusted(engine)
    response = payload.get("tool_response")
    text = response if isinstance(response, str) else json.dumps(response, default=str)
    scan = scan_text(text, untrusted=is_untrusted(action.tool))
    out: dict[str, Any] = {}
    if scan.injection_flagged:
        out["decision"] = "block"
        out["reason"] = injection_notice(action.tool, scan.injection_signals)
    if scan.secret_kinds:
        out["hookSpecificOutput"] = {
            "hookEventName": POST_TOOL_USE,
            "additionalContext": secrets_notice(action.tool, scan.secret_kinds),
        }
    return HookResult(0, json.dumps(out) + "\n" if out else "")


def default_untrusted(engine: Engine, extra: Sequence[str] = ()) -> Callable[[str], bool]:
    """Untrusted output: web tools, tools the policy declares `output_trust: untrusted`, and any
    tool matching one of the `extra` globs (e.g. `mcp__*`)."""
    patterns = (*UNTRUSTED_TOOLS, *extra)

    def untrusted(tool: str) -> bool:
        if engine.policy.trust_of(tool) is Trust.UNTRUSTED:
            return True
        return any(fnmatch.fnmatchcase(tool, p) for p in patterns)

    return untrusted


def run_hook(
    stdin_text: str,
    *,
    policies: Sequence[str] = (),
    packs: Sequence[str] = (),
    event: str | None = None,
    allow_mode: AllowMode = AllowMode.DEFER,
    untrusted: Sequence[str] = (),
    db: str | None = None,
) -> HookResult:
    """The whole hook: parse stdin, load the policy, decide or scan. Never raises. A PreToolUse
    (or an event that cannot be told) that fails for any reason is blocked (exit 2)."""
    if event is not None and event not in EVENTS:
        return _failed(PRE_TOOL_USE, f"unknown --event {event[:20]!r}; use pre or post")
    wanted = EVENTS.get(event or "")
    try:
        payload = json.loads(stdin_text)
    except json.JSONDecodeError as err:  # the message has positions only, never input text
        return _failed(wanted, f"the hook input on stdin is not valid JSON ({err})")
    if not isinstance(payload, dict):
        return _failed(wanted, "the hook input on stdin must be a JSON object")
    name = wanted or payload.get("hook_event_name")
    if not name:
        return _failed(PRE_TOOL_USE, "the hook input has no 'hook_event_name' and no --event was given")
    if name not in (PRE_TOOL_USE, POST_TOOL_USE):
        # Wired to another event (Stop, Notification...): exit 2 there would change Claude's behavior.
        return HookResult(0, stderr=f"Railguard ignores the {str(name)[:40]!r} hook event\n")
    try:
        # warm=False: a hook process lives for one call, so it loads only the detectors that call needs
        engine = Engine(list(policies) or None, packs=list(packs) or None, warm=False)
    except Exception as err:
        return _failed(name, f"the policy could not be loaded: {err}")
    try:
        with _recording(engine, db, name, payload):
            if name == PRE_TOOL_USE:
                return pre_tool_use(engine, payload, allow_mode=allow_mode)
            return post_tool_use(engine, payload, untrusted=default_untrusted(engine, untrusted))
    except HookInputError as err:
        return _failed(name, str(err))
    except Exception as err:
        return _failed(name, f"internal error ({type(err).__name__})")


def _failed(event: str | None, problem: str) -> HookResult:
    if event == POST_TOOL_USE:  # the call already ran: report, never pretend to block it
        return HookResult(1, stderr=f"Railguard could not scan this tool result: {problem}\n")
    return HookResult(
        BLOCKING_EXIT,
        stderr=(
            f"Railguard could not check this tool call, so it is blocked: {problem}. "
            "Tell the user the Railguard hook needs fixing; do not retry the call until then.\n"
        ),
    )


@contextlib.contextmanager
def _recording(engine: Engine, db: str | None, event: str, payload: Mapping[str, Any]) -> Iterator[None]:
    """With `db`, trace the decision (PreToolUse) or the result (PostToolUse) into that store. A
    tracing failure never changes the answer."""
    tracing: Any = None
    with contextlib.ExitStack() as stack:
        if db is not None:
            try:
                from railguard.trace import configure_tracing, tool_call, trace_engine

                tracing = configure_tracing(db, service_name="railguard-claude-code")
                stack.callback(_quietly, tracing.shutdown)
                if event == PRE_TOOL_USE:
                    trace_engine(engine)
                else:
                    action = action_from_hook(payload)
                    span = stack.enter_context(
                        tool_call(action.tool, action.call_id, dict(action.args), context=action.context)
                    )
                    span.record_result(payload.get("tool_response"))
            except Exception:
                pass  # tracing is best effort; the decision below is what matters
        yield


def _quietly(fn: Callable[[], object]) -> None:
    try:
        fn()
    except Exception:
        pass


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m railguard.integrations.claude_code [--event pre|post] [--policy F]... [--pack P]...`:
    the hook without the rest of the CLI (Claude Code starts it for every tool call, so start-up
    time is latency the user feels). Same options and answers as `railguard hook claude-code`."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="railguard-hook", add_help=True)
    parser.add_argument("--policy", "-p", action="append", default=[])
    parser.add_argument("--pack", action="append", default=[])
    parser.add_argument("--event", default=None)
    parser.add_argument("--allow-mode", default="defer")
    parser.add_argument("--untrusted", action="append", default=[])
    parser.add_argument("--db", default=None)
    try:
        opts = parser.parse_args(argv)
        mode = AllowMode(opts.allow_mode)
        text = sys.stdin.read()
    except (SystemExit, ValueError, OSError):  # never let a broken hook wave calls through
        sys.stderr.write(
            "Railguard hook could not start (bad options or unreadable input); the call is blocked.\n"
        )
        return BLOCKING_EXIT
    result = run_hook(
        text, policies=opts.policy, packs=opts.pack, event=opts.event, allow_mode=mode,
        untrusted=opts.untrusted, db=opts.db,
    )  # fmt: skip
    sys.stdout.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.write(result.stderr)
    return result.exit_code


if __name__ == "__main__":
    raise SystemExit(main())

"""Every top-level command, its one-line help and the module that defines it, as static data: what
`railguard --help` prints without importing any command (Typer, Rich, the engine, the store), and
what tells the dispatcher which module a command needs. A test keeps it equal to the Typer app."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections.abc import Iterable

HELP = "Railguard: a real-time reliability engine for AI agents."

# The modules of railguard.cli in the order they attach their commands (the order --help lists them).
MODULES = (
    "_core", "_alert", "_approvals", "_audit", "_backtest", "_decisions", "_detect", "_diagnose", "_gate",
    "_integrations", "_keys", "_policy_server", "_proposals", "_replay", "_rules", "_serve", "_tools", "_traces",
)  # fmt: skip

# (name, module(s), one-line help): plain commands first, then groups, as Typer lists them.
COMMANDS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("check", ("_core",), 'Decide actions: a JSON Lines stream of {"tool": ..., "args": {...}, "context": {...}, '
     '"id": ...} (or one pretty-printed action as the whole input); prints one decision per line, as it is read.'),
    ("explain", ("_core",), "Show which rules were evaluated for each action, which fired and why, and the facts "
     "they saw."),
    ("test", ("_core",), "Run policy unit tests (*_test.yaml): PASS/FAIL/ERROR per case; exit 1 if any did not "
     "pass."),
    ("demo", ("_core",), "Run a scripted agent (no LLM) through the guard and show the timeline of its tool calls: "
     "allowed, blocked, rewritten, a human approval, a loop stop and a budget stop, all traced."),
    ("version", ("_core",), "Print the version."),
    ("heartbeat", ("_alert",), "Run the checks; print HEARTBEAT_OK and exit 0 when nothing needs a person, else at "
     "most five items (most important first) and exit 1."),
    ("digest", ("_alert",), "The morning briefing: runs, cost and tokens per agent, blocks and asks by rule, "
     "approvals, open findings, and what changed."),
    ("backtest", ("_backtest",), "Replay the stored actions of a window through a candidate policy (and the current "
     "one, or the recorded verdicts) with stateful guards in an isolated store, and report what would change: "
     "calls newly blocked / asked / allowed / modified by agent and rule, runs affected, human approvals it would "
     "now block, labelled failures it would have stopped."),
    ("redact", ("_detect",), "Replace secrets and PII with [redacted:kind]."),
    ("scan", ("_detect",), "Scan files for secrets (default) or the given kinds; prints path:line:column and the "
     "kind, never the value."),
    ("diagnose", ("_diagnose",), "Run every detector over the window and print the findings (stored, "
     "deduplicated)."),
    ("label", ("_diagnose",), "Label a run (or one step) as a failure (default) or as fine: evidence for the "
     "diagnosis."),
    ("why", ("_diagnose",), "What happened in this run: the step where it went wrong, why, the evidence and a fix."),
    ("gate", ("_gate",), "Compare a candidate with its baseline on stored runs — labelled failure rate, block and "
     "ask rates, errors, cost per run, latency per step, confidence — each with a one-sided significance test."),
    ("mcp-proxy", ("_integrations",), "Guard an MCP server: sit between an MCP client and the server (a subprocess, "
     "or a URL with --upstream), check every tools/call, redact secrets in results."),
    ("replay", ("_replay",), "Replay agent runs (system/user/action/tool_result events, JSON Lines) through the "
     "engine with every stateful guard; prints one JSON decision per action line, in order."),
    ("serve", ("_serve",), "Run the Railguard server: the guard API (/v1/guard/evaluate), OTLP/HTTP ingest "
     "(/v1/traces), the JSON API, /healthz, /readyz and /openapi.json."),
    ("retention", ("_serve",), "Delete runs (with their spans) that ended, and decisions taken, more than --days "
     "ago."),
    ("policy", ("_core", "_policy_server"), "Validate and inspect policies."),
    ("approvals", ("_approvals",), "List, approve and deny human approval requests."),
    ("killswitch", ("_approvals",), "Stop agents now: globally, per tenant, agent or tool."),
    ("audit", ("_audit",), "Verify and read the hash-chained audit log."),
    ("decisions", ("_decisions",), "The decision log: what was allowed, blocked, asked or rewritten, and why."),
    ("findings", ("_diagnose",), "List findings and set their status."),
    ("hook", ("_integrations",), "Run as a hook inside an agent tool (reads the event on stdin)."),
    ("install", ("_integrations",), "Install Railguard into an agent tool's settings."),
    ("keys", ("_keys",), "Create, list and revoke API keys for `railguard serve`."),
    ("proposals", ("_proposals",), "Policy changes proposed from findings and decisions: review, backtest, accept "
     "or reject."),
    ("rules", ("_rules",), "Rules in plain English: an LLM drafts, the compiler and a backtest check, a person "
     "accepts."),
    ("tools", ("_tools",), "Declare tools: effect and output trust."),
    ("traces", ("_traces",), "List, show and export recorded traces."),
)  # fmt: skip

_BY_NAME = {name: modules for name, modules, _help in COMMANDS}


def known(name: str) -> bool:
    return name in _BY_NAME


def modules_for(commands: Iterable[str]) -> frozenset[str]:
    """The CLI modules that define these top-level commands (every module for an unknown name, so
    that Typer's own "No such command ... Did you mean" sees them all)."""
    wanted = {"_core"}
    for name in commands:
        if name not in _BY_NAME:
            return frozenset(MODULES)
        wanted.update(_BY_NAME[name])
    return frozenset(wanted)


def program_name() -> str:
    """How the user started us, as Click names it: `railguard`, or `python -m railguard.cli`."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "railguard"
    if name in ("__main__.py", "-c", "-m", ""):
        return f"{os.path.basename(sys.executable) or 'python'} -m railguard.cli"
    return name


def render_help(width: int | None = None) -> str:
    """`railguard --help`: usage, the one-line description, options and every command with its
    one-line help (each command's own --help has the rest)."""
    width = width or min(shutil.get_terminal_size().columns, 120)
    pad = max(len(name) for name, _m, _h in COMMANDS) + 2
    lines = [
        f"Usage: {program_name()} [OPTIONS] COMMAND [ARGS]...",
        "",
        f"  {HELP}",
        "",
        "Options:",
        f"  {'--help':{pad}}Show this message and exit.",
        "",
        "Commands:",
    ]
    for name, _modules, text in COMMANDS:
        wrapped = textwrap.wrap(text, max(width - pad - 2, 30)) or [""]
        lines.append(f"  {name:{pad}}{wrapped[0]}")
        lines.extend(f"  {'':{pad}}{more}" for more in wrapped[1:])
    lines.append("")
    lines.append(f"Run '{program_name()} COMMAND --help' for a command's options.")
    return "\n".join(lines) + "\n"


__all__ = ["COMMANDS", "HELP", "MODULES", "known", "modules_for", "program_name", "render_help"]

"""Railguard: a real-time reliability engine for AI agents.

import railguard as rg

engine = rg.Engine.load("policy.yaml")          # or rg.Engine(packs=["coding-agent"])
with rg.run(agent="support", tenant="acme", user="ana"):
    decision = engine.admit(rg.Action("send_money", {"to": iban, "amount": 120}))
    if not decision.allowed:                    # the one admission path; or raise rg.refusal(decision)
        ...

    @engine.guard                               # raises rg.GuardBlocked / rg.ApprovalRequired
    def send_email(to: str, body: str) -> str: ...
"""

import typing as _typing

from railguard._lazy import load_lazy as _load_lazy
from railguard.errors import (
    ApprovalDenied,
    ApprovalRequired,
    ConfigurationError,
    ContractViolation,
    GuardBlocked,
    GuardError,
    PolicyError,
    PolicyTestError,
    RailguardError,
    StoreError,
)

if _typing.TYPE_CHECKING:
    from railguard._decisions import refusal
    from railguard._init import init
    from railguard._scope import run
    from railguard.engine import Engine, EngineStats, Explanation, Facts, RuleTrace, Stop
    from railguard.integrations.generic import GuardedToolkit, ToolOutcome, guarded
    from railguard.model import (
        Action,
        Context,
        Decision,
        Effect,
        Finding,
        Mode,
        RuleHit,
        Severity,
        ToolSpec,
        Trust,
        Verdict,
        current_context,
    )
    from railguard.policy import CompiledPolicy, available_packs, load_policy
    from railguard.remote import RemoteEngine, attach
    from railguard.state import (
        Approvals,
        BudgetRule,
        Budgets,
        KillSwitch,
        LimitRule,
        Limits,
        LoopRules,
        Loops,
        Provenance,
        Saga,
        Unavailable,
        idempotent,
        install_approvals,
        install_cushions,
        install_killswitch,
        install_provenance,
        permitted_tools,
        resilient_call,
    )
    from railguard.store import Store, open_store
    from railguard.trace import (
        RedactionPolicy,
        Tracing,
        configure_tracing,
        model_call,
        record_confidence,
        tool_call,
        trace_engine,
    )

__version__ = "0.1.0"

# Everything but the exceptions loads on first use: `import railguard` costs next to nothing, so a
# short-lived process (`railguard --help`, a hook) pays only for what it touches. The engine, the
# model and the policy compiler load with the first `rg.Engine` / `rg.Action`; the store, tracing
# and the stateful guards only when used.
_LAZY = {
    "Engine": "railguard.engine",
    "EngineStats": "railguard.engine",
    "Explanation": "railguard.engine",
    "Facts": "railguard.engine",
    "RuleTrace": "railguard.engine",
    "Stop": "railguard.engine",
    "refusal": "railguard._decisions",
    "run": "railguard._scope",
    "Action": "railguard.model",
    "Context": "railguard.model",
    "Decision": "railguard.model",
    "Effect": "railguard.model",
    "Finding": "railguard.model",
    "Mode": "railguard.model",
    "RuleHit": "railguard.model",
    "Severity": "railguard.model",
    "ToolSpec": "railguard.model",
    "Trust": "railguard.model",
    "Verdict": "railguard.model",
    "current_context": "railguard.model",
    "CompiledPolicy": "railguard.policy",
    "available_packs": "railguard.policy",
    "load_policy": "railguard.policy",
    "BudgetRule": "railguard.state",
    "Budgets": "railguard.state",
    "LimitRule": "railguard.state",
    "Limits": "railguard.state",
    "LoopRules": "railguard.state",
    "Loops": "railguard.state",
    "Saga": "railguard.state",
    "Unavailable": "railguard.state",
    "idempotent": "railguard.state",
    "resilient_call": "railguard.state",
    "install_cushions": "railguard.state",
    "Provenance": "railguard.state",
    "install_provenance": "railguard.state",
    "Approvals": "railguard.state",
    "KillSwitch": "railguard.state",
    "install_approvals": "railguard.state",
    "install_killswitch": "railguard.state",
    "permitted_tools": "railguard.state",
    "Store": "railguard.store",
    "open_store": "railguard.store",
    "RedactionPolicy": "railguard.trace",
    "Tracing": "railguard.trace",
    "configure_tracing": "railguard.trace",
    "model_call": "railguard.trace",
    "record_confidence": "railguard.trace",
    "tool_call": "railguard.trace",
    "trace_engine": "railguard.trace",
    "GuardedToolkit": "railguard.integrations.generic",
    "ToolOutcome": "railguard.integrations.generic",
    "guarded": "railguard.integrations.generic",
    "init": "railguard._init",
    "RemoteEngine": "railguard.remote",
    "attach": "railguard.remote",
}


def __getattr__(name: str) -> _typing.Any:
    return _load_lazy(globals(), _LAZY, __name__, name)


__all__ = [
    "Action",
    "ApprovalDenied",
    "ApprovalRequired",
    "Approvals",
    "BudgetRule",
    "Budgets",
    "CompiledPolicy",
    "ConfigurationError",
    "Context",
    "ContractViolation",
    "Decision",
    "Effect",
    "Engine",
    "EngineStats",
    "Explanation",
    "Facts",
    "Finding",
    "GuardBlocked",
    "GuardError",
    "GuardedToolkit",
    "KillSwitch",
    "LimitRule",
    "Limits",
    "LoopRules",
    "Loops",
    "Mode",
    "PolicyError",
    "PolicyTestError",
    "Provenance",
    "RailguardError",
    "RedactionPolicy",
    "RemoteEngine",
    "RuleHit",
    "RuleTrace",
    "Saga",
    "Severity",
    "Stop",
    "Store",
    "StoreError",
    "ToolOutcome",
    "ToolSpec",
    "Tracing",
    "Trust",
    "Unavailable",
    "Verdict",
    "__version__",
    "attach",
    "available_packs",
    "configure_tracing",
    "current_context",
    "guarded",
    "idempotent",
    "init",
    "install_approvals",
    "install_cushions",
    "install_killswitch",
    "install_provenance",
    "load_policy",
    "model_call",
    "open_store",
    "permitted_tools",
    "record_confidence",
    "refusal",
    "resilient_call",
    "run",
    "tool_call",
    "trace_engine",
]

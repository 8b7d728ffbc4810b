"""Railguard: a real-time reliability engine for AI agents.

    import railguard as rg

    engine = rg.Engine.load("policy.yaml")          # or rg.Engine(packs=["coding-agent"])
    with rg.run(agent="support", tenant="acme", user="ana"):
        decision = engine.check(rg.Action("send_money", {"to": iban, "amount": 120}))

        @engine.guard                               # raises rg.GuardBlocked / rg.ApprovalRequired
        def send_email(to: str, body: str) -> str: ...
"""

from railguard._scope import run
from railguard.engine import Engine, EngineStats, Explanation, Facts, RuleTrace
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

__version__ = "0.1.0"

__all__ = [
    "Action",
    "ApprovalDenied",
    "ApprovalRequired",
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
    "Mode",
    "PolicyError",
    "PolicyTestError",
    "RailguardError",
    "RuleHit",
    "RuleTrace",
    "Severity",
    "StoreError",
    "ToolSpec",
    "Trust",
    "Verdict",
    "__version__",
    "available_packs",
    "current_context",
    "load_policy",
    "run",
]

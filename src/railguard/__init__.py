"""Railguard: a real-time reliability engine for AI agents."""

from railguard.errors import (
    ApprovalDenied,
    ApprovalRequired,
    ConfigurationError,
    ContractViolation,
    GuardBlocked,
    GuardError,
    PolicyError,
    RailguardError,
    StoreError,
)
from railguard.model import Action, Context, Decision, Effect, Finding, Mode, RuleHit, Severity, ToolSpec, Trust, Verdict

__version__ = "0.1.0"

__all__ = [
    "Action",
    "ApprovalDenied",
    "ApprovalRequired",
    "ConfigurationError",
    "Context",
    "ContractViolation",
    "Decision",
    "Effect",
    "Finding",
    "GuardBlocked",
    "GuardError",
    "Mode",
    "PolicyError",
    "RailguardError",
    "RuleHit",
    "Severity",
    "StoreError",
    "ToolSpec",
    "Trust",
    "Verdict",
    "__version__",
]

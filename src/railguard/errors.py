"""The exception tree. Every error says what was wrong, where, and how to fix it.

RailguardError
├── PolicyError                 a policy file is invalid (file, line, key, fix)
│   └── PolicyTestError         a *_test.yaml file is invalid
├── GuardError                  raised at a guarded call; carries the Decision
│   ├── GuardBlocked            the verdict was block
│   └── ApprovalRequired        the verdict was ask; carries the approval request id
│       └── ApprovalDenied      a human denied it, or it expired
├── ContractViolation           a tool's output or an agent step's result broke its contract
├── StoreError                  the store could not be reached or migrated
│   └── UnstorableData          the store refused the data itself: retrying it cannot succeed
└── ConfigurationError          an engine, store or integration was set up wrongly
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from railguard.model import Action, Decision


class RailguardError(Exception):
    """Base of every error Railguard raises."""


class ConfigurationError(RailguardError):
    """Railguard was set up wrongly (bad argument to a constructor, missing extra)."""


class PolicyError(RailguardError):
    """A policy could not be loaded. `file`, `line`, `key` locate the problem; `fix` says what to do."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        self.fix = fix
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.file or "<policy>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: {self.message}"
        if self.key:
            text += f" (at key '{self.key}')"
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class PolicyTestError(PolicyError):
    """A policy unit-test file (`*_test.yaml`) is malformed."""


class GuardError(RailguardError):
    """Raised in place of running a guarded call. The message is written for the model to read."""

    def __init__(self, decision: Decision, action: Action | None = None) -> None:
        self.decision = decision
        self.action = action
        super().__init__(self.model_message())

    def model_message(self) -> str:
        d = self.decision
        rules = f" [rules: {', '.join(d.rules)}]" if d.rules else ""
        return f"Railguard {d.verdict.value}ed the call to '{d.tool}': {d.reason}{rules}"


class GuardBlocked(GuardError):
    """The engine blocked the call. Do not retry it unchanged."""

    def model_message(self) -> str:
        d = self.decision
        rules = f" [rules: {', '.join(d.rules)}]" if d.rules else ""
        return (
            f"Railguard blocked the call to '{d.tool}': {d.reason}{rules}. "
            "Do not retry this call unchanged; choose a different approach or ask the user."
        )


class ApprovalRequired(GuardError):
    """The call needs a human's approval first. `approval_id` names the pending request."""

    def __init__(
        self, decision: Decision, action: Action | None = None, approval_id: str | None = None
    ) -> None:
        self.approval_id = approval_id or decision.approval_id
        super().__init__(decision, action)

    def model_message(self) -> str:
        d = self.decision
        ref = f" (approval request {self.approval_id})" if self.approval_id else ""
        return (
            f"The call to '{d.tool}' needs a human's approval{ref}: {d.reason}. "
            "Wait for the approval or continue with other work."
        )


class ApprovalDenied(ApprovalRequired):
    """A human denied the call, or its approval request expired."""

    def model_message(self) -> str:
        d = self.decision
        return f"A human denied the call to '{d.tool}': {d.reason}. Do not retry it unchanged."


class ContractViolation(RailguardError):
    """A tool's output (or an agent step's structured result) did not match its declared contract."""

    def __init__(self, subject: str, errors: list[str], value_type: str = "", decision: Any = None) -> None:
        self.subject = subject
        self.errors = errors
        self.decision = decision
        joined = "; ".join(errors)
        super().__init__(
            f"the output of '{subject}' broke its contract{f' ({value_type})' if value_type else ''}: {joined}"
        )


class StoreError(RailguardError):
    """The store failed (unreachable, migration mismatch). The message never contains credentials."""


class UnstorableData(StoreError):
    """The database refused the values themselves (not the connection): the same data sent again
    fails again, so a sender must not retry it."""

"""The exception tree: every public exception Railguard raises lives here. Each says what was wrong,
where, and how to fix it.

RailguardError
├── ConfigurationError          an engine, store or integration was set up wrongly
│   ├── KeyNotFound             no API key with that id in the caller's tenant
│   ├── RevisionNotFound        no such policy revision in the caller's tenant
│   └── ProposalError           no such proposal in the caller's tenant, or a step its status forbids
├── PolicyError                 a policy file is invalid (file, line, key, fix)
│   └── PolicyTestError         a *_test.yaml file is invalid
├── GuardError                  raised in place of a guarded call; carries the Decision
│   ├── GuardBlocked            the verdict was block
│   ├── ApprovalRequired        the verdict was ask; carries the pending approval request id
│   └── ApprovalDenied          a human denied the call, or its request expired (not a pending one)
├── ContractViolation           a tool's output or an agent step's result broke its contract
├── StoreError                  the store could not be reached or migrated
│   └── UnstorableData          the store refused the data itself: retrying it cannot succeed
├── ApprovalNotFound            no approval request has that id
├── ApprovalNotPending          the approval request was already decided or expired
├── IdempotencyError            an idempotent call could not produce a result
│   ├── IdempotentCallFailed    the in-flight call a duplicate waited for failed
│   ├── IdempotencyTimeout      a duplicate waited too long for the in-flight call
│   └── IdempotencyLeaseLost    a call ran past its lease and was replaced: its result is not recorded
├── Unavailable                 every target of a resilient call failed or was switched off
├── CircuitOpen                 a circuit breaker refused the call
├── NotifyError                 a notification (webhook, Slack, e-mail) could not be delivered after retries
├── DraftError                  no rule was drafted: no LLM configured, or the model was unreachable
└── RollbackError               some undos of a saga failed

Exception
└── Stop                        a pipeline step's signal to end the chain (control flow, not a failure)

TimeoutError
└── AttemptTimeout              one attempt of a resilient call timed out (retried like any timeout,
                                so deliberately not a RailguardError: resilient calls give up on those)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from railguard.model import Action, Decision, RuleHit
    from railguard.state._approvals_repo import Approval
    from railguard.state.rollback import RollbackReport


class RailguardError(Exception):
    """Base of every error Railguard raises."""


class ConfigurationError(RailguardError):
    """Railguard was set up wrongly (bad argument to a constructor, missing extra)."""


class KeyNotFound(ConfigurationError):
    """No key with that id in the caller's tenant."""


class ProposalError(ConfigurationError):
    """An unknown proposal (or another tenant's), or a step its status does not allow."""


class RevisionNotFound(ConfigurationError):
    """No such revision in the caller's tenant (or nothing to roll back to)."""


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


class _ApprovalError(GuardError):
    """Carries `approval_id`, the approval request the call waits for or was refused by."""

    def __init__(
        self, decision: Decision, action: Action | None = None, approval_id: str | None = None
    ) -> None:
        self.approval_id = approval_id or decision.approval_id
        super().__init__(decision, action)


class ApprovalRequired(_ApprovalError):
    """The call needs a human's approval first. `approval_id` names the pending request."""

    def model_message(self) -> str:
        d = self.decision
        ref = f" (approval request {self.approval_id})" if self.approval_id else ""
        return (
            f"The call to '{d.tool}' needs a human's approval{ref}: {d.reason}. "
            "Wait for the approval or continue with other work."
        )


class ApprovalDenied(_ApprovalError):
    """A human denied the call, or its approval request expired. `approval_id` names the request."""

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


class ApprovalNotFound(RailguardError):
    """No approval request has that id (or id prefix)."""


class ApprovalNotPending(RailguardError):
    """The request was already decided or has expired; `approval` shows its final state."""

    def __init__(self, approval: Approval) -> None:
        self.approval = approval
        by = f" by {approval.decided_by}" if approval.decided_by else ""
        super().__init__(f"approval request {approval.id} is already {approval.status}{by}")


class IdempotencyError(RailguardError):
    """An idempotent call could not produce a result."""


class IdempotentCallFailed(IdempotencyError):
    """The in-flight call this duplicate waited for failed; calling again will execute again."""


class IdempotencyTimeout(IdempotencyError):
    """A duplicate waited longer than `wait_s` for the in-flight call to finish."""


class IdempotencyLeaseLost(IdempotencyError):
    """This call ran past its lease and another caller took the key over: its result was not
    recorded (the call that replaced it is the one whose result counts)."""


class Unavailable(RailguardError):
    """Every target failed or was switched off by its circuit breaker. `failures` lists (target,
    error type) per attempt; `exceptions` keeps the last exception of each target."""

    def __init__(
        self, summary: str, failures: list[tuple[str, str]], exceptions: list[BaseException]
    ) -> None:
        self.failures = failures
        self.exceptions = exceptions
        super().__init__(f"can't do that right now: {summary}; try again later")


class NotifyError(RailguardError):
    """A notification could not be delivered (after retries); the message never holds a secret."""


class DraftError(RailguardError):
    """Nothing was drafted (`railguard rules draft`): `usage` when the caller must change something
    (no LLM configured, an empty request); otherwise the model's provider could not be reached."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


class CircuitOpen(RailguardError):
    """A breaker refused the call; `retry_in_s` is how long until it lets a probe through."""

    def __init__(self, name: str, retry_in_s: float) -> None:
        self.name = name
        self.retry_in_s = retry_in_s
        super().__init__(f"{name}: circuit open (next probe in {retry_in_s:.0f} s)")


class AttemptTimeout(TimeoutError):
    """One attempt took longer than `timeout_s`."""


class RollbackError(RailguardError):
    """Some undos failed. `failures` lists them; `report` has the whole outcome. Call `rollback`
    again (after fixing the cause) to retry just those."""

    def __init__(self, run_id: str, report: RollbackReport) -> None:
        self.run_id = run_id
        self.report = report
        self.failures = report.failed
        listed = "; ".join(f"{f.undo} (step {f.step}): {f.error_type}" for f in report.failed)
        total = len(report.failed) + len(report.undone)
        super().__init__(
            f"rollback of run {run_id!r}: {len(report.failed)} of {total} undo(s) failed: {listed}. "
            "Fix the cause and call rollback again; undone steps are not repeated"
        )


class Stop(Exception):
    """Returned or raised by a step to end the chain: its hits are added and no later step runs."""

    def __init__(self, *hits: RuleHit) -> None:
        super().__init__(*(h.rule for h in hits))
        self.hits = hits

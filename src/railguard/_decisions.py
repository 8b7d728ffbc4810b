"""Decisions from hits: the pure assembly at the end of the pipeline, the one factory for decisions
made outside it, and the exception that refuses a call a decision does not let run.

Assembly is a pure function of its inputs (no clock, no policy, no I/O), so the same hits give the
same decision wherever they were collected.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from railguard.errors import ApprovalDenied, ApprovalRequired, GuardBlocked, GuardError
from railguard.model import Action, Context, Decision, Mode, RuleHit, Severity, Verdict

__all__ = ["DENIAL_RULES", "assemble", "enforced_verdict", "outside_decision", "refusal"]

# A human's "no" to this call (or its request running out): refused as ApprovalDenied.
DENIAL_RULES = frozenset({"approval/denied", "approval/expired"})


def _covered(hit: RuleHit, approval_id: str | None, approved_rules: Collection[str] | None) -> bool:
    """An ask that a human's approval answers (an error asking for review never is)."""
    return (
        hit.verdict is Verdict.ASK
        and approval_id is not None
        and hit.source != "error"
        and (approved_rules is None or hit.rule in approved_rules)
    )


def _severity_rank(severity: Severity) -> int:
    return severity.rank


def enforced_verdict(
    hits: Sequence[RuleHit], approval_id: str | None = None, approved_rules: Collection[str] | None = None
) -> Verdict:
    """The strictest verdict of the enforce-mode hits, asks covered by the approval left out."""
    verdict = Verdict.ALLOW
    for hit in hits:
        if (
            hit.mode is Mode.ENFORCE
            and hit.verdict.rank > verdict.rank
            and not _covered(hit, approval_id, approved_rules)
        ):
            verdict = hit.verdict
    return verdict


def assemble(
    action: Action,
    hits: Sequence[RuleHit],
    *,
    decision_id: str,
    mode: Mode,
    policy_revision: str,
    latency_us: float,
    timestamp: float,
    approval_id: str | None = None,
    approved_rules: Collection[str] | None = None,
    args: Mapping[str, Any] | None = None,
    error: str | None = None,
    store_us: float = 0.0,
) -> Decision:
    """The decision the hits make: the strictest enforce-mode verdict wins (block > ask > modify >
    allow), an approval answers the asks it covers, and audit-mode hits only set `would_verdict`."""
    verdict = would = Verdict.ALLOW
    approved = False
    for hit in hits:  # one pass: this runs on every check
        rank = hit.verdict.rank
        if rank > would.rank:
            would = hit.verdict
        if hit.mode is Mode.ENFORCE and rank > verdict.rank:
            if _covered(hit, approval_id, approved_rules):
                approved = True
            else:
                verdict = hit.verdict
        if error is None and hit.source == "error":
            error = hit.message
    if verdict is Verdict.MODIFY and args is None:
        # The rewrite could not be made: the failure's verdict (the policy's on_error) decides.
        verdict = next(
            (h.verdict for h in hits if h.source == "error" and h.mode is Mode.ENFORCE), Verdict.BLOCK
        )
    reason = "no rule matched"
    severity = Severity.INFO
    if hits:
        shown = verdict if verdict is not Verdict.ALLOW else would
        relevant = [h for h in hits if h.verdict is shown]
        severity = max((h.severity for h in relevant), key=_severity_rank, default=Severity.INFO)
        reason = "; ".join(dict.fromkeys(h.message for h in relevant)) or reason
        if approved and verdict is not would:
            reason = f"approved by a human (request {approval_id}): {reason}"
        elif verdict.rank < would.rank:
            reason = f"audit mode, would {would.value}: {reason}"
    return Decision(
        verdict=verdict,
        reason=reason,
        decision_id=decision_id,
        tool=action.tool,
        hits=tuple(hits),
        severity=severity,
        mode=mode,
        would_verdict=would,
        policy_revision=policy_revision,
        latency_us=latency_us,
        args=args if verdict is Verdict.MODIFY else None,
        error=error,
        context=action.context,
        call_id=action.call_id,
        store_us=store_us,
        timestamp=timestamp,
        approval_id=approval_id,
        action_args=action.args,
    )


def outside_decision(
    hit: RuleHit,
    *,
    tool: str,
    decision_id: str,
    timestamp: float,
    context: Context | None = None,
    call_id: str | None = None,
    reason: str | None = None,
    earlier: Sequence[RuleHit] = (),
    policy_revision: str = "",
    approval_id: str | None = None,
) -> Decision:
    """A decision made outside the pipeline — a human's answer to an approval request, an output
    that broke its contract, arguments nobody could read, a charge refused on admission. One
    enforce-mode hit decides it; `earlier` keeps the hits of the decision it answers."""
    return Decision(
        verdict=hit.verdict,
        reason=reason or hit.message,
        decision_id=decision_id,
        tool=tool,
        hits=(*earlier, hit),
        severity=hit.severity,
        mode=Mode.ENFORCE,
        would_verdict=hit.verdict,
        policy_revision=policy_revision,
        context=context or Context(),
        call_id=call_id,
        timestamp=timestamp,
        approval_id=approval_id,
    )


def refusal(decision: Decision, action: Action | None = None) -> GuardError | None:
    """The exception that stops a call `decision` does not let run (None when it may run): a human's
    denial -> ApprovalDenied, any other block -> GuardBlocked, ask -> ApprovalRequired."""
    if decision.allowed:
        return None
    if decision.verdict is Verdict.ASK:
        return ApprovalRequired(decision, action, decision.approval_id)
    if any(h.rule in DENIAL_RULES and h.mode is Mode.ENFORCE for h in decision.hits):
        return ApprovalDenied(decision, action, decision.approval_id)
    return GuardBlocked(decision, action)

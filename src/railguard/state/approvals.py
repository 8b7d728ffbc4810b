"""Human approval for `ask` verdicts: durable requests in the store, a lookup step, waiting or resuming.

    approvals = install_approvals(engine, store, wait=30.0)   # handler + "approval" stage step
    # a guarded call that gets `ask` now blocks up to 30 s for a human (`railguard approvals approve ID`),
    # or raises ApprovalRequired(approval_id); a retry of the same call later finds the approval.

An approval covers exactly the call it was asked for (tenant, tool, sha256 of the canonical arguments,
session) unless the asking rule says `approval: {scope: session | tool, ttl, match}`. A denial blocks
retries of that exact call while it is in force; an expired request counts as denied for the waiter.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from railguard._decisions import outside_decision
from railguard._internal import internal_error
from railguard.errors import ApprovalDenied, ApprovalRequired, GuardBlocked
from railguard.model import Action, Decision, Mode, RuleHit, Severity, Verdict
from railguard.policy._cel import Condition, compile_condition
from railguard.policy._evaluate import cel_context
from railguard.policy._schema import APPROVAL_SCOPES
from railguard.state import _approvals_repo as repo
from railguard.state._approvals_repo import (
    APPROVED,
    DENIED,
    EXPIRED,
    PENDING,
    Approval,
    ApprovalNotFound,
    ApprovalNotPending,
)
from railguard.store import Store

if TYPE_CHECKING:
    from railguard.engine import Engine, Facts

__all__ = [
    "Approval",
    "ApprovalNotFound",
    "ApprovalNotPending",
    "ApprovalNotifier",
    "Approvals",
    "install_approvals",
]

_POLL_FIRST_S = 0.05
_POLL_MAX_S = 1.0


class ApprovalNotifier(Protocol):
    """Tells humans a request is waiting. Must return at once (send off the agent's thread)."""

    def notify(self, approval: Approval) -> None: ...


class Approvals:
    """The engine's approval handler (`request` / `arequest`) and the store-backed approval API.

    `default_ttl_s` is how long a human has to answer a request, and how long an approval (or a
    denial) stays in force once given unless the asking rule sets its own `ttl`.
    """

    def __init__(
        self,
        store: Store,
        *,
        notifier: ApprovalNotifier | None = None,
        default_ttl_s: float = 3600.0,
        wait_s: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        store.migrate()  # our tables' migrations register on import, possibly after the store opened
        self.store = store
        self.notifier = notifier
        self.default_ttl_s = default_ttl_s
        self.wait_s = wait_s
        self.engine: Engine | None = None
        self._clock = clock
        self._matches: dict[str, Condition] = {}
        self._matches_lock = threading.Lock()
        self.notify_errors = 0

    # -- the handler protocol --------------------------------------------------------------------

    def request(self, action: Action, decision: Decision) -> Decision:
        """File (or find) the request for this call, then wait up to `wait_s` for a human. Returns the
        human's approval (an allowing decision naming it) once approved; raises ApprovalRequired
        (still pending) or ApprovalDenied (denied or expired). The engine's `admit` then checks the
        call again, under the approval, before it may run."""
        if decision.verdict is not Verdict.ASK:
            return _not_asked(action, decision)
        approval = self.submit(action, decision)
        deadline = time.monotonic() + self.wait_s
        delay = _POLL_FIRST_S
        while approval.status == PENDING and time.monotonic() < deadline:
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.5, _POLL_MAX_S)
            approval = self._current(approval.id)
        return self._outcome(action, decision, approval)

    async def arequest(self, action: Action, decision: Decision) -> Decision:
        """`request` for async agents: the store calls run in a worker thread, the wait never blocks
        the event loop."""
        if decision.verdict is not Verdict.ASK:
            return _not_asked(action, decision)
        approval = await asyncio.to_thread(self.submit, action, decision)
        deadline = time.monotonic() + self.wait_s
        delay = _POLL_FIRST_S
        while approval.status == PENDING and time.monotonic() < deadline:
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.5, _POLL_MAX_S)
            approval = await asyncio.to_thread(self._current, approval.id)
        return await asyncio.to_thread(self._outcome, action, decision, approval)

    # -- the API behind the CLI and the server ---------------------------------------------------

    def submit(self, action: Action, decision: Decision) -> Approval:
        """The pending request for this call, created (and humans notified) if there is none."""
        from railguard.detect.redact import redact_value

        scope, match = self._scope_for(decision)
        ctx = action.context
        if scope == "session" and not ctx.session:
            scope, match = "call", None  # no session to scope to: the narrowest grant is the safe one
        now = self._clock()
        shown, _ = redact_value(dict(action.args))
        draft = Approval(
            id=repo.new_id(),
            tenant=ctx.tenant or "",
            tool=action.tool,
            args_digest=action.args_digest(),
            args_redacted=shown,
            reason=decision.reason,
            rules=tuple(h.rule for h in _asking(decision.hits)),
            scope=scope,
            status=PENDING,
            created_at=now,
            expires_at=now + self.default_ttl_s,
            decision_id=decision.decision_id,
            grant_ttl_s=self._ttl_for(decision),
            context=ctx,
            match=match,
        )
        approval, created = repo.create_or_reuse(self.store, draft)
        if created and self.notifier is not None:
            try:
                self.notifier.notify(approval)
            except Exception as err:  # a notifier must never break the agent
                self.notify_errors += 1
                internal_error("approvals.notify", err, expected=True)  # a webhook or mail server is down
        return approval

    def approve(
        self, approval_id: str, *, by: str, note: str | None = None, tenant: str | None = None
    ) -> Approval:
        """`tenant`: decide only a request of that tenant (None: any; for callers of every tenant)."""
        return self._decide(approval_id, APPROVED, by, note, tenant)

    def deny(
        self, approval_id: str, *, by: str, note: str | None = None, tenant: str | None = None
    ) -> Approval:
        return self._decide(approval_id, DENIED, by, note, tenant)

    def get(self, approval_id: str, *, tenant: str | None = None) -> Approval:
        return repo.get(self.store, approval_id, tenant=tenant)

    def list_requests(
        self, *, status: str | None = None, tenant: str | None = None, limit: int = 100
    ) -> list[Approval]:
        repo.expire_due(self.store, self._clock())
        return repo.list_requests(self.store, status=status, tenant=tenant, limit=limit)

    def expire_due(self) -> list[Approval]:
        """Expire overdue requests and record each as a denial by "railguard/expiry"."""
        expired = repo.expire_due(self.store, self._clock())
        self._record(expired)
        return expired

    def _decide(
        self, approval_id: str, status: str, by: str, note: str | None, tenant: str | None
    ) -> Approval:
        found = repo.get(self.store, approval_id, tenant=tenant)  # also resolves an id prefix
        approval = repo.decide(
            self.store, found.id, status, by=by, note=note, now=self._clock(), tenant=tenant
        )
        self._record([approval])
        return approval

    def _record(self, decided: Iterable[Approval]) -> None:
        from railguard.trace._decision_log import DecisionLog  # the one decision-log writer

        DecisionLog(self.store.write_decisions).write(_decision_of(a) for a in decided)

    # -- policy ----------------------------------------------------------------------------------

    def _scope_for(self, decision: Decision) -> tuple[str, str | None]:
        """The narrowest scope, and all `match` patterns, of the rules that asked."""
        scope_rank, matches = len(APPROVAL_SCOPES) - 1, []
        specs = []
        policy = self.engine.policy if self.engine is not None else None
        for hit in _asking(decision.hits):
            rule = policy.rule(hit.rule) if policy is not None else None
            specs.append(rule.spec.approval if rule is not None else None)
        if not specs or any(s is None for s in specs):
            return "call", None
        for spec in specs:
            assert spec is not None
            scope_rank = min(scope_rank, APPROVAL_SCOPES.index(spec.scope))
            if spec.match:
                matches.append(f"({spec.match})")
        scope = APPROVAL_SCOPES[scope_rank]
        return scope, (" && ".join(matches) or None) if scope != "call" else None

    def _ttl_for(self, decision: Decision) -> float:
        """The shortest `approval.ttl` of the rules that asked, else the default."""
        policy = self.engine.policy if self.engine is not None else None
        ttls = []
        for hit in _asking(decision.hits):
            rule = policy.rule(hit.rule) if policy is not None else None
            if rule is not None and rule.spec.approval is not None and rule.spec.approval.ttl_s:
                ttls.append(rule.spec.approval.ttl_s)
        return min(ttls, default=self.default_ttl_s)

    # -- waiting ---------------------------------------------------------------------------------

    def _current(self, approval_id: str) -> Approval:
        approval = repo.get(self.store, approval_id)
        if approval.status == PENDING and approval.expires_at <= self._clock():
            self._record(repo.expire_due(self.store, self._clock()))
            approval = repo.get(self.store, approval_id)
        return approval

    def _outcome(self, action: Action, decision: Decision, approval: Approval) -> Decision:
        if approval.status in (DENIED, EXPIRED):
            raise ApprovalDenied(_decision_of(approval, decision), action, approval.id)
        if approval.status == PENDING:
            raise ApprovalRequired(replace(decision, approval_id=approval.id), action, approval.id)
        return _decision_of(approval, decision)

    # -- the engine step -------------------------------------------------------------------------

    def step(self, action: Action, facts: Facts) -> RuleHit | None:
        """Stage "approval": an approval in force for this call turns its `ask` into allow; a denial
        of exactly this call blocks the retry. Reads the store only when the verdict so far is ask."""
        if facts.provisional is not Verdict.ASK:
            return None
        asked = {h.rule for h in _asking(facts.hits)}
        ctx = action.context
        session = ctx.session or ""
        found = repo.decided_for(
            self.store,
            tenant=ctx.tenant or "",
            tool=action.tool,
            session=session,
            digest=action.args_digest(),
            now=self._clock(),
        )
        for approval in found:
            if approval.status == DENIED and approval.scope == "call":
                return RuleHit(
                    "approval/denied",
                    Verdict.BLOCK,
                    f"a human ({approval.decided_by}) denied this exact call (request {approval.id})",
                    Severity.HIGH,
                    Mode.ENFORCE,
                    "approval",
                )
        for approval in found:
            if (
                approval.status == APPROVED
                and asked <= set(approval.rules)
                and self._matches_args(approval, facts)
            ):
                facts.approval_id = approval.id
                return None
        return None

    def _matches_args(self, approval: Approval, facts: Facts) -> bool:
        if approval.scope == "call" or not approval.match:
            return True
        condition = self._compiled_match(approval.match, facts)
        action = facts.action
        cel_ctx = cel_context(action, facts)  # this action's facts, should the pattern read them
        cel_ctx.update({"args": dict(action.args), "tool": action.tool, "ctx": action.context.to_dict()})
        try:
            return condition.evaluate(cel_ctx) is True
        except Exception:
            return False  # a pattern that cannot be evaluated on these arguments does not cover them

    def _compiled_match(self, text: str, facts: Facts) -> Condition:
        condition = self._matches.get(text)
        if condition is None:
            policy = facts.policy
            condition = compile_condition(
                text,
                macros=policy.macros,
                known_variables=policy.known_variables,
                file=None,
                line=None,
                key="approval.match",
            )
            with self._matches_lock:
                if len(self._matches) > 1024:
                    self._matches.clear()
                self._matches[text] = condition
        return condition


def install_approvals(
    engine: Engine,
    store: Store,
    *,
    wait: float = 0.0,
    notifier: ApprovalNotifier | None = None,
    default_ttl_s: float = 3600.0,
) -> Approvals:
    """Make `engine` ask humans through the store: sets `engine.approval_handler` and adds the
    "approval" stage step. `wait` is how long a guarded call blocks for a decision (0: raise
    ApprovalRequired at once and let the agent retry later)."""
    approvals = Approvals(store, notifier=notifier, default_ttl_s=default_ttl_s, wait_s=wait)
    approvals.engine = engine
    _check_matches(engine)
    # Open a pooled connection now: the lookup runs inside the engine's deadline, and a cold
    # PostgreSQL connection alone can take tens of milliseconds.
    repo.decided_for(store, tenant="", tool="", session="", digest="", now=0.0)
    engine.approval_handler = approvals
    engine.add_step(approvals.step, stage="approval", name="approvals", needs_store=_asking_so_far)
    return approvals


def _asking_so_far(_action: Action, facts: Facts) -> bool:
    """The approval step reads the store only for a call the rules so far answer with ask."""
    return facts.provisional is Verdict.ASK


def _check_matches(engine: Engine) -> None:
    """Compile every rule's `approval.match` now, so a typo fails at install, with file and line."""
    policy = engine.policy
    for rule in policy.rules:
        spec = rule.spec.approval
        if spec is not None and spec.match:
            compile_condition(
                spec.match,
                macros=policy.macros,
                known_variables=policy.known_variables,
                file=rule.spec.loc.file,
                line=spec.line,
                key="approval.match",
            )


def _not_asked(action: Action, decision: Decision) -> Decision:
    """A decision that needs no human: a block stays a block, anything else passes through."""
    if decision.verdict is Verdict.BLOCK:
        raise GuardBlocked(decision, action)
    return decision


def _asking(hits: Iterable[RuleHit]) -> list[RuleHit]:
    return [h for h in hits if h.verdict is Verdict.ASK and h.mode is Mode.ENFORCE and h.source != "error"]


def _decision_of(approval: Approval, asked: Decision | None = None) -> Decision:
    """The decision record of a human's answer (or of an expiry), for the decision log."""
    allowed = approval.status == APPROVED
    who = approval.decided_by or "unknown"
    text = {
        APPROVED: f"approved by {who}",
        DENIED: f"denied by {who}",
        EXPIRED: "the approval request expired",
    }
    reason = text.get(approval.status, approval.status) + (f": {approval.note}" if approval.note else "")
    hit = RuleHit(
        f"approval/{approval.status}",
        Verdict.ALLOW if allowed else Verdict.BLOCK,
        reason,
        Severity.INFO if allowed else Severity.HIGH,
        Mode.ENFORCE,
        "approval",
    )
    return outside_decision(
        hit,
        tool=approval.tool,
        decision_id=f"approval:{approval.id}",
        timestamp=approval.decided_at or time.time(),
        context=approval.context,
        earlier=asked.hits if asked is not None else (),
        approval_id=approval.id,
    )

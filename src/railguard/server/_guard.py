"""The guard API's work, off the event loop: parse a `railguard check` input line with the same
`Action.from_dict` the CLI uses, check it with the tenant's engine, answer the `check --json` line
(`Decision.to_json_line`).

- The tenant is the key's: a `context.tenant` naming another one is refused (403).
- An `ask` files the approval request (its id is in the answer); the agent waits on
  `/v1/approvals/{id}/wait`, then evaluates the same call again and gets the human's decision.
- Idempotent on decision_id for calls with an `id`: a retry returns the first answer (asks excepted,
  so the retry after an approval sees it). The lookup and the store of those answers are grouped
  across concurrent calls, one transaction per group (_group_commit.py); the answer is sent only
  once it is stored.
- Every decision is recorded (redacted) in the store by a background writer: the answer never
  waits on recording it.
- A check that needs no store (no call id to look up, no budgets/limits/loops, no provenance, not
  an ask) runs on the event loop: it is CPU work of tens of microseconds, and handing it to a
  thread costs more than that and makes threads fight over the GIL. Anything that waits on the
  store runs in a bounded thread pool. Past the client's deadline the answer is the policy's
  `on_error`, said so in the reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from railguard.model import Action, Decision, RuleHit, Severity, Verdict
from railguard.server._auth import AuthError, Principal
from railguard.server._engines import TenantEngine, TenantEngines
from railguard.server._group_commit import GroupCommits
from railguard.state import KillSwitch
from railguard.store import BatchWriter, GuardAnswers
from railguard.trace._decision_log import DecisionLog

MAX_BATCH = 1000
_YIELD_EVERY = 8  # actions of a batch decided between two turns of the event loop
T = TypeVar("T")


class BadAction(ValueError):
    """The body is not a valid action (400, with the same message `railguard check` prints)."""


class GuardService:
    def __init__(self, engines: TenantEngines, writer: BatchWriter, *, threads: int = 8) -> None:
        self.engines = engines
        self.writer = writer
        self.decision_log = DecisionLog(writer.submit_decisions)
        self.answers = GuardAnswers(engines.store)
        self.commits = GroupCommits(self.answers)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="railguard-guard")
        self._slots = asyncio.BoundedSemaphore(threads * 64)  # queued checks beyond this wait their turn

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.commits.close()

    # -- async entry points (the routes) ---------------------------------------------------------

    async def evaluate(self, principal: Principal, body: Any, deadline_ms: float | None) -> dict[str, Any]:
        action = self.action_for(principal, body)
        answer: dict[str, Any] = await self._within(
            self._adecide(action), deadline_ms, lambda: self._late(action, deadline_ms)
        )
        return answer

    async def evaluate_batch(
        self, principal: Principal, bodies: list[Any], deadline_ms: float | None
    ) -> list[Any]:
        if len(bodies) > MAX_BATCH:
            raise BadAction(f"at most {MAX_BATCH} actions per batch (got {len(bodies)}); split the batch")
        parsed: list[Action | dict[str, Any]] = []
        for index, body in enumerate(bodies):
            try:
                parsed.append(self.action_for(principal, body))
            except BadAction as err:
                parsed.append({"index": index, "error": str(err)})
        actions = [a for a in parsed if isinstance(a, Action)]

        async def run_all() -> list[dict[str, Any]]:
            answers = []
            for n, action in enumerate(actions, 1):
                answers.append(await self._adecide(action))
                if n % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # a long batch lets other requests in between
            return answers

        decided = iter(
            await self._within(run_all(), deadline_ms, lambda: [self._late(a, deadline_ms) for a in actions])
        )
        return [next(decided) if isinstance(item, Action) else item for item in parsed]

    async def observe(self, principal: Principal, body: Any) -> dict[str, Any]:
        if not isinstance(body, Mapping) or not isinstance(body.get("tool"), str) or "content" not in body:
            raise BadAction(
                "observe needs a JSON object {run, id, tool, content}: 'tool' (string) and 'content'"
            )
        context = {"run": body.get("run"), "tenant": principal.tenant_for(None)}
        action = self.action_for(principal, {"tool": body["tool"], "id": body.get("id"), "context": context})
        tenant_engine = self.engines.get(action.context.tenant or "")

        def record() -> None:
            if tenant_engine.provenance is None:
                self.answers.mark_observer(action.context.tenant or "")
                tenant_engine.observe_outputs(self.engines.store)
            tenant_engine.engine.check_output(action.tool, body["content"], action=action)

        await asyncio.get_running_loop().run_in_executor(self.pool, record)
        return {"observed": True, "tool": action.tool, "run": action.context.run, "id": action.call_id}

    async def usage(self, principal: Principal, body: Any) -> dict[str, Any]:
        """What a model call of a run spent, after it ran: charged to the tenant policy's budgets."""
        from railguard.state.budgets import usage_from

        if not isinstance(body, Mapping):
            raise BadAction("usage needs a JSON object {run, tokens, cost} (and agent, session, user)")
        try:
            spent = usage_from(body)
        except ValueError as err:
            raise BadAction(str(err)) from None
        context = {key: body[key] for key in ("run", "session", "agent", "user") if body.get(key) is not None}
        ctx = self.action_for(principal, {"tool": "model", "context": context}).context
        engine = self.engines.get(ctx.tenant or "").engine

        def record() -> None:
            engine.record_usage(tokens=spent.tokens, cost=spent.cost, context=ctx)

        await asyncio.get_running_loop().run_in_executor(self.pool, record)
        return {"recorded": True, "run": ctx.run, "tokens": spent.tokens, "cost": spent.cost}

    def policy_state(self, tenant: str, known_hash: str | None) -> dict[str, Any]:
        tenant_engine = self.engines.get(tenant)
        policy = tenant_engine.engine.policy
        active = self.engines.revisions.active(tenant=tenant)
        switches = [
            s.to_dict()
            for s in KillSwitch(self.engines.store).status(engaged_only=True)
            if (s.tenant or "") in (tenant, "")
        ]
        state: dict[str, Any] = {
            "tenant": tenant,
            "policy_revision": policy.revision,
            "on_error": policy.on_error.value,
            "mode": tenant_engine.engine.mode.value,
            "rev": None if active is None else active.rev,
            "content_hash": None if active is None else active.content_hash,
            "content": None,
            "switches": switches,
        }
        if active is not None and active.content_hash != known_hash:
            state["content"] = active.content
        return state

    # -- the work --------------------------------------------------------------------------------

    def action_for(self, principal: Principal, body: Any) -> Action:
        if type(body) is dict and not principal.all_tenants:  # the key's tenant, parsed with the rest
            context = body.get("context")
            if context is None or (type(context) is dict and "tenant" not in context):
                body = {**body, "context": {**(context or {}), "tenant": principal.key.tenant}}
        try:
            action = Action.from_dict(body)
        except (ValueError, TypeError) as err:
            raise BadAction(f"invalid action: {err}") from None
        tenant = principal.tenant_for(action.context.tenant)
        if action.context.tenant != tenant:
            action = dataclasses.replace(action, context=dataclasses.replace(action.context, tenant=tenant))
        return action

    def decide(self, action: Action) -> dict[str, Any]:
        """The answer, in a worker thread (it may wait on the store): idempotent on decision_id."""
        tenant = action.context.tenant or ""
        decision_id = action.decision_id()
        if action.call_id:
            earlier = self.answers.get(tenant, decision_id)
            if earlier is not None:
                return earlier
        tenant_engine = self.engines.get(tenant)
        answer = self._answered(tenant_engine, action, tenant_engine.engine.check(action))
        if action.call_id and answer["verdict"] != Verdict.ASK.value:
            answer = self.answers.put(tenant, decision_id, answer)
        return answer

    async def _adecide(self, action: Action) -> dict[str, Any]:
        """The answer, on the event loop when nothing waits on the store (see the module doc)."""
        tenant = action.context.tenant or ""
        tenant_engine = self.engines.peek(tenant)
        if tenant_engine is None:  # an engine to build (it reads the store)
            return await self._in_pool(self.decide, action)
        decision_id = ""
        if action.call_id:  # a retry: this replica's memory, else the store (grouped lookups)
            decision_id = action.decision_id()
            earlier = self.answers.cached(tenant, decision_id) or await self.commits.get(tenant, decision_id)
            if earlier is not None:
                return earlier
        decision = await tenant_engine.engine.acheck(action)  # in a thread only if a step needs the store
        if decision.verdict is Verdict.ASK and decision.approval_id is None:
            return await self._in_pool(self._answered, tenant_engine, action, decision)
        answer = self._answered(tenant_engine, action, decision)
        if decision_id and answer["verdict"] != Verdict.ASK.value:
            answer = await self.commits.put(tenant, decision_id, answer)  # sent once stored
        return answer

    def _answered(self, tenant_engine: TenantEngine, action: Action, decision: Decision) -> dict[str, Any]:
        """File the approval request of an ask (the store), record the decision, answer its line."""
        if decision.verdict is Verdict.ASK and decision.approval_id is None:
            approval = tenant_engine.cushions.approvals.submit(action, decision)
            decision = dataclasses.replace(decision, approval_id=approval.id)
        self._record(decision)
        return decision.to_json_line()

    def _record(self, decision: Decision) -> None:
        self.decision_log.write([decision])  # the one decision-log writer: redacted, one event each

    async def _in_pool(self, work: Callable[..., T], *args: Any) -> T:
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self.pool, work, *args)

    async def _within(
        self, work: Coroutine[Any, Any, T], deadline_ms: float | None, late: Callable[[], T]
    ) -> T:
        """`work`'s result, or `late()` when it is not done within the client's deadline (a check
        run inline cannot be interrupted: its answer is replaced when it finished past it)."""
        if deadline_ms is None:
            return await work
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(work, timeout=max(0.0, deadline_ms) / 1000)
        except TimeoutError:
            return late()
        if (time.perf_counter() - started) * 1000 > deadline_ms:
            return late()
        return result

    def _late(self, action: Action, deadline_ms: float | None) -> dict[str, Any]:
        """The answer past the client's deadline: the policy's on_error, recorded like any decision."""
        policy = self.engines.get(action.context.tenant or "").engine.policy
        reason = f"no decision within the client's deadline of {deadline_ms:g} ms; on_error={policy.on_error.value}"
        decision = Decision(
            verdict=policy.on_error,
            reason=reason,
            decision_id=action.decision_id(),
            tool=action.tool,
            hits=(RuleHit("railguard/deadline", policy.on_error, reason, Severity.HIGH, source="error"),),
            severity=Severity.HIGH,
            would_verdict=policy.on_error,
            policy_revision=policy.revision,
            error=reason,
            context=action.context,
            call_id=action.call_id,
            timestamp=time.time(),
        )
        self._record(decision)
        return decision.to_json_line()


def deadline_from(header: str | None) -> float | None:
    if header is None or not header.strip():
        return None
    try:
        value = float(header)
    except ValueError:
        raise BadAction(
            f"X-Railguard-Deadline-Ms must be a number of milliseconds, got {header[:40]!r}"
        ) from None
    if not value >= 0:  # also refuses NaN
        raise BadAction("X-Railguard-Deadline-Ms must be zero or more milliseconds")
    return value


__all__ = ["AuthError", "BadAction", "GuardService", "deadline_from"]

"""Engines that take their decisions, or their policy, from a Railguard server.

    engine = rg.RemoteEngine("http://railguard:8080", key)     # every check is a call to the server
    decision = engine.check(rg.Action("bash", {"command": "ls"}))

    local = rg.Engine(packs=["default"])
    attachment = rg.attach(local, "http://railguard:8080", key)  # checks stay local; the policy is
                                                                 # the tenant's active revision

`RemoteEngine` never raises for a failure to get an answer: unreachable, timeout, unauthorized, rate
limited and malformed answers are each a `RemoteFailure` kind, and the decision is the policy's
`on_error` (block unless the server said otherwise), with `error` naming the kind. It reuses one
HTTP connection pool, and keeps a bounded, short-lived copy of the engaged kill switches, so a
stopped agent or tool is refused locally without a round trip.
"""

from __future__ import annotations

import enum
import functools
import inspect
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from railguard._decisions import refusal
from railguard.errors import ConfigurationError
from railguard.model import Action, Context, Decision, Mode, RuleHit, Severity, Verdict, current_context
from railguard.policy import CompiledPolicy, load_policy

if TYPE_CHECKING:
    import httpx

    from railguard.engine import Engine

__all__ = ["Attachment", "RemoteEngine", "RemoteFailure", "attach", "revision_policy"]

_MAX_SWITCHES = 1000


class RemoteFailure(enum.StrEnum):
    """Why a remote decision could not be had (the decision's `error` starts with `remote/<kind>`)."""

    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    UNAUTHORIZED = "unauthorized"
    RATE_LIMITED = "rate_limited"
    MALFORMED = "malformed"


def revision_policy(content: str, rev: int) -> CompiledPolicy:
    """A stored revision's policy; its decisions carry `r<rev>:<name@version#digest>`."""
    compiled = load_policy(text=content)
    compiled.revision = f"r{rev}:{compiled.revision}"
    return compiled


def decision_from_line(line: Mapping[str, Any], action: Action) -> Decision:
    """A `railguard check --json` line back into a Decision (ValueError/KeyError/TypeError if malformed)."""
    verdict = Verdict(line["verdict"])
    reason = str(line["reason"])
    hits = tuple(RuleHit(str(rule), verdict, reason, source="remote") for rule in line.get("rules") or ())
    args = line.get("args")
    return Decision(
        verdict=verdict,
        reason=reason,
        decision_id=str(line["decision_id"]),
        tool=str(line.get("tool") or action.tool),
        hits=hits,
        severity=Severity(line.get("severity", "info")),
        mode=Mode(line.get("mode", "enforce")),
        would_verdict=Verdict(line.get("would_verdict", verdict.value)),
        policy_revision=str(line.get("policy_revision") or ""),
        latency_us=float(line.get("latency_us") or 0.0),
        args=dict(args) if isinstance(args, Mapping) else None,
        error=line.get("error"),
        context=action.context,
        call_id=action.call_id,
        timestamp=time.time(),
        approval_id=line.get("approval_id"),
    )


@dataclass
class _Switches:
    """The engaged kill switches of the tenant as last fetched, and when."""

    keys: frozenset[tuple[str, str, str]] = frozenset()
    fetched_at: float = float("-inf")


class RemoteEngine:
    """`check` / `acheck` / `admit` / `aadmit` / `guard` / `check_output` answered by a Railguard
    server (the integrations take it where they take an `Engine`: `--server URL`).

    `timeout_s` bounds every call (connect and answer); the server is asked to answer within it
    too. `on_error` is used until the server has said its policy's (then the server's wins).
    `killswitch_cache_s`: how long the local copy of the kill switches is trusted. `wait_s`: how
    long `guard` waits for a human when a call needs approval (0: raise ApprovalRequired at once).
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        timeout_s: float = 2.0,
        on_error: Verdict | str = Verdict.BLOCK,
        killswitch_cache_s: float = 1.0,
        wait_s: float = 0.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        try:
            import httpx
        except ImportError:  # pragma: no cover - httpx ships with the server extra
            raise ConfigurationError("RemoteEngine needs httpx: pip install 'railguard[server]'") from None
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"invalid server URL {url[:80]!r}: use http://host:port or https://...")
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.on_error = Verdict(on_error)
        self.killswitch_cache_s = killswitch_cache_s
        self.wait_s = wait_s
        self.approval_handler = None  # `guard` waits through the server instead (see admit)
        self.failures: dict[RemoteFailure, int] = dict.fromkeys(RemoteFailure, 0)
        self.last_failure: RemoteFailure | None = None
        self._headers = {
            "Authorization": f"Bearer {key}",
            "X-Railguard-Deadline-Ms": f"{timeout_s * 900:.0f}",
        }
        self._client = httpx.Client(timeout=timeout_s, headers=self._headers, transport=transport)
        self._aclient: httpx.AsyncClient | None = None
        self._switches = _Switches()
        self._refresh_failure: RemoteFailure | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RemoteEngine({self.url!r})"  # never the key

    # -- checks ------------------------------------------------------------------------------------

    def check(
        self,
        action: Action | str,
        args: Mapping[str, Any] | None = None,
        *,
        call_id: str | None = None,
        context: Context | None = None,
    ) -> Decision:
        """Decide one action on the server. Never raises: a failure is the policy's on_error."""
        action = _action(action, args, call_id, context)
        stopped = self._locally_stopped(action)
        if stopped is not None:
            return stopped
        try:
            response = self._client.post(f"{self.url}/v1/guard/evaluate", json=action.to_dict())
        except Exception as err:
            return self._failed(action, _transport_failure(err), type(err).__name__)
        return self._answer(action, response)

    async def acheck(
        self,
        action: Action | str,
        args: Mapping[str, Any] | None = None,
        *,
        call_id: str | None = None,
        context: Context | None = None,
    ) -> Decision:
        """`check` for async agents (its own pooled async connections; never blocks the loop)."""
        import httpx

        action = _action(action, args, call_id, context)
        stopped = self._locally_stopped(action, refresh=False)
        if stopped is not None:
            return stopped
        if self._aclient is None:
            self._aclient = httpx.AsyncClient(timeout=self.timeout_s, headers=self._headers)
        try:
            response = await self._aclient.post(f"{self.url}/v1/guard/evaluate", json=action.to_dict())
        except Exception as err:
            return self._failed(action, _transport_failure(err), type(err).__name__)
        return self._answer(action, response)

    def admit(
        self,
        action: Action | str,
        args: Mapping[str, Any] | None = None,
        *,
        call_id: str | None = None,
        context: Context | None = None,
    ) -> Decision:
        """The final decision, as `Engine.admit` gives it to integrations: for an `ask`, wait up to
        `wait_s` for a human on the server, then the server's answer (the human's). Never raises."""
        action = _action(action, args, call_id, context)
        decision = self.check(action)
        if decision.verdict is Verdict.ASK and self.wait_s > 0 and decision.approval_id:
            self._wait_for(decision.approval_id)
            decision = self.check(action)  # the server now answers with the human's decision
        return decision

    async def aadmit(
        self,
        action: Action | str,
        args: Mapping[str, Any] | None = None,
        *,
        call_id: str | None = None,
        context: Context | None = None,
    ) -> Decision:
        """`admit` for async callers (the MCP proxy): the wait for a human runs off the event loop."""
        import asyncio

        action = _action(action, args, call_id, context)
        decision = await self.acheck(action)
        if decision.verdict is Verdict.ASK and self.wait_s > 0 and decision.approval_id:
            await asyncio.to_thread(self._wait_for, decision.approval_id)
            decision = await self.acheck(action)
        return decision

    def check_output(self, tool: str, value: Any, *, action: Action | None = None) -> Any:
        """Report a tool's output to the server (provenance of later calls); returns `value`. A
        failure to report is counted, never raised: the output is the agent's either way."""
        action = action or Action(tool, {})
        body = {"run": action.context.run, "id": action.call_id, "tool": tool, "content": value}
        try:
            self._client.post(f"{self.url}/v1/guard/observe", json=body)
        except Exception as err:
            self._count(_transport_failure(err))
        return value

    def guard(self, fn: Any = None, *, name: str | None = None) -> Any:
        """`@remote.guard`: check on the server before the function runs; raises GuardBlocked /
        ApprovalRequired like `Engine.guard`."""
        if fn is None:
            return lambda f: self.guard(f, name=name)
        from railguard._guard import _bound_args, _call_with

        tool = name or fn.__name__
        sig = inspect.signature(fn)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*a: Any, **kw: Any) -> Any:
                action = Action(tool, _bound_args(sig, a, kw))
                decision = _refuse(action, await self.aadmit(action))
                if decision.verdict is Verdict.MODIFY and decision.args is not None:
                    a, kw = _call_with(sig, a, kw, decision.args)
                return self.check_output(tool, await fn(*a, **kw), action=action)

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            action = Action(tool, _bound_args(sig, a, kw))
            decision = _refuse(action, self.admit(action))
            if decision.verdict is Verdict.MODIFY and decision.args is not None:
                a, kw = _call_with(sig, a, kw, decision.args)
            return self.check_output(tool, fn(*a, **kw), action=action)

        return wrapper

    def close(self) -> None:
        self._client.close()
        if self._aclient is not None:
            aclient, self._aclient = self._aclient, None
            try:
                import asyncio

                asyncio.get_running_loop().create_task(aclient.aclose())
            except RuntimeError:
                pass  # no loop running: its connections close with the process

    def __enter__(self) -> RemoteEngine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------------

    def _wait_for(self, approval_id: str) -> None:
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                response = self._client.get(
                    f"{self.url}/v1/approvals/{approval_id}/wait",
                    params={"timeout_s": min(remaining, 30.0)},
                    timeout=min(remaining, 30.0) + self.timeout_s,
                )
            except Exception as err:
                self._count(_transport_failure(err))
                return
            if response.status_code != 200 or response.json().get("status") != "pending":
                return

    def _answer(self, action: Action, response: httpx.Response) -> Decision:
        status = response.status_code
        if status in (401, 403):
            return self._failed(action, RemoteFailure.UNAUTHORIZED, f"HTTP {status}: {_detail(response)}")
        if status == 429:
            retry = response.headers.get("retry-after", "?")
            return self._failed(action, RemoteFailure.RATE_LIMITED, f"retry after {retry}s")
        if status != 200:
            return self._failed(action, RemoteFailure.MALFORMED, f"HTTP {status}: {_detail(response)}")
        try:
            return decision_from_line(response.json(), action)
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            return self._failed(action, RemoteFailure.MALFORMED, f"{type(err).__name__} in the answer")

    def _count(self, kind: RemoteFailure) -> None:
        with self._lock:
            self.failures[kind] += 1
            self.last_failure = kind

    def _failed(self, action: Action, kind: RemoteFailure, detail: str, *, counted: bool = False) -> Decision:
        if not counted:
            self._count(kind)
        verdict = self.on_error
        reason = f"the guard server at {self.url} gave no decision ({kind.value}: {detail[:200]}); on_error={verdict.value}"
        return Decision(
            verdict=verdict,
            reason=reason,
            decision_id=action.decision_id(),
            tool=action.tool,
            hits=(RuleHit(f"remote/{kind.value}", verdict, reason, Severity.HIGH, source="error"),),
            severity=Severity.HIGH,
            would_verdict=verdict,
            error=f"remote/{kind.value}",
            context=action.context,
            call_id=action.call_id,
            timestamp=time.time(),
        )

    def refresh(self) -> bool:
        """Fetch the kill switches and the policy's on_error now; False when the server did not answer."""
        self._refresh_failure = None
        try:
            response = self._client.get(f"{self.url}/v1/guard/policy", params={"known": "-"})
        except Exception as err:
            self._refresh_failure = _transport_failure(err)  # the check itself would wait the same way
            self._count(self._refresh_failure)
            return False
        try:
            state = response.json() if response.status_code == 200 else None
        except ValueError:
            state = None
        if not isinstance(state, dict):
            return False
        try:
            self.on_error = Verdict(state.get("on_error", self.on_error.value))
            keys = frozenset(
                (str(s.get("tenant") or ""), str(s.get("agent") or ""), str(s.get("tool") or ""))
                for s in state.get("switches", [])[:_MAX_SWITCHES]
            )
        except (ValueError, TypeError, AttributeError):
            self._count(RemoteFailure.MALFORMED)
            return False
        self._switches = _Switches(keys, time.monotonic())
        return True

    def _locally_stopped(self, action: Action, *, refresh: bool = True) -> Decision | None:
        switches = self._switches
        if refresh and time.monotonic() - switches.fetched_at > self.killswitch_cache_s:
            if not self.refresh() and self._refresh_failure is not None:
                # The server did not answer just now: do not spend a second timeout on the check itself.
                return self._failed(
                    action, self._refresh_failure, "while reading the kill switches", counted=True
                )
            switches = self._switches
        if not switches.keys or time.monotonic() - switches.fetched_at > 10 * self.killswitch_cache_s:
            return None  # nothing engaged, or a copy too old to trust: the server decides
        ctx = action.context
        for tenant in {ctx.tenant or "", ""}:
            for agent in {ctx.agent or "", ""}:
                for tool in {action.tool, ""}:
                    if (tenant, agent, tool) in switches.keys:
                        reason = "stopped by the kill switch (cached from the server)"
                        return Decision(
                            verdict=Verdict.BLOCK,
                            reason=reason,
                            decision_id=action.decision_id(),
                            tool=action.tool,
                            hits=(RuleHit("killswitch/engaged", Verdict.BLOCK, reason, Severity.CRITICAL, source="killswitch"),),
                            severity=Severity.CRITICAL,
                            would_verdict=Verdict.BLOCK,
                            context=action.context,
                            call_id=action.call_id,
                            timestamp=time.time(),
                        )  # fmt: skip
        return None


def _action(
    action: Action | str, args: Mapping[str, Any] | None, call_id: str | None, context: Context | None
) -> Action:
    if isinstance(action, Action):
        return action
    return Action(action, dict(args or {}), call_id, context or current_context())


def _refuse(action: Action, decision: Decision) -> Decision:
    """`decision` when the call may run; else its refusal raised (GuardBlocked, ApprovalRequired)."""
    refused = refusal(decision, action)
    if refused is not None:
        raise refused
    return decision


def _transport_failure(err: Exception) -> RemoteFailure:
    import httpx

    return RemoteFailure.TIMEOUT if isinstance(err, httpx.TimeoutException) else RemoteFailure.UNREACHABLE


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", ""))[:200]
    except (ValueError, AttributeError):
        return response.text[:200]


class Attachment:
    """A local engine following the server: `attach` starts it, `.close()` stops it."""

    def __init__(
        self, engine: Engine, url: str, key: str, *, interval_s: float = 0.5, timeout_s: float = 2.0
    ) -> None:
        import httpx

        self.engine = engine
        self.url = url.rstrip("/")
        self.interval_s = interval_s
        self.rev: int | None = None
        self.content_hash: str | None = None
        self.errors = 0
        self.last_error: str | None = None
        self._client = httpx.Client(timeout=timeout_s, headers={"Authorization": f"Bearer {key}"})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="railguard-attach", daemon=True)

    def poll(self) -> bool:
        """Ask once; True when a new revision (or a new mode of the same one) was applied."""
        try:
            response = self._client.get(
                f"{self.url}/v1/guard/policy", params={"known": self.content_hash or "-"}
            )
            response.raise_for_status()
            state = response.json()
            content, content_hash = state.get("content"), state.get("content_hash")
            mode = Mode.AUDIT if state.get("mode") == "audit" else None
            if content_hash is None:
                return False  # no revision activated yet: keep the local policy
            if content_hash == self.content_hash:
                changed = self.engine.forced_mode is not mode
                self.engine.forced_mode = mode
                return changed
            policy = revision_policy(str(content), int(state["rev"]))
        except Exception as err:  # unreachable, refused, malformed, an invalid policy: all the same here
            self.errors += 1
            self.last_error = f"{type(err).__name__}: {str(err)[:200]}"
            return False  # keep running the policy we have
        self.engine.forced_mode = mode
        self.engine.swap(policy)
        self.rev, self.content_hash = int(state["rev"]), str(content_hash)
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.poll()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._client.close()


def attach(engine: Engine, url: str, key: str, *, interval_s: float = 0.5) -> Attachment:
    """Make a local `engine` run its tenant's active policy revision from the server (applied within
    `interval_s` of an activation, atomically). The first poll happens now."""
    attachment = Attachment(engine, url, key, interval_s=interval_s)
    attachment.poll()
    attachment._thread.start()
    return attachment

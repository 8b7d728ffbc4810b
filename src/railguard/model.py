"""The core value types: what an agent wants to do (`Action`), on whose behalf (`Context`), and what
the engine answered (`Decision`). Frozen and slotted: they cross threads and get logged, so they
must not change after creation.
"""

from __future__ import annotations

import contextvars
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from railguard._digest import blake2b, sha256


class Verdict(enum.StrEnum):
    """What the engine tells the caller to do. Ordered by strictness: block > ask > modify > allow."""

    ALLOW = "allow"
    MODIFY = "modify"
    ASK = "ask"
    BLOCK = "block"

    @property
    def rank(self) -> int:
        return _VERDICT_RANK[self]


_VERDICT_RANK = {Verdict.ALLOW: 0, Verdict.MODIFY: 1, Verdict.ASK: 2, Verdict.BLOCK: 3}


class Mode(enum.StrEnum):
    """`enforce` acts on verdicts; `audit` records what would have happened and allows."""

    ENFORCE = "enforce"
    AUDIT = "audit"


class Severity(enum.StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


class Effect(enum.StrEnum):
    """What a tool does to the world; rules and approvals key on it."""

    READ = "read"
    WRITE = "write"
    EXEC = "exec"
    IRREVERSIBLE = "irreversible"
    UNKNOWN = "unknown"


class Trust(enum.StrEnum):
    """Whether a tool's output may carry instructions from outside (a web page, an email)."""

    TRUSTED = "trusted"
    UNTRUSTED = "untrusted"


@dataclass(frozen=True, slots=True)
class Context:
    """Who the action is for and where it runs. `user` is the acting principal (not the agent's own
    credentials): entitlements are checked against it."""

    tenant: str | None = None
    user: str | None = None
    roles: tuple[str, ...] = ()
    agent: str | None = None
    session: str | None = None
    run: str | None = None
    env: str | None = None
    workspace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    KEYS = ("tenant", "user", "roles", "agent", "session", "run", "env", "workspace", "labels")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Context:
        """Build from the documented JSON shape; unknown keys raise `ValueError` naming them."""
        if not data:
            return cls()
        unknown = sorted(set(data) - set(cls.KEYS))
        if unknown:
            raise ValueError(f"unknown context key(s) {unknown}; allowed keys are {list(cls.KEYS)}")
        roles = data.get("roles") or ()
        if isinstance(roles, str):
            roles = (roles,)
        labels = data.get("labels") or {}
        if not isinstance(labels, Mapping):
            raise ValueError("context 'labels' must be an object of string values")
        return cls(
            tenant=_opt_str(data.get("tenant")),
            user=_opt_str(data.get("user")),
            roles=tuple(str(r) for r in roles),
            agent=_opt_str(data.get("agent")),
            session=_opt_str(data.get("session")),
            run=_opt_str(data.get("run")),
            env=_opt_str(data.get("env")),
            workspace=_opt_str(data.get("workspace")),
            labels={str(k): str(v) for k, v in labels.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "user": self.user,
            "roles": list(self.roles),
            "agent": self.agent,
            "session": self.session,
            "run": self.run,
            "env": self.env,
            "workspace": self.workspace,
            "labels": dict(self.labels),
        }

    def merged(self, **changes: Any) -> Context:
        """A copy with the given non-None fields replaced."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


_current_context: contextvars.ContextVar[Context] = contextvars.ContextVar(
    "railguard_context",
    default=Context(),  # noqa: B039 - frozen; never mutated
)


def current_context() -> Context:
    """The context of the innermost `railguard.run(...)` scope (an empty one outside any scope)."""
    return _current_context.get()


def set_current_context(ctx: Context) -> contextvars.Token[Context]:
    return _current_context.set(ctx)


def reset_current_context(token: contextvars.Token[Context]) -> None:
    _current_context.reset(token)


_ACTION_KEYS = frozenset({"tool", "args", "context", "id", "call_id"})


@dataclass(frozen=True, slots=True)
class Action:
    """One tool call an agent wants to make. Without an explicit context it takes the one of the
    enclosing `railguard.run(...)` scope."""

    tool: str
    args: Mapping[str, Any] = field(default_factory=dict)
    call_id: str | None = None
    context: Context = field(default_factory=current_context)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Action:
        """The documented JSON shape: `{"tool", "args", "context", "id"}`."""
        if type(data) is not dict and not isinstance(data, Mapping):  # a plain dict skips the ABC check
            raise ValueError("an action must be a JSON object with a 'tool' key")
        unknown = set(data) - _ACTION_KEYS
        if unknown:
            raise ValueError(f"unknown action key(s) {sorted(unknown)}; allowed: tool, args, context, id")
        tool = data.get("tool")
        if not isinstance(tool, str) or not tool:
            raise ValueError("action 'tool' must be a non-empty string (the tool's name)")
        args = data.get("args") or {}
        if type(args) is not dict and not isinstance(args, Mapping):
            raise ValueError("action 'args' must be a JSON object of argument name to value")
        call_id = data.get("id", data.get("call_id"))
        return cls(
            tool=tool,
            args=dict(args),
            call_id=None if call_id is None else str(call_id),
            context=Context.from_dict(data.get("context")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "args": dict(self.args),
            "id": self.call_id,
            "context": self.context.to_dict(),
        }

    def args_digest(self) -> str:
        """A stable hash of the arguments (canonical JSON): approvals and idempotency key on it."""
        return sha256(canonical_json(self.args).encode()).hexdigest()

    def decision_id(self) -> str:
        """Stable for a retry of the same call: derived from the run and the tool call id, or, when
        the caller has no call id, from the run, the tool and the arguments."""
        ctx = self.context
        if self.call_id:
            basis = f"{ctx.tenant}\x1f{ctx.run or ctx.session}\x1fid\x1f{self.call_id}"
        else:
            basis = f"{ctx.tenant}\x1f{ctx.run or ctx.session}\x1f{self.tool}\x1f{self.args_digest()}"
        h = blake2b(basis.encode(), digest_size=16).hexdigest()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def canonical_json(value: Any) -> str:
    return _CANONICAL(value)


# `json.dumps` with these options, without building an encoder per call (every decision id needs one).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False).encode


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One rule (or pipeline step) that fired for an action."""

    rule: str
    verdict: Verdict
    message: str
    severity: Severity = Severity.MEDIUM
    mode: Mode = Mode.ENFORCE
    source: str = "policy"  # which pipeline step produced it: killswitch, contract, policy, ...
    tags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "verdict": self.verdict.value,
            "message": self.message,
            "severity": self.severity.value,
            "mode": self.mode.value,
            "source": self.source,
            "tags": list(self.tags),
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's answer for one action.

    `verdict` is what the caller must do. `would_verdict` is what enforce mode would have done (it
    differs from `verdict` only in audit mode or for audit-mode rules). `args` holds the rewritten
    arguments when the verdict is modify.
    """

    verdict: Verdict
    reason: str
    decision_id: str
    tool: str
    hits: tuple[RuleHit, ...] = ()
    severity: Severity = Severity.INFO
    mode: Mode = Mode.ENFORCE
    would_verdict: Verdict = Verdict.ALLOW
    policy_revision: str = ""
    latency_us: float = 0.0
    args: Mapping[str, Any] | None = None
    error: str | None = None
    context: Context = field(default_factory=Context)
    call_id: str | None = None
    timestamp: float = 0.0
    approval_id: str | None = None
    # The arguments the action was called with, for the decision log (backtests replay them).
    action_args: Mapping[str, Any] | None = None
    # Of `latency_us`, the time spent in the store (the stateful guards' one transaction): what the
    # decision spent its time on. Not part of the decision-log record.
    store_us: float = 0.0

    @property
    def allowed(self) -> bool:
        """True when the caller may run the call (allow, or modify with `args`)."""
        return self.verdict in (Verdict.ALLOW, Verdict.MODIFY)

    @property
    def rules(self) -> tuple[str, ...]:
        """Ids of the rules that fired (audit-mode ones included)."""
        return tuple(h.rule for h in self.hits)

    def to_record(self, *, trace_id: str | None = None, span_id: str | None = None) -> dict[str, Any]:
        """The versioned decision-log record (`DecisionV1`) that stores, dashboards and backtests read.

        `trace_id`/`span_id` name the span the decision was recorded on. `masked` lists what the
        decision log redacted (`{"path", "kind"}`, never a value); it is filled in by the one writer
        of decision records (`railguard.trace.DecisionLog`), which also gives each record its
        `event_id`: one decision id can have many events (a retry, a re-check after approval)."""
        return {
            "v": 1,
            "decision_id": self.decision_id,
            "trace_id": trace_id,
            "span_id": span_id,
            "timestamp": self.timestamp,
            "tool": self.tool,
            "call_id": self.call_id,
            "verdict": self.verdict.value,
            "would_verdict": self.would_verdict.value,
            "mode": self.mode.value,
            "severity": self.severity.value,
            "reason": self.reason,
            "rules": list(self.rules),
            "hits": [h.to_dict() for h in self.hits],
            "policy_revision": self.policy_revision,
            "latency_us": round(self.latency_us, 1),
            "args": None if self.args is None else dict(self.args),
            "error": self.error,
            "approval_id": self.approval_id,
            "context": self.context.to_dict(),
            "masked": [],
            "action_args": None if self.action_args is None else dict(self.action_args),
        }

    def to_json_line(self) -> dict[str, Any]:
        """The stable `railguard check --json` output shape."""
        # `str(member)` is a string enum's value, without the `.value` property's Python-level lookup
        # (four per decision of a stream)
        out: dict[str, Any] = {
            "verdict": str(self.verdict),
            "rules": [h.rule for h in self.hits],
            "reason": self.reason,
            "decision_id": self.decision_id,
            "latency_us": round(self.latency_us, 1),
            "tool": self.tool,
            "severity": str(self.severity),
            "mode": str(self.mode),
            "would_verdict": str(self.would_verdict),
            "policy_revision": self.policy_revision,
        }
        if self.args is not None:
            out["args"] = dict(self.args)
        if self.error is not None:
            out["error"] = self.error
        if self.approval_id is not None:
            out["approval_id"] = self.approval_id
        return out


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """What a policy (or code) declares about a tool: its argument and output contracts (JSON
    Schema), its effect class, and the trust of its output. `roles` maps argument names to what they
    carry (`command`, `path`, `url`, `sql`, `text`) so detectors know where to look.
    `untrusted_fields` names output fields (at any depth) that carry third-party text even when the
    rest of the output is trusted: a catalogue's `reviews`, a ticket's `comments`."""

    name: str
    effect: Effect = Effect.UNKNOWN
    output_trust: Trust = Trust.TRUSTED
    args_schema: Mapping[str, Any] | None = None
    output_schema: Mapping[str, Any] | None = None
    roles: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    untrusted_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """A span of text a detector flagged (a secret, a PII value, an injection signal)."""

    kind: str
    start: int
    end: int
    detector: str = ""
    confidence: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "detector": self.detector,
            "confidence": self.confidence,
        }

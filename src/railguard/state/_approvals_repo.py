"""Approval requests in the store: create (idempotently), decide (exactly once), expire, look up.

Every state change is a single conditional UPDATE (`... WHERE status = 'pending' AND expires_at > now`),
so an approval racing an expiry, or two humans deciding at once, resolve to exactly one winner on
SQLite and PostgreSQL alike. A partial unique index keeps one pending request per call.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from railguard.errors import ApprovalNotFound, ApprovalNotPending
from railguard.model import Context
from railguard.state._tables import PENDING_CALL_KEY, PENDING_PREDICATE, approvals
from railguard.store import Store

PENDING, APPROVED, DENIED, EXPIRED = "pending", "approved", "denied", "expired"
STATUSES = (PENDING, APPROVED, DENIED, EXPIRED)

_pending_key = PENDING_CALL_KEY
_PENDING_ONLY = PENDING_PREDICATE


@dataclass(frozen=True, slots=True)
class Approval:
    """One durable request for a human's decision on one call (or a session/tool-wide grant)."""

    id: str
    tenant: str
    tool: str
    args_digest: str
    args_redacted: Mapping[str, Any]
    reason: str
    rules: tuple[str, ...]
    scope: str
    status: str
    created_at: float
    expires_at: float
    decision_id: str
    grant_ttl_s: float
    context: Context = field(default_factory=Context)
    match: str | None = None
    decided_at: float | None = None
    decided_by: str | None = None
    note: str | None = None
    valid_until: float | None = None

    @property
    def session(self) -> str:
        return self.context.session or ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "tenant": self.tenant,
            "agent": self.context.agent,
            "user": self.context.user,
            "session": self.context.session,
            "run": self.context.run,
            "tool": self.tool,
            "args": dict(self.args_redacted),
            "args_digest": self.args_digest,
            "reason": self.reason,
            "rules": list(self.rules),
            "scope": self.scope,
            "match": self.match,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "decided_at": self.decided_at,
            "decided_by": self.decided_by,
            "note": self.note,
            "valid_until": self.valid_until,
            "grant_ttl_s": self.grant_ttl_s,
            "decision_id": self.decision_id,
        }


def _row_to_approval(row: Any) -> Approval:
    m = row._mapping
    return Approval(
        id=m["id"],
        tenant=m["tenant"],
        tool=m["tool"],
        args_digest=m["args_digest"],
        args_redacted=m["args_redacted"],
        reason=m["reason"],
        rules=tuple(m["rules"]),
        scope=m["scope"],
        status=m["status"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        decision_id=m["decision_id"],
        grant_ttl_s=m["grant_ttl_s"],
        context=Context.from_dict(m["context"]),
        match=m["match"],
        decided_at=m["decided_at"],
        decided_by=m["decided_by"],
        note=m["note"],
        valid_until=m["valid_until"],
    )


def create_or_reuse(store: Store, draft: Approval) -> tuple[Approval, bool]:
    """Insert `draft` as a pending request unless one is pending for the same call; returns the
    pending request and whether it is new."""
    ctx = draft.context
    values = {
        "id": draft.id,
        "tenant": draft.tenant,
        "agent": ctx.agent or "",
        "user": ctx.user or "",
        "session": draft.session,
        "run": ctx.run or "",
        "tool": draft.tool,
        "args_digest": draft.args_digest,
        "args_redacted": dict(draft.args_redacted),
        "reason": draft.reason,
        "rules": list(draft.rules),
        "scope": draft.scope,
        "match": draft.match,
        "status": PENDING,
        "created_at": draft.created_at,
        "expires_at": draft.expires_at,
        "decision_id": draft.decision_id,
        "grant_ttl_s": draft.grant_ttl_s,
        "context": ctx.to_dict(),
    }
    with store.write_transaction() as conn:
        _expire(conn, draft.created_at, tenant=draft.tenant, tool=draft.tool)
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(approvals).values(values)
        conn.execute(
            stmt.on_conflict_do_nothing(index_elements=list(_pending_key), index_where=_PENDING_ONLY)
        )
        row = conn.execute(
            select(approvals).where(
                _PENDING_ONLY,
                approvals.c.tenant == draft.tenant,
                approvals.c.tool == draft.tool,
                approvals.c.args_digest == draft.args_digest,
                approvals.c.session == draft.session,
            )
        ).one()
    found = _row_to_approval(row)
    return found, found.id == draft.id


def decide(
    store: Store,
    approval_id: str,
    status: str,
    *,
    by: str,
    note: str | None,
    now: float,
    tenant: str | None = None,
) -> Approval:
    """Approve or deny a pending, unexpired request. Raises ApprovalNotPending if it was decided or
    expired first (the loser of a race sees the winner's outcome). With `tenant`, a request of
    another tenant is not found (the store, not only the caller, keeps tenants apart)."""
    mine = _of_tenant(tenant)
    with store.write_transaction() as conn:
        done = conn.execute(
            update(approvals)
            .where(approvals.c.id == approval_id, *mine, _PENDING_ONLY, approvals.c.expires_at > now)
            .values(
                status=status,
                decided_at=now,
                decided_by=by,
                note=note,
                valid_until=now + approvals.c.grant_ttl_s,
            )
        ).rowcount
        if not done:
            _expire(conn, now, ids=[approval_id])
        row = conn.execute(select(approvals).where(approvals.c.id == approval_id, *mine)).one_or_none()
    if row is None:
        raise ApprovalNotFound(f"no approval request with id {approval_id!r}")
    approval = _row_to_approval(row)
    if not done:
        raise ApprovalNotPending(approval)
    return approval


def expire_due(store: Store, now: float | None = None) -> list[Approval]:
    """Mark every pending request past its deadline as expired; returns those this call expired."""
    with store.write_transaction() as conn:
        return _expire(conn, time.time() if now is None else now)


def _expire(
    conn: Any, now: float, *, tenant: str | None = None, tool: str | None = None, ids: Sequence[str] = ()
) -> list[Approval]:
    where = [_PENDING_ONLY, approvals.c.expires_at <= now]
    if tenant is not None:
        where += [approvals.c.tenant == tenant, approvals.c.tool == tool]
    if ids:
        where.append(approvals.c.id.in_(list(ids)))
    stmt = (
        update(approvals)
        .where(*where)
        .values(status=EXPIRED, decided_at=now, decided_by="railguard/expiry")
        .returning(*approvals.c)
    )
    return [_row_to_approval(r) for r in conn.execute(stmt)]


def _of_tenant(tenant: str | None) -> list[Any]:
    return [] if tenant is None else [approvals.c.tenant == tenant]


def get(store: Store, approval_id: str, *, tenant: str | None = None) -> Approval:
    """By id, or by a unique id prefix of at least 6 characters (what `approvals list` shows).
    With `tenant`, only that tenant's requests are found."""
    mine = _of_tenant(tenant)
    with store.read_connection() as conn:
        rows = conn.execute(select(approvals).where(approvals.c.id == approval_id, *mine)).all()
        if not rows and len(approval_id) >= 6:
            prefix = approval_id.replace("%", "").replace("_", "")
            rows = conn.execute(
                select(approvals).where(approvals.c.id.startswith(prefix), *mine).limit(2)
            ).all()
    if len(rows) != 1:
        what = "matches several requests" if rows else "matches no request"
        raise ApprovalNotFound(f"approval id {approval_id!r} {what}; run 'railguard approvals list'")
    return _row_to_approval(rows[0])


def list_requests(
    store: Store, *, status: str | None = None, tenant: str | None = None, limit: int = 100
) -> list[Approval]:
    """Newest first. `tenant=None` lists every tenant (admin callers only)."""
    query = select(approvals).order_by(approvals.c.created_at.desc()).limit(limit)
    if status is not None:
        query = query.where(approvals.c.status == status)
    query = query.where(*_of_tenant(tenant))
    with store.read_connection() as conn:
        return [_row_to_approval(r) for r in conn.execute(query)]


def decided_for(
    store: Store, *, tenant: str, tool: str, session: str, digest: str, now: float
) -> list[Approval]:
    """Approvals and denials still in force that could cover this call (the caller checks rules and
    `match`): exact-call ones for this digest and session, session-wide ones, tool-wide ones."""
    covers = or_(
        and_(approvals.c.scope == "call", approvals.c.args_digest == digest, approvals.c.session == session),
        and_(approvals.c.scope == "session", approvals.c.session == session, approvals.c.session != ""),
        approvals.c.scope == "tool",
    )
    query = (
        select(approvals)
        .where(
            approvals.c.tenant == tenant,
            approvals.c.tool == tool,
            approvals.c.status.in_([APPROVED, DENIED]),
            approvals.c.valid_until > now,
            covers,
        )
        .order_by(approvals.c.decided_at.desc())
        .limit(50)
    )
    with store.read_connection() as conn:
        return [_row_to_approval(r) for r in conn.execute(query)]


def new_id() -> str:
    return str(uuid.uuid4())

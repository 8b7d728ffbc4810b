"""Policy revisions per tenant: every upload is a numbered revision (author, time, content hash, the
diff against the active one); one is active per tenant, in enforce or audit (shadow) mode. Every
change is appended to the audit log in the same transaction. The caller validates the policy text
before `add` (the store keeps data, the policy package knows the language)."""

from __future__ import annotations

import difflib
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from railguard.errors import ConfigurationError
from railguard.store import _audit
from railguard.store._control_schema import policy_active, policy_revisions
from railguard.store._store import Store

MODES = ("enforce", "audit")


class RevisionNotFound(ConfigurationError):
    """No such revision in the caller's tenant (or nothing to roll back to)."""


@dataclass(frozen=True, slots=True)
class PolicyRevision:
    tenant: str
    rev: int
    content_hash: str
    policy_revision: str
    author: str
    created_at: float
    diff: str
    rules: int
    content: str = ""
    active_mode: str | None = None  # "enforce" | "audit" when it is the tenant's active revision

    def to_dict(self, *, content: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tenant": self.tenant,
            "rev": self.rev,
            "content_hash": self.content_hash,
            "policy_revision": self.policy_revision,
            "author": self.author,
            "created_at": self.created_at,
            "diff": self.diff,
            "rules": self.rules,
            "active_mode": self.active_mode,
        }
        if content:
            out["content"] = self.content
        return out


@dataclass(frozen=True, slots=True)
class ActiveRevision:
    tenant: str
    rev: int
    mode: str
    content_hash: str


class PolicyRevisions:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        store.migrate()
        self.store = store
        self._clock = clock

    def add(
        self, *, tenant: str, content: str, author: str, policy_revision: str, rules: int
    ) -> PolicyRevision:
        """Store a new (already validated) revision; it is not active until `activate`."""
        now = self._clock()
        content_hash = hashlib.sha256(content.encode()).hexdigest()
        with self.store.write_transaction() as conn:
            _audit.lock(conn)  # numbers are per tenant: one writer at a time picks the next
            rev = (
                int(
                    conn.execute(
                        select(func.coalesce(func.max(policy_revisions.c.rev), 0)).where(
                            policy_revisions.c.tenant == tenant
                        )
                    ).scalar_one()
                )
                + 1
            )
            active = _active_row(conn, tenant)
            before = "" if active is None else _content(conn, tenant, int(active.rev))
            diff = "".join(
                difflib.unified_diff(
                    before.splitlines(keepends=True),
                    content.splitlines(keepends=True),
                    fromfile="active" if active is None else f"r{active.rev}",
                    tofile=f"r{rev}",
                )
            )
            row: dict[str, Any] = {
                "tenant": tenant, "rev": rev, "content": content, "content_hash": content_hash,
                "policy_revision": policy_revision, "author": author, "created_at": now, "diff": diff,
                "rules": rules,
            }  # fmt: skip
            conn.execute(policy_revisions.insert().values(**row))
            _audit.append(
                conn, tenant=tenant, actor=author, action="policy.revision", subject=f"r{rev}",
                details={"content_hash": content_hash, "policy_revision": policy_revision, "rules": rules}, now=now,
            )  # fmt: skip
        return PolicyRevision(**row)

    def activate(self, *, tenant: str, rev: int, actor: str, mode: str = "enforce") -> PolicyRevision:
        if mode not in MODES:
            raise ConfigurationError(f"unknown mode {mode!r}; use 'enforce' or 'audit' (shadow)")
        now = self._clock()
        with self.store.write_transaction() as conn:
            _audit.lock(conn)
            found = self._get(conn, tenant, rev)
            self._set_active(conn, tenant, rev, mode, actor, now)
            _audit.append(
                conn, tenant=tenant, actor=actor, action="policy.activate", subject=f"r{rev}",
                details={"mode": mode, "content_hash": found.content_hash}, now=now,
            )  # fmt: skip
        return self.get(tenant=tenant, rev=rev)

    def rollback(self, *, tenant: str, actor: str) -> PolicyRevision:
        """Make the previously active revision (in its previous mode) active again."""
        now = self._clock()
        with self.store.write_transaction() as conn:
            _audit.lock(conn)
            active = _active_row(conn, tenant)
            if active is None or active.previous_rev is None:
                raise RevisionNotFound(f"tenant {tenant!r} has no earlier active revision to roll back to")
            rev, mode = int(active.previous_rev), str(active.previous_mode or "enforce")
            self._set_active(conn, tenant, rev, mode, actor, now)
            _audit.append(
                conn, tenant=tenant, actor=actor, action="policy.rollback", subject=f"r{rev}",
                details={"from": f"r{active.rev}", "mode": mode}, now=now,
            )  # fmt: skip
        return self.get(tenant=tenant, rev=rev)

    def get(self, *, tenant: str, rev: int) -> PolicyRevision:
        with self.store.read_connection() as conn:
            return self._get(conn, tenant, rev)

    def list(self, *, tenant: str, limit: int = 50, before: int | None = None) -> list[PolicyRevision]:
        """Newest first, without content; `before`: the last seen rev (keyset pages)."""
        cols = [c for c in policy_revisions.c if c.name != "content"]
        query = select(*cols).where(policy_revisions.c.tenant == tenant)
        if before is not None:
            query = query.where(policy_revisions.c.rev < before)
        query = query.order_by(policy_revisions.c.rev.desc()).limit(max(1, min(int(limit), 500)))
        with self.store.read_connection() as conn:
            active = _active_row(conn, tenant)
            rows = conn.execute(query).all()
        return [_revision(row, active) for row in rows]

    def active(self, *, tenant: str) -> PolicyRevision | None:
        with self.store.read_connection() as conn:
            row = _active_row(conn, tenant)
            return None if row is None else self._get(conn, tenant, int(row.rev))

    def active_all(self) -> dict[str, ActiveRevision]:
        """Every tenant's active revision: what attached engines poll (one small query)."""
        query = select(
            policy_active.c.tenant, policy_active.c.rev, policy_active.c.mode, policy_revisions.c.content_hash
        ).join(
            policy_revisions,
            (policy_revisions.c.tenant == policy_active.c.tenant)
            & (policy_revisions.c.rev == policy_active.c.rev),
        )
        with self.store.read_connection() as conn:
            return {
                r.tenant: ActiveRevision(r.tenant, int(r.rev), r.mode, r.content_hash)
                for r in conn.execute(query)
            }

    def _get(self, conn: Connection, tenant: str, rev: int) -> PolicyRevision:
        row = conn.execute(
            select(policy_revisions).where(policy_revisions.c.tenant == tenant, policy_revisions.c.rev == rev)
        ).first()
        if row is None:
            raise RevisionNotFound(f"tenant {tenant!r} has no policy revision r{rev}")
        return _revision(row, _active_row(conn, tenant))

    def _set_active(self, conn: Connection, tenant: str, rev: int, mode: str, actor: str, now: float) -> None:
        current = _active_row(conn, tenant)
        values = {"rev": rev, "mode": mode, "activated_at": now, "activated_by": actor}
        if current is None:
            conn.execute(policy_active.insert().values(tenant=tenant, **values))
            return
        conn.execute(
            policy_active.update()
            .where(policy_active.c.tenant == tenant)
            .values(previous_rev=current.rev, previous_mode=current.mode, **values)
        )


def _active_row(conn: Connection, tenant: str) -> Any:
    return conn.execute(select(policy_active).where(policy_active.c.tenant == tenant)).first()


def _content(conn: Connection, tenant: str, rev: int) -> str:
    found = conn.execute(
        select(policy_revisions.c.content).where(
            policy_revisions.c.tenant == tenant, policy_revisions.c.rev == rev
        )
    ).scalar_one_or_none()
    return str(found or "")


def _revision(row: Any, active: Any) -> PolicyRevision:
    mapping = row._mapping
    is_active = active is not None and int(active.rev) == int(mapping["rev"])
    return PolicyRevision(
        tenant=mapping["tenant"],
        rev=int(mapping["rev"]),
        content_hash=mapping["content_hash"],
        policy_revision=mapping["policy_revision"],
        author=mapping["author"],
        created_at=float(mapping["created_at"]),
        diff=mapping["diff"],
        rules=int(mapping["rules"]),
        content=mapping.get("content", "") or "",
        active_mode=str(active.mode) if is_active else None,
    )

"""The audit log: every change (policy revision or activation, approval decided, kill switch flipped,
key created or revoked, retention run) appended as a record hash-chained to the one before it.

    hash = sha256(canonical_json({seq, ts, tenant, actor, action, subject, details, prev_hash}))

`seq` counts from 1 with no gaps and is inside the hash, so an edited, deleted or reordered row breaks
the chain at that row (`verify`). Records are appended inside the transaction that makes the change,
under a lock, so concurrent writers (other replicas) chain one after another. Details never hold a
secret: callers pass names, ids and hashes, never a key or a policy's values.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, text

from railguard.store._control_schema import audit_log
from railguard.store._store import Store

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x524741  # "RGA": its own advisory lock, apart from the migrations' lock
_VERIFY_PAGE = 1000


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    ts: float
    tenant: str
    actor: str
    action: str
    subject: str
    details: Mapping[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "tenant": self.tenant,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "details": dict(self.details),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """`ok`, how many records were checked, and the first broken one (its seq and what is wrong)."""

    ok: bool
    records: int
    broken_seq: int | None = None
    problem: str | None = None
    head: str = GENESIS


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def record_hash(
    *, seq: int, ts: float, tenant: str, actor: str, action: str, subject: str, details: str, prev_hash: str
) -> str:
    body = {
        "seq": seq,
        "ts": repr(float(ts)),
        "tenant": tenant,
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def append(
    conn: Connection,
    *,
    tenant: str,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> AuditRecord:
    """Append one record inside the caller's write transaction (the change and its record commit together)."""
    lock(conn)
    last = conn.execute(
        select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (1, GENESIS) if last is None else (int(last.seq) + 1, str(last.hash))
    ts = time.time() if now is None else now
    details_text = canonical(dict(details or {}))
    digest = record_hash(
        seq=seq, ts=ts, tenant=tenant, actor=actor, action=action, subject=subject, details=details_text,
        prev_hash=prev_hash,
    )  # fmt: skip
    conn.execute(
        audit_log.insert().values(
            seq=seq, ts=ts, tenant=tenant, actor=actor, action=action, subject=subject, details=details_text,
            prev_hash=prev_hash, hash=digest,
        )
    )  # fmt: skip
    return AuditRecord(seq, ts, tenant, actor, action, subject, json.loads(details_text), prev_hash, digest)


def lock(conn: Connection) -> None:
    """Serialize audited changes across processes until the transaction ends (SQLite's BEGIN IMMEDIATE
    already does; PostgreSQL takes a transaction-scoped advisory lock). Taking it twice is harmless."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:k, hashtext(current_schema()))"), {"k": _PG_AUDIT_LOCK}
        )


class AuditLog:
    """Read and verify the audit chain of a store. `tenant=None` reads every tenant (global admins)."""

    def __init__(self, store: Store) -> None:
        store.migrate()
        self.store = store

    def append(self, **fields: Any) -> AuditRecord:
        with self.store.write_transaction() as conn:
            return append(conn, **fields)

    def list(
        self, *, tenant: str | None, limit: int = 100, before: int | None = None, action: str | None = None
    ) -> list[AuditRecord]:
        """Newest first; `before` is the last seen record's seq (keyset pages)."""
        query = select(audit_log)
        if tenant is not None:
            query = query.where(audit_log.c.tenant == tenant)
        if before is not None:
            query = query.where(audit_log.c.seq < before)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        query = query.order_by(audit_log.c.seq.desc()).limit(max(1, min(int(limit), 1000)))
        with self.store.read_connection() as conn:
            return [_record(row) for row in conn.execute(query)]

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the newest record: anchor it elsewhere to detect a rewrite of the whole table."""
        with self.store.read_connection() as conn:
            row = conn.execute(
                select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
            ).first()
        return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))

    def count(self) -> int:
        with self.store.read_connection() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())

    def verify(self, *, anchor: tuple[int, str] | None = None) -> ChainStatus:
        """Recompute the whole chain. `anchor`: a (seq, hash) recorded earlier that must still be in it."""
        expected_seq, prev, checked = 1, GENESIS, 0
        anchor_seen = anchor is None or anchor[0] == 0
        for row in self._rows():
            if row.seq != expected_seq:
                missing = "missing" if row.seq > expected_seq else "out of order"
                return ChainStatus(False, checked, expected_seq, f"record {expected_seq} is {missing}", prev)
            if row.prev_hash != prev:
                return ChainStatus(
                    False, checked, row.seq, "its prev_hash does not match the record before", prev
                )
            digest = record_hash(
                seq=row.seq, ts=row.ts, tenant=row.tenant, actor=row.actor, action=row.action,
                subject=row.subject, details=row.details, prev_hash=row.prev_hash,
            )  # fmt: skip
            if digest != row.hash:
                return ChainStatus(
                    False, checked, row.seq, "its content does not match its hash (edited)", prev
                )
            if anchor is not None and row.seq == anchor[0]:
                if row.hash != anchor[1]:
                    return ChainStatus(
                        False, checked, row.seq, "it differs from the anchored chain head", prev
                    )
                anchor_seen = True
            prev, expected_seq, checked = row.hash, expected_seq + 1, checked + 1
        if not anchor_seen:
            assert anchor is not None
            return ChainStatus(
                False, checked, anchor[0], "the anchored record is gone (table truncated)", prev
            )
        return ChainStatus(True, checked, head=prev)

    def _rows(self) -> Iterator[Any]:
        after = 0
        while True:
            with self.store.read_connection() as conn:
                page = conn.execute(
                    select(audit_log)
                    .where(audit_log.c.seq > after)
                    .order_by(audit_log.c.seq)
                    .limit(_VERIFY_PAGE)
                ).all()
            yield from page
            if len(page) < _VERIFY_PAGE:
                return
            after = int(page[-1].seq)


def _record(row: Any) -> AuditRecord:
    return AuditRecord(
        int(row.seq), float(row.ts), row.tenant, row.actor, row.action, row.subject, json.loads(row.details),
        row.prev_hash, row.hash,
    )  # fmt: skip

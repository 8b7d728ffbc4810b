"""Dashboard sessions: a random id in an HTTP-only cookie, its SHA-256 in the store (every replica
sees a login), the key it acts as, and a CSRF token for its forms."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import delete, select

from railguard.store._control_schema import dashboard_sessions
from railguard.store._store import Store


@dataclass(frozen=True, slots=True)
class Session:
    key_id: str
    csrf: str
    expires_at: float


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


class Sessions:
    def __init__(self, store: Store, *, ttl_s: float = 12 * 3600.0) -> None:
        store.migrate()
        self.store = store
        self.ttl_s = ttl_s

    def create(self, key_id: str) -> tuple[str, Session]:
        """A new session: (the id for the cookie, shown once; the session)."""
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        session = Session(key_id, secrets.token_urlsafe(24), now + self.ttl_s)
        with self.store.write_transaction() as conn:
            conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.expires_at < now))
            conn.execute(
                dashboard_sessions.insert().values(
                    id_hash=_hash(session_id), key_id=key_id, csrf=session.csrf, created_at=now,
                    expires_at=session.expires_at,
                )
            )  # fmt: skip
        return session_id, session

    def get(self, session_id: str) -> Session | None:
        if not session_id or len(session_id) > 200:
            return None
        with self.store.read_connection() as conn:
            row = conn.execute(
                select(dashboard_sessions).where(dashboard_sessions.c.id_hash == _hash(session_id))
            ).first()
        if row is None or row.expires_at < time.time():
            return None
        return Session(row.key_id, row.csrf, float(row.expires_at))

    def end(self, session_id: str) -> None:
        with self.store.write_transaction() as conn:
            conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.id_hash == _hash(session_id)))

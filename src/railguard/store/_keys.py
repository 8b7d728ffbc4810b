"""API keys: tenant, role and name per key, stored as the key's SHA-256 (the key itself is shown once,
at creation, and never stored, logged or audited).

    ring = KeyRing(store)
    created = ring.create(tenant="acme", role="agent", name="support-bot", actor="cli")
    print(created.key)                      # rg_...: give it to the agent now; it cannot be shown again
    ring.authenticate(created.key)          # -> ApiKey(tenant="acme", role="agent", ...) or None

Roles: agent (evaluate, ingest, wait on its approvals), viewer (read), approver (viewer + decide
approvals), admin (everything in its tenant). Tenant "*" is every tenant (only with role admin).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from railguard.errors import ConfigurationError
from railguard.store import _audit
from railguard.store._control_schema import api_keys
from railguard.store._store import Store

ROLES = ("agent", "viewer", "approver", "admin")
ALL_TENANTS = "*"
KEY_PREFIX = "rg_"
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_LAST_USED_EVERY_S = 60.0  # last_used_at is a hint: at most one write per key per minute


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def check_tenant(tenant: str, *, allow_all: bool = True) -> str:
    """A tenant name as keys and URLs carry it; raises ConfigurationError saying what is allowed."""
    if tenant == ALL_TENANTS and allow_all:
        return tenant
    if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant):
        raise ConfigurationError(
            f"invalid tenant {str(tenant)[:40]!r}: use 1-128 characters from letters, digits and ._:@- "
            "starting with a letter or digit" + (", or '*' for every tenant" if allow_all else "")
        )
    return tenant


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as stored (no secret in it)."""

    id: str
    tenant: str
    role: str
    name: str
    created_at: float
    created_by: str | None = None
    last_used_at: float | None = None
    revoked_at: float | None = None
    rate_per_s: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def all_tenants(self) -> bool:
        return self.tenant == ALL_TENANTS

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "role": self.role,
            "name": self.name,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
            "rate_per_s": self.rate_per_s,
        }


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """The stored key and, once, the secret to hand over."""

    info: ApiKey
    key: str

    def __repr__(self) -> str:  # never print the secret by accident
        return f"CreatedKey(info={self.info!r}, key='rg_***')"


class KeyNotFound(ConfigurationError):
    """No key with that id in the caller's tenant."""


class KeyRing:
    def __init__(self, store: Store, *, clock: Any = time.time) -> None:
        store.migrate()
        self.store = store
        self._clock = clock

    def create(
        self,
        *,
        tenant: str,
        role: str,
        name: str | None = None,
        actor: str,
        rate_per_s: float | None = None,
    ) -> CreatedKey:
        check_tenant(tenant)
        if role not in ROLES:
            raise ConfigurationError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        if tenant == ALL_TENANTS and role != "admin":
            raise ConfigurationError("a key for every tenant ('*') must have role admin")
        if rate_per_s is not None and rate_per_s <= 0:
            raise ConfigurationError("rate_per_s must be positive (or omitted for the server default)")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        info = ApiKey(
            id=secrets.token_hex(6),
            tenant=tenant,
            role=role,
            name=(name or f"{role}-key")[:256],
            created_at=self._clock(),
            created_by=actor,
            rate_per_s=rate_per_s,
        )
        with self.store.write_transaction() as conn:
            conn.execute(api_keys.insert().values(key_hash=hash_key(key), **info.to_dict()))
            _audit.append(
                conn,
                tenant=tenant,
                actor=actor,
                action="key.create",
                subject=info.id,
                details={"role": role, "name": info.name},
                now=info.created_at,
            )
        return CreatedKey(info, key)

    def authenticate(self, key: str) -> ApiKey | None:
        """The active key with this secret, or None (unknown, revoked, malformed)."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        with self.store.read_connection() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_hash == hash_key(key))).first()
        if row is None or row.revoked_at is not None:
            return None
        info = _key(row)
        now = self._clock()
        if info.last_used_at is None or now - info.last_used_at > _LAST_USED_EVERY_S:
            with self.store.write_transaction() as conn:
                conn.execute(update(api_keys).where(api_keys.c.id == info.id).values(last_used_at=now))
        return info

    def list(self, *, tenant: str | None, include_revoked: bool = True) -> list[ApiKey]:
        """Keys of `tenant` (None: every tenant, for global admins), newest first."""
        query = select(api_keys)
        if tenant is not None:
            query = query.where(api_keys.c.tenant == tenant)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with self.store.read_connection() as conn:
            rows = conn.execute(query.order_by(api_keys.c.created_at.desc(), api_keys.c.id)).all()
        return [_key(row) for row in rows]

    def get(self, key_id: str, *, tenant: str | None) -> ApiKey:
        query = select(api_keys).where(api_keys.c.id == key_id)
        if tenant is not None:
            query = query.where(api_keys.c.tenant == tenant)
        with self.store.read_connection() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise KeyNotFound(f"no key {key_id[:40]!r}" + (f" in tenant {tenant!r}" if tenant else ""))
        return _key(row)

    def revoke(self, key_id: str, *, tenant: str | None, actor: str) -> ApiKey:
        """Revoke a key of `tenant` (None: any tenant). Revoking twice is a no-op."""
        info = self.get(key_id, tenant=tenant)
        if info.revoked_at is not None:
            return info
        now = self._clock()
        with self.store.write_transaction() as conn:
            done = conn.execute(
                update(api_keys)
                .where(api_keys.c.id == info.id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
            if done:
                _audit.append(
                    conn, tenant=info.tenant, actor=actor, action="key.revoke", subject=info.id,
                    details={"role": info.role, "name": info.name}, now=now,
                )  # fmt: skip
        return self.get(key_id, tenant=tenant)

    def count_active(self) -> int:
        return len(self.list(tenant=None, include_revoked=False))


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        tenant=row.tenant,
        role=row.role,
        name=row.name,
        created_at=float(row.created_at),
        created_by=row.created_by,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        rate_per_s=row.rate_per_s,
    )

"""Who is calling: every request carries `Authorization: Bearer KEY` (or the dashboard's session
cookie); the key gives the tenant and the role. The tenant never comes from a body or a header:
a request that names another tenant is refused with 403, never relabelled.

Roles grant permissions: agent (evaluate, ingest, wait), viewer (read), approver (read, approve),
admin (all of them, and admin). A key of tenant "*" acts in every tenant.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from railguard.server._ratelimit import NEED_STORE, Limiter, RateLimiter, unlimited
from railguard.store import ALL_TENANTS, ApiKey, KeyNotFound, KeyRing, Session, Sessions

PERMISSIONS: dict[str, frozenset[str]] = {  # "describe": read the API's own description (every role)
    "agent": frozenset({"describe", "evaluate", "ingest", "wait"}),
    "viewer": frozenset({"describe", "read"}),
    "approver": frozenset({"describe", "read", "approve"}),
    "admin": frozenset({"describe", "evaluate", "ingest", "wait", "read", "approve", "admin"}),
}
SESSION_COOKIE = "railguard_session"


class AuthError(Exception):
    """401 (no or bad key), 403 (role or tenant), 429 (rate limited, with `retry_after_s`)."""

    def __init__(self, status: int, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after_s = status, message, retry_after_s

    def http(self) -> HTTPException:
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else {}
        if self.retry_after_s is not None:
            headers["Retry-After"] = str(self.retry_after_s)
        return HTTPException(self.status, self.message, headers=headers or None)


@dataclass(frozen=True, slots=True)
class Principal:
    key: ApiKey
    session: Session | None = None  # set when the caller is a dashboard login

    @property
    def actor(self) -> str:
        """Who is recorded as having done something: the key's name and id (never the key)."""
        return f"{self.key.name} ({self.key.id})"

    @property
    def all_tenants(self) -> bool:
        return self.key.tenant == ALL_TENANTS

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.key.role, frozenset())

    def read_scope(self, requested: str | None = None) -> str | None:
        """The tenant to filter reads by: the key's own (naming another is 403); a "*" key reads
        `requested`, or every tenant when None."""
        if self.all_tenants:
            return requested
        if requested is not None and requested != self.key.tenant:
            raise AuthError(
                403, f"this key belongs to tenant {self.key.tenant!r}; it cannot act on another tenant"
            )
        return self.key.tenant

    def tenant_for(self, requested: str | None) -> str:
        """The one tenant a write or a check acts in (a "*" key must name it)."""
        scope = self.read_scope(requested)
        if scope is None:
            raise AuthError(
                400, "this key acts in every tenant: name the tenant (context.tenant or ?tenant=)"
            )
        return scope


class Authenticator:
    """Keys looked up by hash, cached for `cache_s` from the start of the lookup (a revocation
    reaches every replica within it; on the replica that revoked, at once: `forget`). The hot path
    never waits on the store for a known key: concurrent requests with a key not cached share one
    lookup, and a key used in the second half of its window is looked up again in the background
    while the cached answer, still within its bound, serves. `limiter`: per-key rate limits
    (default: in this process; see _ratelimit.py for the one shared by replicas)."""

    def __init__(
        self,
        keys: KeyRing,
        *,
        default_rate_per_s: float = 1000.0,
        cache_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        limiter: Limiter | None = None,
    ) -> None:
        self.keys = keys
        self.default_rate_per_s = default_rate_per_s
        self.cache_s = cache_s
        self.limiter: Limiter = limiter or RateLimiter(clock)
        self._clock = clock
        # secret -> (key or None, when its lookup started)
        self._cache: OrderedDict[str, tuple[ApiKey | None, float]] = OrderedDict()
        self._pending: dict[str, concurrent.futures.Future[ApiKey | None]] = {}
        self._generation = 0  # bumped by `forget`: a lookup started before it is not cached
        self._lock = threading.Lock()
        self._lookups: concurrent.futures.ThreadPoolExecutor | None = None
        self.sessions = Sessions(keys.store)

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()
            self._pending.clear()  # a lookup already under way may predate the revocation
            self._generation += 1

    def close(self) -> None:
        with self._lock:
            lookups, self._lookups = self._lookups, None
        if lookups is not None:
            lookups.shutdown(wait=True)

    async def principal(self, secret: str | None) -> Principal:
        if not secret:
            raise AuthError(
                401, "an 'Authorization: Bearer <key>' header is required (railguard keys create)"
            )
        if self.cache_s <= 0:
            key = await run_in_threadpool(self.keys.authenticate, secret)
        else:
            found = self._cached(secret)
            if found is None:  # shielded: a caller that leaves does not cancel the others' lookup
                key = await asyncio.shield(asyncio.wrap_future(self._lookup(secret)))
            else:
                key = found[0]
        if key is None:
            raise AuthError(401, "unknown or revoked key")
        return await self._admit(key, None)

    async def session_principal(self, session_id: str) -> Principal:
        """The key behind a dashboard session (its login may have been revoked since)."""

        def lookup() -> tuple[ApiKey | None, Session | None]:
            session = self.sessions.get(session_id)
            if session is None:
                return None, None
            try:
                return self.keys.get(session.key_id, tenant=None), session
            except KeyNotFound:
                return None, None

        key, session = await run_in_threadpool(lookup)
        if key is None or session is None or not key.active:
            raise AuthError(401, "not logged in (or the session's key was revoked): log in again at /login")
        return await self._admit(key, session)

    async def _admit(self, key: ApiKey, session: Session | None) -> Principal:
        rate = key.rate_per_s or self.default_rate_per_s
        if unlimited(rate):
            return Principal(key, session)
        taken = self.limiter.take(key.id, rate)
        if taken is NEED_STORE:  # a shared limiter's share ran out: claim more, off the event loop
            wait = await run_in_threadpool(self.limiter.claim, key.id, rate)
        else:
            wait = taken if isinstance(taken, int) else None
        if wait is not None:
            raise AuthError(429, f"rate limit of key {key.id} exceeded; retry in {wait}s", retry_after_s=wait)
        return Principal(key, session)

    def _cached(self, secret: str) -> tuple[ApiKey | None] | None:
        """The cached answer while within its bound (refreshed in the background past half of it)."""
        now = self._clock()
        with self._lock:
            hit = self._cache.get(secret)
            if hit is None or now >= hit[1] + self.cache_s:
                return None
            if now < hit[1] + self.cache_s / 2 or secret in self._pending:
                return (hit[0],)
        self._lookup(secret)
        return (hit[0],)

    def _lookup(self, secret: str) -> concurrent.futures.Future[ApiKey | None]:
        """The store lookup of `secret`: the one under way, else a new one (cached when done)."""
        with self._lock:
            pending = self._pending.get(secret)
            if pending is not None:
                return pending
            if self._lookups is None:
                self._lookups = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="railguard-keys")
            started, generation = self._clock(), self._generation
            pending = self._lookups.submit(self.keys.authenticate, secret)
            self._pending[secret] = pending

        def done(future: concurrent.futures.Future[ApiKey | None]) -> None:
            with self._lock:
                if self._pending.get(secret) is future:
                    del self._pending[secret]
                if future.cancelled() or future.exception() is not None or generation != self._generation:
                    return
                self._cache[secret] = (future.result(), started)
                self._cache.move_to_end(secret)
                while len(self._cache) > 10_000:
                    self._cache.popitem(last=False)

        pending.add_done_callback(done)
        return pending


def bearer(request: Request) -> str | None:
    return bearer_of(request.headers.get("authorization", ""))


def bearer_of(authorization: str) -> str | None:
    """The key of an `Authorization: Bearer KEY` header's value, else None."""
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip()
    return None


def permitted(principal: Principal, permission: str) -> Principal:
    """`principal` if its role grants `permission`; else AuthError 403."""
    if not principal.can(permission):
        raise AuthError(403, f"role {principal.key.role!r} may not {permission} (key {principal.key.id})")
    return principal


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def authenticate(request: Request, permission: str, *, csrf: str | None = None) -> Principal:
    """The caller, with `permission`; raises AuthError otherwise. A bearer key wins; else the
    dashboard session cookie, whose changes (POST...) must carry its CSRF token (`csrf`, from a
    form field, or the X-CSRF-Token header)."""
    auth: Authenticator = request.app.state.auth
    secret = bearer(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    if secret is None and session_id:
        principal = await auth.session_principal(session_id)
        sent = csrf if csrf is not None else request.headers.get("x-csrf-token", "")
        expected = principal.session.csrf if principal.session else ""
        if request.method not in _SAFE_METHODS and not hmac.compare_digest(sent.encode(), expected.encode()):
            raise AuthError(403, "missing or wrong CSRF token: reload the page and try again")
    else:
        principal = await auth.principal(secret)
    return permitted(principal, permission)


def require(permission: str) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the authenticated caller holding `permission`."""

    async def dependency(request: Request) -> Principal:
        try:
            principal = await authenticate(request, permission)
        except AuthError as err:
            raise err.http() from None
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{permission}"
    return dependency

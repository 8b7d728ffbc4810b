"""The server's scheduled heartbeat (`railguard serve --heartbeat-every 15m --notify ...`).

A daemon thread wakes at each interval boundary, claims the interval's slot in the store (a lease row
moved forward by a conditional update: of N replicas or workers on one database exactly one claims a
slot), then runs diagnosis + the heartbeat once per tenant, each tenant with its own memory of what
was sent, its own message, and its own stored result (GET /v1/heartbeat). Nothing here may stop the
server: a failed beat is logged, stored as the tenant's result with its error, and, when the store
itself is unreachable, sent to the targets as a critical item.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, union

from railguard.alert._tables import leases
from railguard.alert.heartbeat import BeatResult, HeartbeatConfig, beat, save_result, store_unreachable
from railguard.alert.notifiers import Message, Target, deliver, parse_targets
from railguard.store import Store

log = logging.getLogger("railguard.heartbeat")
LEASE = "server-heartbeat"
BEAT_NAME = "server"
NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class HeartbeatSchedule:
    """`every_s`: the interval; `targets`: notify targets (webhook:..., slack:..., smtp://...);
    `link_base`: the dashboard's URL for the items' links."""

    every_s: float
    targets: tuple[str, ...] = ()
    renotify_s: float = 24 * 3600
    link_base: str | None = None
    since_s: float = 7 * 86_400

    def __post_init__(self) -> None:
        if self.every_s <= 0:
            raise ValueError("the heartbeat interval must be positive (e.g. 15m)")
        parse_targets(self.targets)  # a bad target fails at start, not at the first beat


@dataclass
class TickResult:
    claimed: bool
    beats: dict[str, BeatResult] = field(default_factory=dict)  # tenant -> result
    errors: list[str] = field(default_factory=list)


class HeartbeatScheduler:
    def __init__(
        self,
        store: Store,
        schedule: HeartbeatSchedule,
        *,
        holder: str | None = None,
        clock: Callable[[], float] = time.time,
        send: Callable[[Target, Message], None] = deliver,
    ) -> None:
        self.store = store
        self.schedule = schedule
        self.targets = parse_targets(schedule.targets)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._clock = clock
        self._send = send
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0  # slots this process claimed and ran
        self.last: TickResult | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="railguard-heartbeat", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def _loop(self) -> None:
        every = self.schedule.every_s
        while not self._stop.is_set():
            now = self._clock()
            if self._stop.wait(max(0.0, every - now % every)):  # sleep to the next slot boundary
                return
            try:
                self.tick()
            except Exception:  # tick reports its own failures; this keeps the schedule alive regardless
                log.exception("heartbeat: unexpected failure; the next interval tries again")

    def tick(self, now: float | None = None) -> TickResult:
        """Claim the current slot and, when this process got it, beat every tenant. Never raises."""
        now = self._clock() if now is None else now
        try:
            claimed = claim_slot(self.store, now - now % self.schedule.every_s, self.holder, now)
        except Exception as e:  # the store is down: say so to the targets, keep serving
            log.error("heartbeat: cannot claim the schedule (%s)", type(e).__name__)
            result = store_unreachable(str(e), self.targets, self._send)
            self.last = TickResult(True, {"*": result}, [str(e), *result.notify_errors])
            return self.last
        self.last = TickResult(claimed)
        if not claimed:
            return self.last
        self.ticks += 1
        try:
            tenants = beat_tenants(self.store, now - self.schedule.since_s)
        except Exception as e:
            log.error("heartbeat: cannot list tenants (%s)", type(e).__name__)
            self.last.errors.append(str(e))
            self.last.beats["*"] = store_unreachable(str(e), self.targets, self._send)
            return self.last
        for tenant in tenants:
            self._beat_one(tenant, now)
        return self.last

    def _beat_one(self, tenant: str, now: float) -> None:
        assert self.last is not None
        config = HeartbeatConfig(
            renotify_s=self.schedule.renotify_s,
            link_base=self.schedule.link_base,
            since_s=self.schedule.since_s,
            tenant=tenant,
        )
        try:
            result = beat(
                self.store, targets=self.targets, config=config, now=now, name=BEAT_NAME, send=self._send
            )
        except Exception as e:  # one tenant's failure never stops the others, nor the server
            problem = f"{type(e).__name__}: {str(e)[:300]}"
            log.error("heartbeat for tenant %r failed: %s", tenant, problem)
            self.last.errors.append(problem)
            try:
                save_result(self.store, f"{BEAT_NAME}@{tenant}", tenant, None, now, error=problem)
            except Exception:
                log.error("heartbeat: cannot record the failure for tenant %r", tenant)
            return
        self.last.beats[tenant] = result
        for problem in result.notify_errors:
            log.warning("heartbeat for tenant %r: %s", tenant, problem)


def claim_slot(store: Store, slot_start: float, holder: str, now: float) -> bool:
    """True when this caller moved the lease to the interval starting at `slot_start` (it beats this
    interval); False when another replica claimed it first."""
    store.migrate()
    with store.read_connection() as conn:
        exists = conn.execute(select(leases.c.slot_start).where(leases.c.name == LEASE)).first()
    if exists is None:
        try:
            with store.write_transaction() as conn:
                conn.execute(leases.insert().values(name=LEASE, slot_start=-1.0, holder="", claimed_at=now))
        except Exception:  # another replica inserted it at the same moment: fine
            log.debug("heartbeat lease row created concurrently")
    with store.write_transaction() as conn:
        moved = conn.execute(
            leases.update()
            .where(leases.c.name == LEASE, leases.c.slot_start < slot_start)
            .values(slot_start=slot_start, holder=holder, claimed_at=now)
        ).rowcount
    return bool(moved)


def beat_tenants(store: Store, since: float) -> list[str]:
    """Tenants to beat: those with keys, recent runs, or open findings (a key of every tenant, "*", is
    not a tenant; runs recorded without a tenant are left to `railguard heartbeat`, which reads all)."""
    from railguard.diagnose._tables import findings
    from railguard.store._control_schema import api_keys
    from railguard.store._schema import runs

    query = union(
        select(api_keys.c.tenant.label("tenant")).where(api_keys.c.revoked_at.is_(None)),
        select(runs.c.tenant).where(runs.c.start_ns >= int(since * NS), runs.c.tenant.is_not(None)),
        select(findings.c.tenant).where(findings.c.status == "open"),
    )
    with store.read_connection() as conn:
        found = {row[0] for row in conn.execute(query)}
    return sorted(t for t in found if t and t != "*")  # data without a tenant: `railguard heartbeat`


def parse_every(text: str) -> float:
    """30s, 15m, 2h, 1d -> seconds (ValueError otherwise)."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}
    value = text.strip()
    try:
        seconds = float(value[:-1]) * units[value[-1:]]
    except (KeyError, ValueError):
        raise ValueError(f"cannot read the interval {text!r}: use 30s, 15m, 2h or 1d") from None
    if seconds <= 0:
        raise ValueError(f"the interval {text!r} must be positive")
    return seconds


def targets_from_env(value: str | None) -> tuple[str, ...]:
    """RAILGUARD_HEARTBEAT_NOTIFY: targets separated by whitespace."""
    return tuple((value or "").split())


def schedule_from_env(environ: Sequence[tuple[str, str]] | None = None) -> HeartbeatSchedule | None:
    env = dict(environ) if environ is not None else dict(os.environ)
    every = env.get("RAILGUARD_HEARTBEAT_EVERY")
    if not every:
        return None
    return HeartbeatSchedule(
        parse_every(every),
        targets_from_env(env.get("RAILGUARD_HEARTBEAT_NOTIFY")),
        link_base=env.get("RAILGUARD_HEARTBEAT_LINK_BASE") or None,
    )

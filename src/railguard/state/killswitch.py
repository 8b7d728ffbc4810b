"""Kill switches: stop every agent, one tenant, one agent or one tool, across processes, without a restart.

    KillSwitch(store).engage(agent="support", reason="refund loop", by="oncall")   # or the CLI
    install_killswitch(engine, store)        # engines see it within ~refresh_s, blocking with
                                             # source="killswitch"

A switch is a (tenant, agent, tool) triple where each part may be "any"; a call is stopped when an
engaged switch matches it. Engines never query the store per check: a background thread refreshes an
in-memory snapshot every `refresh_s`. If the store cannot be read for longer than `grace_s`, the step
fails closed and blocks every call, because "we cannot tell whether the switch is on" must not mean
"off" (pass a large grace to prefer availability).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from railguard._pipeline import Stop
from railguard.model import Action, Mode, RuleHit, Severity, Verdict
from railguard.state._tables import kill_switches
from railguard.store import Store

if TYPE_CHECKING:
    from railguard.engine import Engine, Facts

_Key = tuple[str, str, str]  # (tenant, agent, tool); "" = any


@dataclass(frozen=True, slots=True)
class Switch:
    tenant: str | None
    agent: str | None
    tool: str | None
    engaged: bool
    reason: str
    changed_by: str
    changed_at: float

    @property
    def scope(self) -> str:
        """A readable name for what it stops: "global", "tenant=acme agent=support", ..."""
        parts = [
            f"{k}={v}" for k, v in (("tenant", self.tenant), ("agent", self.agent), ("tool", self.tool)) if v
        ]
        return " ".join(parts) or "global"

    def to_dict(self) -> dict[str, object]:
        return {
            "scope": self.scope,
            "tenant": self.tenant,
            "agent": self.agent,
            "tool": self.tool,
            "engaged": self.engaged,
            "reason": self.reason,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at,
        }


class KillSwitch:
    """Engage, release and list switches in the store (the CLI and the server call this)."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        store.migrate()  # our table's migration registers on import, possibly after the store opened
        self.store = store
        self._clock = clock

    def engage(
        self,
        *,
        tenant: str | None = None,
        agent: str | None = None,
        tool: str | None = None,
        reason: str = "",
        by: str = "api",
    ) -> Switch:
        return self._set(True, tenant, agent, tool, reason, by)

    def release(
        self,
        *,
        tenant: str | None = None,
        agent: str | None = None,
        tool: str | None = None,
        reason: str = "",
        by: str = "api",
    ) -> Switch:
        return self._set(False, tenant, agent, tool, reason, by)

    def status(self, *, engaged_only: bool = False) -> list[Switch]:
        query = select(kill_switches).order_by(
            kill_switches.c.tenant, kill_switches.c.agent, kill_switches.c.tool
        )
        if engaged_only:
            query = query.where(kill_switches.c.engaged.is_(True))
        with self.store.read_connection() as conn:
            return [_switch(row._mapping) for row in conn.execute(query)]

    def engaged(self) -> dict[_Key, Switch]:
        """The engaged switches by key: what the engine step caches."""
        return {(s.tenant or "", s.agent or "", s.tool or ""): s for s in self.status(engaged_only=True)}

    def _set(
        self, engaged: bool, tenant: str | None, agent: str | None, tool: str | None, reason: str, by: str
    ) -> Switch:
        values = {
            "tenant": tenant or "",
            "agent": agent or "",
            "tool": tool or "",
            "engaged": engaged,
            "reason": reason,
            "changed_by": by,
            "changed_at": self._clock(),
        }
        with self.store.write_transaction() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(kill_switches).values(values)
            changed = {k: v for k, v in values.items() if k not in ("tenant", "agent", "tool")}
            conn.execute(stmt.on_conflict_do_update(index_elements=["tenant", "agent", "tool"], set_=changed))
        return _switch(values)


def _switch(m: object) -> Switch:
    row = dict(m)  # type: ignore[call-overload]
    return Switch(
        tenant=row["tenant"] or None,
        agent=row["agent"] or None,
        tool=row["tool"] or None,
        engaged=bool(row["engaged"]),
        reason=row["reason"],
        changed_by=row["changed_by"],
        changed_at=row["changed_at"],
    )


class KillSwitchStep:
    """The "killswitch" stage step: reads a snapshot refreshed in the background, never the store."""

    def __init__(self, store: Store, *, refresh_s: float = 0.5, grace_s: float = 10.0) -> None:
        self.switches = KillSwitch(store)
        self.refresh_s = refresh_s
        self.grace_s = grace_s
        self.refreshes = 0
        self.refresh_errors = 0
        self._snapshot: dict[_Key, Switch] = {}
        self._last_ok = (
            time.monotonic()
        )  # the grace starts now: a store down from the start also fails closed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> KillSwitchStep:
        self.refresh()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="railguard-killswitch", daemon=True)
            self._thread.start()
        return self

    def refresh(self) -> bool:
        """Read the engaged switches once; False (and counted) when the store could not be read."""
        try:
            snapshot = self.switches.engaged()
        except Exception:
            self.refresh_errors += 1
            return False
        self._snapshot = snapshot  # one reference swap: checks see the old or the new dict, never half
        self._last_ok = time.monotonic()
        self.refreshes += 1
        return True

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_s):
            self.refresh()

    def __call__(self, action: Action, facts: Facts) -> Stop | None:
        """An engaged switch (or an unreadable state) ends the chain: nothing after it may matter."""
        hit = self.hit(action)
        return None if hit is None else Stop(hit)

    def hit(self, action: Action) -> RuleHit | None:
        snapshot = self._snapshot
        stale_s = time.monotonic() - self._last_ok
        if stale_s > self.grace_s:
            return RuleHit(
                "killswitch/unknown",
                Verdict.BLOCK,
                f"the kill switch state could not be read for {stale_s:.0f}s (grace {self.grace_s:g}s); "
                "failing closed until the store is reachable again",
                Severity.CRITICAL,
                Mode.ENFORCE,
                "killswitch",
            )
        if not snapshot:
            return None
        ctx = action.context
        for tenant in {ctx.tenant or "", ""}:
            for agent in {ctx.agent or "", ""}:
                for tool in {action.tool, ""}:
                    switch = snapshot.get((tenant, agent, tool))
                    if switch is not None:
                        because = f": {switch.reason}" if switch.reason else ""
                        return RuleHit(
                            "killswitch/engaged",
                            Verdict.BLOCK,
                            f"stopped by the kill switch ({switch.scope}, by {switch.changed_by}){because}",
                            Severity.CRITICAL,
                            Mode.ENFORCE,
                            "killswitch",
                        )
        return None


def install_killswitch(
    engine: Engine, store: Store, *, refresh_s: float = 0.5, grace_s: float = 10.0
) -> KillSwitchStep:
    """Add the kill switch step to `engine` and start its refresher (`.close()` stops it)."""
    step = KillSwitchStep(store, refresh_s=refresh_s, grace_s=grace_s).start()
    engine.add_step(step, stage="killswitch", name="killswitch")
    return step

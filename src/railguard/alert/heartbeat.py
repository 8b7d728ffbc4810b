"""The heartbeat: run the checks on what changed since the last beat and speak only when a person is
needed. `beat(store)` returns the items (most important first); the CLI prints `HEARTBEAT_OK` when
there are none.

Checks: open findings of medium severity or more (the detectors run incrementally first); approvals
waiting longer than their notify delay; kill switches left on; budgets at their warn level; agents
that stopped reporting (no runs in a window where their usual rate predicts many); tracing that
dropped spans in this process; notifications that failed on an earlier beat.

Dedup: a problem is sent when it is new, when it got worse, or when `renotify_s` passed since it was
last sent; a problem that went away is forgotten, so its return is new again.
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select

from railguard.alert._tables import alert_state, beat_results, beats, outbox
from railguard.alert.notifiers import Message, NotifyError, Target, deliver, parse_target
from railguard.diagnose import list_findings, run_detectors, severity_rank
from railguard.store import Store
from railguard.store._schema import runs, spans

MAX_ITEMS = 5
NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Item:
    key: str  # what makes two beats' items the same problem
    severity: str
    text: str
    link: str

    def line(self) -> str:
        return f"[{self.severity}] {self.text} -> {self.link}"


@dataclass
class BeatResult:
    items: list[Item]  # every item, most important first
    sent: list[Item] = field(default_factory=list)  # notified on this beat
    notify_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.items

    def lines(self) -> list[str]:
        return ["HEARTBEAT_OK"] if self.ok else [i.line() for i in self.items[:MAX_ITEMS]]


@dataclass(frozen=True, slots=True)
class HeartbeatConfig:
    renotify_s: float = 24 * 3600
    approval_delay_s: float = 15 * 60
    killswitch_after_s: float = 3600
    silence_s: float = 3600  # an agent silent this long when its usual rate predicts many runs
    since_s: float = 7 * 86_400  # the detectors' window
    link_base: str | None = None  # e.g. the dashboard's URL; CLI commands otherwise
    tenant: str | None = None  # one tenant's beat (the server's); None: every tenant (an admin's)


def beat(
    store: Store,
    *,
    targets: Sequence[Target | str] = (),
    config: HeartbeatConfig | None = None,
    now: float | None = None,
    name: str = "default",
    dropped_spans: int | None = None,
    send: Callable[[Target, Message], None] = deliver,
) -> BeatResult:
    """One heartbeat. `dropped_spans`: this process's tracing drop count, when the caller has one. Beats
    with different `name`s (or tenants) keep separate memories of what they sent."""
    cfg = config or HeartbeatConfig()
    name = f"{name}@{cfg.tenant}" if cfg.tenant is not None else name
    now = time.time() if now is None else now
    store.migrate()
    resolved = [t if isinstance(t, Target) else parse_target(t) for t in targets]
    retry_errors = _retry_outbox(store, resolved, send)
    items = _failed_notifications(store)
    items += _findings(store, cfg, now)
    items += _waiting_approvals(store, cfg, now)
    items += _kill_switches(store, cfg, now)
    items += _budget_warnings(store, name, cfg, now)
    items += _silent_agents(store, cfg, now)
    if dropped_spans:
        items.append(
            Item(
                "tracing:dropped",
                "high",
                f"tracing dropped {dropped_spans} spans in this process",
                "railguard traces list",
            )
        )
    items.sort(key=lambda i: -severity_rank(i.severity))
    result = BeatResult(items)
    due = _due(store, items, cfg, now, name)
    result.notify_errors = retry_errors
    if due and resolved:
        message = Message(
            subject=f"Railguard{f' [{cfg.tenant}]' if cfg.tenant else ''}: {len(items)} item(s) need attention",
            lines=tuple(i.line() for i in items[:MAX_ITEMS]),
            items=tuple(asdict(i) for i in items[:MAX_ITEMS]),
        )
        for target in resolved:
            try:
                send(target, message)
            except NotifyError as e:
                result.notify_errors.append(str(e))
                _queue(store, target, message, str(e), now)
        result.sent = due
    _remember(store, items, due if resolved else [], name, now)
    save_result(store, name, cfg.tenant, result, now)
    return result


def save_result(
    store: Store,
    name: str,
    tenant: str | None,
    result: BeatResult | None,
    now: float,
    error: str | None = None,
) -> None:
    """Keep the latest result of beat `name` (what GET /v1/heartbeat and the dashboard show). A beat
    that could not run keeps its previous items and records `error`."""
    values: dict[str, Any] = {"tenant": tenant if tenant is not None else "*", "beat_at": now, "error": error}
    if result is not None:
        values.update(
            ok=int(result.ok),
            items=[asdict(i) for i in result.items],
            sent=len(result.sent),
            notify_errors=list(result.notify_errors),
        )
    with store.write_transaction() as conn:
        updated = conn.execute(
            beat_results.update().where(beat_results.c.name == name).values(**values)
        ).rowcount
        if not updated:
            defaults = {"ok": 0, "items": [], "sent": 0, "notify_errors": []}
            conn.execute(beat_results.insert().values(name=name, **{**defaults, **values}))


def latest_beat(store: Store, tenant: str | None) -> dict[str, Any] | None:
    """The most recent beat result of `tenant` (None: the beats over every tenant), or None."""
    store.migrate()
    with store.read_connection() as conn:
        row = conn.execute(
            select(beat_results)
            .where(beat_results.c.tenant == (tenant if tenant is not None else "*"))
            .order_by(beat_results.c.beat_at.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    items = [dict(i) for i in row.items]
    return {
        "name": row.name,
        "tenant": row.tenant,
        "beat_at": row.beat_at,
        "status": "ERROR" if row.error else "HEARTBEAT_OK" if row.ok else "ATTENTION",
        "ok": bool(row.ok) and not row.error,
        "items": items,
        "lines": ["HEARTBEAT_OK"] if row.ok else [Item(**i).line() for i in items[:MAX_ITEMS]],
        "sent": row.sent,
        "notify_errors": list(row.notify_errors),
        "error": row.error,
    }


def _link(cfg: HeartbeatConfig, path: str, command: str) -> str:
    return f"{cfg.link_base.rstrip('/')}/{path}" if cfg.link_base else command


# -- the checks ------------------------------------------------------------------------------------


def _findings(store: Store, cfg: HeartbeatConfig, now: float) -> list[Item]:
    run_detectors(store, since=now - cfg.since_s, until=now, tenant=cfg.tenant, incremental=True, now=now)
    out = []
    for f in list_findings(store, tenant=cfg.tenant, status="open", limit=500):
        if severity_rank(f.severity) >= 1:
            out.append(
                Item(
                    f"finding:{f.id}",
                    f.severity,
                    f"{f.kind}: {f.summary}",
                    _link(cfg, f"findings/{f.id}", f"railguard findings show {f.id}"),
                )
            )
    return out


def _waiting_approvals(store: Store, cfg: HeartbeatConfig, now: float) -> list[Item]:
    from railguard.state._tables import approvals

    store.migrate()
    query = (
        select(approvals.c.tenant, approvals.c.tool, func.count(), func.min(approvals.c.created_at))
        .where(approvals.c.status == "pending", approvals.c.created_at <= now - cfg.approval_delay_s)
        .where(*([approvals.c.tenant == cfg.tenant] if cfg.tenant is not None else []))
        .group_by(approvals.c.tenant, approvals.c.tool)
    )
    with store.read_connection() as conn:
        rows = conn.execute(query).all()
    return [
        Item(
            f"approvals:{tenant}:{tool}",
            "high",
            f"{n} approval(s) for {tool} ({tenant or 'no tenant'}) waiting, the oldest for {_ago(now - oldest)}",
            _link(cfg, "approvals", "railguard approvals list"),
        )
        for tenant, tool, n, oldest in rows
    ]


def _kill_switches(store: Store, cfg: HeartbeatConfig, now: float) -> list[Item]:
    from railguard.state._tables import kill_switches as ks

    query = select(ks.c.tenant, ks.c.agent, ks.c.tool, ks.c.reason, ks.c.changed_at).where(
        ks.c.engaged.is_(True), ks.c.changed_at <= now - cfg.killswitch_after_s
    )
    if cfg.tenant is not None:  # the tenant's own switches and the global ones that stop it too
        query = query.where(ks.c.tenant.in_((cfg.tenant, "")))
    with store.read_connection() as conn:
        rows = conn.execute(query).all()
    out = []
    for tenant, agent, tool, reason, changed_at in rows:
        scope = "/".join(x or "*" for x in (tenant, agent, tool))
        out.append(
            Item(
                f"killswitch:{scope}",
                "high",
                f"kill switch {scope} on for {_ago(now - changed_at)}: {reason}",
                _link(cfg, "killswitch", "railguard killswitch list"),
            )
        )
    return out


def _budget_warnings(store: Store, name: str, cfg: HeartbeatConfig, now: float) -> list[Item]:
    """Budget warn hits (rules `<budget>/warn`) recorded since the previous beat."""
    with store.read_connection() as conn:
        last = conn.execute(select(beats.c.last_beat).where(beats.c.name == name)).scalar()
        since = last if last is not None else now - 3600
        rows = conn.execute(
            select(spans.c.tenant, spans.c.agent, spans.c.rules, func.count())
            .where(
                spans.c.start_ns >= int(since * NS),
                spans.c.start_ns < int(now * NS),
                spans.c.rules.like("%/warn%"),
                *([spans.c.tenant == cfg.tenant] if cfg.tenant is not None else []),
            )
            .group_by(spans.c.tenant, spans.c.agent, spans.c.rules)
        ).all()
    out: dict[str, Item] = {}
    for tenant, agent, rules, n in rows:
        for rule in (r for r in (rules or "").split(",") if r.endswith("/warn")):
            key = f"budget:{tenant}:{agent}:{rule}"
            out[key] = Item(
                key,
                "medium",
                f"{agent} ({tenant or 'no tenant'}) is at the warn level of {rule[:-5]} ({n} calls)",
                _link(cfg, "runs", f"railguard traces list --agent {agent}"),
            )
    return list(out.values())


def _silent_agents(store: Store, cfg: HeartbeatConfig, now: float) -> list[Item]:
    """Agents whose usual rate over the last week predicts >= 10 runs in the silence window, and none came
    (P(0 runs) = e^-10 under a Poisson rate: a real stop, not a lull)."""
    recent = now - cfg.silence_s
    history = now - cfg.since_s
    with store.read_connection() as conn:
        rows = conn.execute(
            select(runs.c.tenant, runs.c.agent, func.count(), func.max(runs.c.start_ns))
            .where(
                runs.c.start_ns >= int(history * NS),
                runs.c.start_ns < int(now * NS),
                runs.c.agent.is_not(None),
                *([runs.c.tenant == cfg.tenant] if cfg.tenant is not None else []),
            )
            .group_by(runs.c.tenant, runs.c.agent)
        ).all()
    out = []
    for tenant, agent, n, last_ns in rows:
        last = last_ns / NS
        if last >= recent:
            continue
        active_s = max(last - history, 1.0)
        expected = n / active_s * (now - last)
        if expected >= 10 and math.exp(-expected) < 1e-4:
            out.append(
                Item(
                    f"silent:{tenant}:{agent}",
                    "high",
                    f"{agent} ({tenant or 'no tenant'}) stopped reporting: no run for {_ago(now - last)} "
                    f"(about {expected:.0f} expected)",
                    _link(cfg, "runs", f"railguard traces list --agent {agent}"),
                )
            )
    return out


def _failed_notifications(store: Store) -> list[Item]:
    with store.read_connection() as conn:
        rows = conn.execute(
            select(outbox.c.target_display, func.count(), func.max(outbox.c.last_error)).group_by(
                outbox.c.target_display
            )
        ).all()
    return [
        Item(
            f"notify:{target}",
            "high",
            f"{n} notification(s) to {target} failed ({error}); retrying",
            "railguard heartbeat --notify ...",
        )
        for target, n, error in rows
    ]


# -- dedup and the outbox --------------------------------------------------------------------------


def _state_key(name: str, item_key: str) -> str:
    return f"{name}|{item_key}"


def _known(conn: Any, name: str) -> dict[str, Any]:
    """This beat's memory: item key -> state row."""
    prefix = f"{name}|"
    rows = conn.execute(select(alert_state).where(alert_state.c.key.startswith(prefix, autoescape=True)))
    return {r.key[len(prefix) :]: r for r in rows}


def _due(store: Store, items: list[Item], cfg: HeartbeatConfig, now: float, name: str) -> list[Item]:
    with store.read_connection() as conn:
        known = _known(conn, name)
    due = []
    for item in items:
        row = known.get(item.key)
        if (
            row is None
            or row.last_sent is None
            or severity_rank(item.severity) > severity_rank(row.severity)
            or now - row.last_sent >= cfg.renotify_s
        ):
            due.append(item)
    return due


def _remember(store: Store, items: list[Item], sent: list[Item], name: str, now: float) -> None:
    sent_keys = {i.key for i in sent}
    with store.write_transaction() as conn:
        known = _known(conn, name)
        current = {i.key for i in items}
        for key in set(known) - current:  # gone: its return will be new
            conn.execute(alert_state.delete().where(alert_state.c.key == _state_key(name, key)))
        for item in items:
            row = known.get(item.key)
            sent_now = item.key in sent_keys
            if row is None:
                conn.execute(
                    alert_state.insert().values(
                        key=_state_key(name, item.key),
                        severity=item.severity,
                        first_seen=now,
                        last_seen=now,
                        last_sent=now if sent_now else None,
                        sends=int(sent_now),
                    )
                )
            else:
                values: dict[str, Any] = {"severity": item.severity, "last_seen": now}
                if sent_now:
                    values.update(last_sent=now, sends=row.sends + 1)
                conn.execute(
                    alert_state.update()
                    .where(alert_state.c.key == _state_key(name, item.key))
                    .values(**values)
                )
        updated = conn.execute(beats.update().where(beats.c.name == name).values(last_beat=now)).rowcount
        if not updated:
            conn.execute(beats.insert().values(name=name, last_beat=now))


def _queue(store: Store, target: Target, message: Message, error: str, now: float) -> None:
    with store.write_transaction() as conn:
        conn.execute(
            outbox.insert().values(
                id=str(uuid.uuid4()),
                target=_target_key(target),
                target_display=target.display,
                message=asdict(message),
                created_at=now,
                attempts=1,
                last_error=error,
            )
        )


def _retry_outbox(store: Store, targets: list[Target], send: Callable[[Target, Message], None]) -> list[str]:
    """Deliver what failed before; what still fails stays queued (and keeps being reported)."""
    with store.read_connection() as conn:
        rows = conn.execute(select(outbox).order_by(outbox.c.created_at)).all()
    errors = []
    by_key = {_target_key(t): t for t in targets}
    for row in rows:
        target = by_key.get(row.target)
        if target is None:  # not configured on this beat: kept (and reported) for a beat that has it
            continue
        data = dict(row.message)
        message = Message(
            data["subject"],
            tuple(data["lines"]),
            tuple(data.get("items") or ()),
            data.get("html"),
            data.get("kind") or "railguard.heartbeat",
        )
        try:
            send(target, message)
        except NotifyError as e:
            errors.append(str(e))
            with store.write_transaction() as conn:
                conn.execute(
                    outbox.update()
                    .where(outbox.c.id == row.id)
                    .values(attempts=row.attempts + 1, last_error=str(e))
                )
            continue
        with store.write_transaction() as conn:
            conn.execute(outbox.delete().where(outbox.c.id == row.id))
    return errors


def _target_key(target: Target) -> str:
    """The outbox refers to a target by digest: the target itself may hold a token or a password."""
    return hashlib.sha256(f"{target.kind}:{target.url}".encode()).hexdigest()


def _ago(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


def store_unreachable(
    problem: str, targets: Sequence[Target], send: Callable[[Target, Message], None] = deliver
) -> BeatResult:
    """The beat when the store cannot be opened: one critical item, sent without dedup (there is no
    memory to dedup with); a failed send is reported on stderr by the caller."""
    item = Item(
        "store:unreachable",
        "critical",
        f"the store is unreachable: {problem[:300]}",
        "railguard heartbeat --db ...",
    )
    result = BeatResult([item])
    message = Message("Railguard: the store is unreachable", (item.line(),), (asdict(item),))
    for target in targets:
        try:
            send(target, message)
            result.sent = [item]
        except NotifyError as e:
            result.notify_errors.append(str(e))
    return result

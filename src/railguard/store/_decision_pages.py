"""Decision records in keyset pages with the dashboard's filters, always scoped by tenant
(None: every tenant, for global admins only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, literal, select, tuple_

from railguard.store._queries import MAX_PAGE
from railguard.store._schema import decisions
from railguard.store._store import Store


def _fired(rule: str, dialect: str) -> ColumnElement[bool]:
    """`rule` is one of the comma-joined ids in `rules`: found as a literal substring (no LIKE, so
    `_` and `%` in an id are not wildcards), written as `position > 0`, which PostgreSQL guesses
    matches often: it then walks the newest-first index and stops at a page, where its guess for
    LIKE '%...%' (one row) had it read and sort the whole table."""
    padded = literal(",") + func.coalesce(decisions.c.rules, "") + literal(",")
    position = func.strpos if dialect == "postgresql" else func.instr  # same arguments, same answer
    return position(padded, f",{rule},") > 0


def decision_page(
    store: Store,
    *,
    tenant: str | None,
    verdict: str | None = None,
    rule: str | None = None,
    tool: str | None = None,
    agent: str | None = None,
    run: str | None = None,
    since: float | None = None,
    until: float | None = None,
    before: str | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; returns (records, cursor of the next page or None). `rule` matches one fired rule id."""
    query = select(decisions.c.record, decisions.c.ts, decisions.c.event_id)
    if tenant is not None:
        # A run's few decisions come through the run index and only then is their tenant checked:
        # `tenant || ''` (same value) keeps SQLite without statistics off the tenant's whole range.
        query = query.where(
            (decisions.c.tenant.concat("") if run is not None else decisions.c.tenant) == tenant
        )
    for column, value in ((decisions.c.verdict, verdict), (decisions.c.tool, tool), (decisions.c.agent, agent),
                          (decisions.c.run, run)):  # fmt: skip
        if value is not None:
            query = query.where(column == value)
    if rule is not None:
        query = query.where(_fired(rule, store.dialect))
    if since is not None:
        query = query.where(decisions.c.ts >= since)
    if until is not None:
        query = query.where(decisions.c.ts < until)
    if before is not None:
        ts, _, event_id = before.partition("|")
        try:
            query = query.where(tuple_(decisions.c.ts, decisions.c.event_id) < (float(ts), event_id))
        except ValueError:
            raise ValueError(
                f"invalid page cursor {before[:60]!r}; pass the 'next' of the previous page"
            ) from None
    limit = max(1, min(int(limit), MAX_PAGE))
    query = query.order_by(decisions.c.ts.desc(), decisions.c.event_id.desc()).limit(limit)
    with store.read_connection() as conn:
        rows = conn.execute(query).all()
    cursor = f"{rows[-1].ts!r}|{rows[-1].event_id}" if len(rows) == limit else None
    return [dict(row.record) for row in rows], cursor

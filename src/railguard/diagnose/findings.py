"""Findings: what a detector found, stored once per problem (by fingerprint) with a status.

A finding found again updates its row (last seen, evidence, severity); a resolved finding whose
problem shows new evidence re-opens; a muted one stays muted; an acknowledged one re-opens only when
its severity goes up.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update

from railguard.diagnose._tables import findings as table
from railguard.store import Store

KINDS = (
    "loop",
    "cost_spike",
    "token_bloat",
    "latency_regression",
    "error_rate",
    "model_drift",
    "regression",
    "confidence_drop",
    "violation_cluster",
    "approval_always_granted",
    "approval_always_denied",
)
SEVERITIES = ("low", "medium", "high", "critical")
STATUSES = ("open", "acknowledged", "resolved", "muted")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


@dataclass
class Finding:
    """One problem. `to_json()` is the documented shape; `subject` (the tool, model, rule or version it
    is about) and `detail` (the measured numbers) are there for code that builds on findings."""

    kind: str
    severity: str
    tenant: str
    agent: str
    subject: str
    summary: str
    evidence: list[dict[str, Any]]
    suggestion: str
    confidence: float
    first_seen: float
    last_seen: float
    detail: dict[str, Any] = field(default_factory=dict)
    status: str = "open"
    id: str = ""
    status_by: str | None = None  # who set the status, when, and why (stored findings only)
    status_at: float | None = None
    status_note: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            self.id = finding_id(self.fingerprint)

    @property
    def fingerprint(self) -> str:
        key = "\x1f".join((self.kind, self.tenant, self.agent, self.subject))
        return hashlib.sha256(key.encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "severity": self.severity,
            "agent": self.agent,
            "tenant": self.tenant,
            "summary": self.summary,
            "evidence": self.evidence,
            "suggestion": self.suggestion,
            "confidence": round(self.confidence, 3),
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
        }

    def to_full_json(self) -> dict[str, Any]:
        """The documented shape plus the stored status and the numbers (the API's and `show`'s)."""
        return {
            **self.to_json(),
            "status": self.status,
            "status_by": self.status_by,
            "status_at": self.status_at,
            "status_note": self.status_note,
            "subject": self.subject,
            "detail": self.detail,
        }


def finding_id(fingerprint: str) -> str:
    return "f-" + fingerprint[:12]


def _from_row(row: Any) -> Finding:
    return Finding(
        kind=row.kind,
        severity=row.severity,
        tenant=row.tenant,
        agent=row.agent,
        subject=row.subject,
        summary=row.summary,
        evidence=list(row.evidence),
        suggestion=row.suggestion,
        confidence=row.confidence,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        detail=dict(row.detail),
        status=row.status,
        id=row.id,
        status_by=row.status_by,
        status_at=row.status_at,
        status_note=row.status_note,
    )


@dataclass(frozen=True, slots=True)
class Upserted:
    finding: Finding
    change: str  # new | worse | reopened | updated | unchanged


def save_findings(store: Store, found: list[Finding], *, now: float | None = None) -> list[Upserted]:
    """Insert new findings, update known ones (dedup by fingerprint); returns what changed."""
    now = time.time() if now is None else now
    out: list[Upserted] = []
    with store.write_transaction() as conn:
        for f in sorted(found, key=lambda f: f.fingerprint):
            row = conn.execute(select(table).where(table.c.fingerprint == f.fingerprint)).first()
            values: dict[str, Any] = {
                "severity": f.severity,
                "summary": f.summary,
                "evidence": f.evidence,
                "suggestion": f.suggestion,
                "confidence": f.confidence,
                "detail": f.detail,
            }
            if row is None:
                conn.execute(
                    table.insert().values(
                        id=f.id,
                        fingerprint=f.fingerprint,
                        kind=f.kind,
                        tenant=f.tenant,
                        agent=f.agent,
                        subject=f.subject,
                        first_seen=f.first_seen,
                        last_seen=f.last_seen,
                        status="open",
                        times_seen=1,
                        created_at=now,
                        updated_at=now,
                        worsened_at=now,
                        **values,
                    )
                )
                out.append(Upserted(f, "new"))
                continue
            change, status = _transition(row, f)
            values.update(
                first_seen=min(row.first_seen, f.first_seen),
                last_seen=max(row.last_seen, f.last_seen),
                status=status,
                times_seen=row.times_seen + 1,
                updated_at=now,
            )
            if change in ("worse", "reopened"):
                values["worsened_at"] = now
            conn.execute(update(table).where(table.c.id == row.id).values(**values))
            f.status, f.id = status, row.id
            f.first_seen, f.last_seen = min(row.first_seen, f.first_seen), max(row.last_seen, f.last_seen)
            out.append(Upserted(f, change))
    return out


def _transition(row: Any, f: Finding) -> tuple[str, str]:
    worse = severity_rank(f.severity) > severity_rank(row.severity)
    if row.status == "muted":
        return "unchanged", "muted"
    if row.status == "resolved":
        if f.last_seen > (row.status_at or 0):
            return "reopened", "open"
        return "unchanged", "resolved"
    if worse:
        return "worse", "open"
    return ("updated" if f.last_seen > row.last_seen else "unchanged"), row.status


def list_findings(
    store: Store,
    *,
    tenant: str | None = None,
    agent: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 200,
) -> list[Finding]:
    """Stored findings, most severe and most recent first. tenant=None: every tenant (admin)."""
    query = _filtered(tenant=tenant, agent=agent, status=status, kind=kind)
    with store.read_connection() as conn:
        rows = conn.execute(query.order_by(table.c.last_seen.desc()).limit(max(1, min(limit, 5000)))).all()
    found = [_from_row(r) for r in rows]
    found.sort(key=lambda f: (-severity_rank(f.severity), -f.last_seen))
    return found


def _filtered(
    *,
    tenant: str | None,
    agent: str | None,
    status: str | None,
    kind: str | None,
    severity: str | None = None,
) -> Any:
    """SELECT findings with these filters (None: any); ValueError names the allowed values."""
    query = select(table)
    if tenant is not None:
        query = query.where(table.c.tenant == tenant)
    if agent is not None:
        query = query.where(table.c.agent == agent)
    if status is not None:
        _check_status(status)
        query = query.where(table.c.status == status)
    if kind is not None:
        if kind not in KINDS:
            raise ValueError(f"unknown finding kind {kind[:40]!r}; use one of {', '.join(KINDS)}")
        query = query.where(table.c.kind == kind)
    if severity is not None:
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity[:20]!r}; use one of {', '.join(SEVERITIES)}")
        query = query.where(table.c.severity.in_(SEVERITIES[severity_rank(severity) :]))
    return query


def get_finding(store: Store, finding_id: str, *, tenant: str | None = None) -> Finding:
    query = select(table).where(table.c.id == finding_id)
    if tenant is not None:
        query = query.where(table.c.tenant == tenant)
    with store.read_connection() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise ValueError(f"no finding {finding_id!r}; list them with `railguard findings list`")
    return _from_row(row)


def set_status(
    store: Store,
    finding_id: str,
    status: str,
    *,
    by: str = "",
    note: str | None = None,
    tenant: str | None = None,
    now: float | None = None,
) -> Finding:
    """Acknowledge, resolve, mute or re-open a finding. `tenant` scopes it (another tenant's finding is
    as good as absent). The change and its audit record (action `finding.<status>`) commit together."""
    from railguard.store._audit import append as audit

    _check_status(status)
    before = get_finding(store, finding_id, tenant=tenant)  # a clear error for an unknown id
    query = update(table).where(table.c.id == finding_id)
    if tenant is not None:
        query = query.where(table.c.tenant == tenant)
    with store.write_transaction() as conn:
        conn.execute(
            query.values(
                status=status, status_by=by, status_note=note, status_at=time.time() if now is None else now
            )
        )
        audit(
            conn, tenant=before.tenant or "*", actor=by or "unknown", action=f"finding.{status}",
            subject=finding_id, details={"from": before.status, "kind": before.kind, "note": note or ""},
        )  # fmt: skip
    return get_finding(store, finding_id, tenant=tenant)


def finding_page(
    store: Store,
    *,
    tenant: str | None,
    status: str | None = None,
    kind: str | None = None,
    agent: str | None = None,
    severity: str | None = None,
    since: float | None = None,
    before: str | None = None,
    limit: int = 100,
) -> tuple[list[Finding], str | None]:
    """One keyset page of findings, most recently seen first; `before` is the previous page's cursor.
    `since`: findings seen at or after it. `severity`: that severity or worse. Returns the page and
    the next cursor (None on the last page)."""
    query = _filtered(tenant=tenant, agent=agent, status=status, kind=kind, severity=severity)
    if since is not None:
        query = query.where(table.c.last_seen >= since)
    if before:
        last_seen, _, last_id = before.partition("|")
        try:
            seen = float(last_seen)
        except ValueError:
            raise ValueError(f"bad cursor {before[:40]!r}: pass the previous page's `next`") from None
        query = query.where(
            (table.c.last_seen < seen) | ((table.c.last_seen == seen) & (table.c.id < last_id))
        )
    size = max(1, min(limit, 1000))
    with store.read_connection() as conn:
        rows = conn.execute(query.order_by(table.c.last_seen.desc(), table.c.id.desc()).limit(size)).all()
    found = [_from_row(r) for r in rows]
    cursor = f"{found[-1].last_seen!r}|{found[-1].id}" if len(found) == size else None
    return found, cursor


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown finding status {status!r}; use one of {', '.join(STATUSES)}")

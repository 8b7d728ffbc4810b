"""Findings as the server reads them (SQLite and PostgreSQL): keyset pages that neither skip nor repeat
a finding when many share a `last_seen`, filters, tenant-scoped status changes that commit together
with their audit record, and the CLI's changes audited too."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from railguard.cli import app
from railguard.diagnose import Finding, get_finding, set_status
from railguard.diagnose.findings import finding_page, save_findings
from railguard.store import AuditLog, open_store

T = 1_800_000_000.0


def _finding(i: int, tenant: str, severity: str = "medium", last_seen: float = T) -> Finding:
    return Finding(
        kind="loop" if i % 2 else "cost_spike", severity=severity, tenant=tenant, agent=f"agent-{i % 3}",
        subject=f"s{i}", summary=f"problem {i}", evidence=[{"trace_id": "t" * 32, "span_id": None, "why": "x"}],
        suggestion="fix it", confidence=0.9, first_seen=last_seen - 60, last_seen=last_seen,
    )  # fmt: skip


def test_pages_filters_and_scoped_status_changes(store_url: str) -> None:
    with open_store(store_url) as store:
        mine = [_finding(i, "acme", "high" if i < 3 else "low", T if i < 7 else T + i) for i in range(11)]
        theirs = [_finding(i, "globex") for i in range(4)]
        save_findings(store, mine + theirs, now=T)

        seen: list[str] = []
        cursor = None
        for _ in range(10):
            page, cursor = finding_page(store, tenant="acme", limit=3, before=cursor)
            seen += [f.id for f in page]
            if cursor is None:
                break
        assert sorted(seen) == sorted(f.id for f in mine) and len(seen) == len(set(seen))
        assert seen[:4] == [f.id for f in sorted(mine[7:], key=lambda f: -f.last_seen)]  # newest first

        def ids(**filters: object) -> set[str]:
            return {f.id for f in finding_page(store, tenant="acme", limit=100, **filters)[0]}  # type: ignore[arg-type]

        assert ids(severity="high") == {f.id for f in mine[:3]}
        assert ids(kind="loop", agent="agent-1") == {
            f.id for f in mine if f.kind == "loop" and f.agent == "agent-1"
        }
        assert ids(since=T + 9) == {mine[9].id, mine[10].id}
        for bad in ({"kind": "oops"}, {"severity": "oops"}, {"status": "oops"}, {"before": "x|y"}):
            with pytest.raises(ValueError):
                finding_page(store, tenant="acme", **bad)  # type: ignore[arg-type]

        # Another tenant's finding cannot be changed through a scoped call; nothing is changed or audited.
        with pytest.raises(ValueError, match="no finding"):
            set_status(store, theirs[0].id, "muted", by="ana (k1)", tenant="acme")
        assert get_finding(store, theirs[0].id).status == "open"
        done = set_status(store, mine[0].id, "resolved", by="ana (k1)", note="fixed in 1.5", tenant="acme")
        assert (done.status, done.status_by, done.status_note) == ("resolved", "ana (k1)", "fixed in 1.5")
        log = AuditLog(store)
        records = log.list(tenant="acme", action="finding.resolved")
        assert [(r.subject, r.actor, r.details["from"]) for r in records] == [
            (mine[0].id, "ana (k1)", "open")
        ]
        assert log.list(tenant="globex", limit=100) == [] and log.verify().ok

    # The CLI's status commands go through the same function: audited with --by as the actor.
    result = CliRunner().invoke(app, ["findings", "mute", mine[1].id, "--db", store_url, "--by", "bob"])
    assert result.exit_code == 0, result.output
    with open_store(store_url) as store:
        assert [r.actor for r in AuditLog(store).list(tenant="acme", action="finding.muted")] == ["bob"]

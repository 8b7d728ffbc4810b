"""Proposals: policy changes drawn from findings and the decision stream, each a small YAML patch with
its rationale, evidence and generated unit tests, proven before it is stored and accepted in one step.

    base = BasePolicy(text=active_revision_text)            # or BasePolicy(paths=("policy.yaml",))
    result = generate_proposals(store, tenant="acme", base=base, since=time.time() - 7 * 86400)
    for p in list_proposals(store, tenant="acme"): print(p.title, p.backtest["newly_blocked"])
    accept(store, p.id, tenant="acme", actor="ana", base=base)            # a new active revision
    accept(store, p.id, tenant="acme", actor="ana", base=base, to_file=Path("policy.yaml"))
    reject(store, p.id, tenant="acme", actor="ana", reason="too broad")

Before a draft is stored its patch is compiled with the policy it changes, its cases run with the
policy test runner (`railguard test`), and it is backtested: the window's stored actions replayed
through the current policy and through current + patch (`diagnose.backtest`, stateful guards in a
throw-away store). The backtest summary says how many of the evidence calls it changes and what else.

A proposal is identified by a fingerprint of what it is about (source kind, tenant, subject): running
generation again updates an open proposal in place; a rejected one stays rejected unless its evidence
has at least doubled since the rejection; accepted ones are left alone. Accepting, rejecting and
promoting are appended to the audit log with the actor, the tenant and the proposal (never a value).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select, update

from railguard.diagnose._proposal_patch import (
    BasePolicy,
    dump,
    failures,
    merge_text,
    run_cases,
    write_into_file,
)
from railguard.diagnose._proposal_sources import Draft, Scope, drafts
from railguard.diagnose._proposal_tables import proposals as table
from railguard.diagnose._stored_runs import StoredHistory, read_history
from railguard.diagnose.backtest import BacktestReport, backtest, replay_engine
from railguard.errors import PolicyError, ProposalError
from railguard.store import PolicyRevisions, Store, _audit

__all__ = [
    "STATUSES",
    "BasePolicy",
    "GenerateResult",
    "Proposal",
    "ProposalError",
    "accept",
    "backtest_proposal",
    "generate_proposals",
    "get_proposal",
    "list_proposals",
    "promote",
    "reject",
]

STATUSES = ("open", "accepted", "rejected", "shadow")
REGROWTH = 2.0  # a rejected proposal comes back when its evidence has grown this many times
_EXAMPLES = 10


@dataclass
class Proposal:
    id: str
    fingerprint: str
    tenant: str
    kind: str
    source: str
    subject: str
    title: str
    rationale: str
    evidence: list[dict[str, Any]]
    evidence_count: int
    patch: str
    cases: str
    backtest: dict[str, Any]
    status: str
    created_at: float
    updated_at: float
    status_by: str | None = None
    status_reason: str | None = None
    status_at: float | None = None
    applied_to: str | None = None

    def to_json(self, *, full: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "kind": self.kind, "tenant": self.tenant, "title": self.title,
            "status": self.status, "evidence_count": self.evidence_count, "source": self.source,
            "backtest": self.backtest, "created_at": self.created_at, "updated_at": self.updated_at,
            "status_by": self.status_by, "status_reason": self.status_reason, "applied_to": self.applied_to,
        }  # fmt: skip
        if full:
            out.update(rationale=self.rationale, evidence=self.evidence, patch=self.patch, cases=self.cases)
        return out


def proposal_id(fingerprint: str) -> str:
    return "p-" + fingerprint[:12]


def _fingerprint(tenant: str, kind: str, subject: str) -> str:
    return hashlib.sha256("\x1f".join((kind, tenant, subject)).encode()).hexdigest()


def _from_row(row: Any) -> Proposal:
    m = row._mapping
    return Proposal(**{k: m[k] for k in Proposal.__dataclass_fields__})


@dataclass
class GenerateResult:
    created: list[Proposal] = field(default_factory=list)
    updated: list[Proposal] = field(default_factory=list)
    unchanged: list[Proposal] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)  # rejected before, evidence not grown enough
    invalid: list[tuple[str, list[str]]] = field(default_factory=list)  # (title, what failed)

    def to_json(self) -> dict[str, Any]:
        return {
            "created": [p.id for p in self.created],
            "updated": [p.id for p in self.updated],
            "unchanged": [p.id for p in self.unchanged],
            "suppressed": self.suppressed,
            "invalid": [{"title": t, "errors": e} for t, e in self.invalid],
        }


# -- generation -----------------------------------------------------------------------------------


def generate_proposals(
    store: Store,
    *,
    tenant: str,
    base: BasePolicy,
    since: float,
    until: float | None = None,
    now: float | None = None,
) -> GenerateResult:
    """Draft, prove and store the proposals of one tenant's window (see the module docstring)."""
    from railguard.diagnose.findings import list_findings
    from railguard.diagnose.labels import list_labels

    store.migrate()
    now = time.time() if now is None else now
    until = now if until is None else until
    policy = base.compile()
    history = read_history(store, since=since, until=until, tenant=tenant)
    failed = {lab.trace_id for lab in list_labels(store, tenant=tenant) if lab.label == "failure"}
    findings = [
        f for f in list_findings(store, tenant=tenant, limit=5000) if f.status in ("open", "acknowledged")
    ]
    scope = Scope(store, tenant, since, until, policy, history, findings, failed)
    result = GenerateResult()
    for draft in drafts(scope):
        patch = _patch_text(draft)
        try:
            base.compile(patch)
        except PolicyError as err:
            result.invalid.append((draft.title, [f"the patch does not compile: {err}"]))
            continue
        cases = run_cases(base, patch, draft.cases)
        failed_cases = failures(cases)
        if failed_cases:
            result.invalid.append((draft.title, failed_cases))
            continue
        summary = _summary(_replay(base, patch, history, failed), draft)
        summary["cases"] = {"passed": len(cases), "total": len(cases)}
        _upsert(store, tenant, draft, patch, summary, now, result)
    return result


def _patch_text(draft: Draft) -> str:
    return f"# {draft.title}\n# proposal ({draft.kind}); review, backtest, then accept\n" + dump(draft.patch)


def _cases_text(draft: Draft) -> str:
    return dump({"cases": draft.cases}) if draft.cases else "cases: []\n"


def _replay(base: BasePolicy, patch: str, history: StoredHistory, failed: set[str]) -> BacktestReport:
    with replay_engine(base.compile()) as current, replay_engine(base.compile(patch)) as candidate:
        return backtest(history, candidate, current=current, failed_traces=failed)


def _summary(report: BacktestReport, draft: Draft) -> dict[str, Any]:
    """The backtest counts, and how the changed calls line up with the evidence."""
    out = report.to_json()
    changed = {ex.key for ex in report.examples if ex.key}
    outside = sum(ex.key not in draft.evidence_keys for ex in report.examples)
    out.update(
        baseline=report.baseline,
        denied_now_allowed=report.denied_now_allowed,
        evidence=len(draft.evidence),
        evidence_flagged=len(changed & draft.evidence_keys),
        # changes beyond the listed examples are not itemized: counted as "other" (never hidden)
        other_flagged=outside + report.changed - len(report.examples),
        over_blocking=report.approved_now_blocked > 0,
        examples=[ex.to_dict() for ex in report.examples[:_EXAMPLES]],
    )
    if draft.note:
        out["note"] = draft.note
    if draft.estimate:
        out["estimate"] = draft.estimate
    return out


def _upsert(
    store: Store,
    tenant: str,
    draft: Draft,
    patch: str,
    summary: dict[str, Any],
    now: float,
    result: GenerateResult,
) -> None:
    fingerprint = _fingerprint(tenant, draft.kind, draft.subject)
    count = len(draft.evidence)
    values: dict[str, Any] = {
        "title": draft.title, "rationale": draft.rationale, "evidence": draft.evidence[:200],
        "evidence_count": count, "patch": patch, "cases": _cases_text(draft), "backtest": summary,
        "source": draft.source, "updated_at": now,
    }  # fmt: skip
    with store.write_transaction() as conn:
        row = conn.execute(select(table).where(table.c.fingerprint == fingerprint)).first()
        if row is None:
            conn.execute(
                table.insert().values(
                    id=proposal_id(fingerprint), fingerprint=fingerprint, tenant=tenant, kind=draft.kind,
                    subject=draft.subject[:512], status="open", created_at=now, **values,
                )
            )  # fmt: skip
            result.created.append(
                _from_row(conn.execute(select(table).where(table.c.id == proposal_id(fingerprint))).one())
            )
            return
        if row.status in ("accepted", "shadow"):
            result.unchanged.append(_from_row(row))
            return
        if row.status == "rejected":
            if count < REGROWTH * max(1, row.status_evidence or 0):
                result.suppressed.append(
                    f"{row.id}: {draft.title} (rejected; evidence {count}, was {row.status_evidence})"
                )
                return
            values.update(
                status="open",
                status_reason=f"re-proposed: evidence grew from {row.status_evidence} to {count}",
            )
        elif row.patch == patch and row.evidence_count == count:
            result.unchanged.append(_from_row(row))
            return
        conn.execute(update(table).where(table.c.id == row.id).values(**values))
        result.updated.append(_from_row(conn.execute(select(table).where(table.c.id == row.id)).one()))


# -- reading --------------------------------------------------------------------------------------


def list_proposals(
    store: Store, *, tenant: str | None, status: str | None = None, limit: int = 200
) -> list[Proposal]:
    """The tenant's proposals, open first, then newest first. tenant=None: every tenant (admin)."""
    store.migrate()
    query = select(table)
    if tenant is not None:
        query = query.where(table.c.tenant == tenant)
    if status is not None:
        _check_status(status)
        query = query.where(table.c.status == status)
    with store.read_connection() as conn:
        rows = conn.execute(query.order_by(table.c.updated_at.desc()).limit(max(1, min(limit, 5000)))).all()
    found = [_from_row(r) for r in rows]
    found.sort(key=lambda p: (p.status != "open", -p.updated_at))
    return found


def get_proposal(store: Store, proposal_id: str, *, tenant: str | None) -> Proposal:
    """One proposal by id (or a unique prefix of it); tenant=None: any tenant (admin)."""
    store.migrate()
    query = select(table).where(table.c.id.startswith(proposal_id, autoescape=True))
    if tenant is not None:
        query = query.where(table.c.tenant == tenant)
    with store.read_connection() as conn:
        rows = conn.execute(query.limit(2)).all()
    if len(rows) != 1:  # another tenant's proposal reads as unknown: no existence leak
        what = "several proposals match" if rows else "no proposal"
        scope = "" if tenant is None else f" for tenant {tenant!r}"
        raise ProposalError(f"{what} {proposal_id!r}{scope}; list them with `railguard proposals list`")
    row = rows[0]
    return _from_row(row)


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ProposalError(f"unknown proposal status {status!r}; use one of {', '.join(STATUSES)}")


# -- backtest, accept, reject, promote ------------------------------------------------------------


def backtest_proposal(
    store: Store,
    proposal_id: str,
    *,
    tenant: str | None,
    base: BasePolicy,
    since: float,
    until: float | None = None,
) -> tuple[Proposal, BacktestReport]:
    """Replay the tenant's window through the current policy and current + the proposal's patch."""
    from railguard.diagnose.labels import list_labels

    found = get_proposal(store, proposal_id, tenant=tenant)
    history = read_history(
        store, since=since, until=time.time() if until is None else until, tenant=found.tenant
    )
    failed = {lab.trace_id for lab in list_labels(store, tenant=found.tenant) if lab.label == "failure"}
    return found, _replay(base, found.patch, history, failed)


def shadowed(patch: str) -> str:
    """The patch with each of its rules in audit mode (recorded as would-be, never acting)."""
    data = yaml.safe_load(patch) or {}
    other = sorted(k for k in data if k != "rules")
    if other or not data.get("rules"):
        raise ProposalError(
            f"this proposal changes {', '.join(other) or 'no rule'}, which has no audit mode: accept it "
            "without --shadow (backtest it first with `railguard proposals backtest ID`)"
        )
    data["rules"] = [{**item, "mode": "audit"} if "rule" in item else item for item in data["rules"]]
    return "# shadow (audit mode): promote with `railguard proposals promote ID`\n" + dump(data)


def accept(
    store: Store,
    proposal_id: str,
    *,
    tenant: str | None,
    actor: str,
    base: BasePolicy | None = None,
    shadow: bool = False,
    to_file: Path | None = None,
    now: float | None = None,
) -> Proposal:
    """Put an open proposal on the wire: a new active policy revision of the tenant (the active one +
    the patch), or — `to_file` — the patch merged into that policy file (a watching engine reloads
    it). `shadow`: its rules go in audit mode first; `promote` enforces them later."""
    found = get_proposal(store, proposal_id, tenant=tenant)
    if found.status != "open":
        raise ProposalError(f"proposal {found.id} is {found.status}: only an open proposal can be accepted"
                            + ("; use `railguard proposals promote`" if found.status == "shadow" else ""))  # fmt: skip
    patch = shadowed(found.patch) if shadow else found.patch
    applied = _apply(store, found, patch, tenant=found.tenant, actor=actor, base=base, to_file=to_file)
    status = "shadow" if shadow else "accepted"
    return _decide(store, found, status, actor=actor, action="proposal.accept", applied_to=applied,
                   details={"mode": "audit" if shadow else "enforce"}, now=now)  # fmt: skip


def promote(
    store: Store,
    proposal_id: str,
    *,
    tenant: str | None,
    actor: str,
    base: BasePolicy | None = None,
    to_file: Path | None = None,
    now: float | None = None,
) -> Proposal:
    """Enforce a proposal accepted in shadow: its rules replace their audit-mode versions."""
    found = get_proposal(store, proposal_id, tenant=tenant)
    if found.status != "shadow":
        raise ProposalError(f"proposal {found.id} is {found.status}: only a shadow proposal can be promoted")
    if to_file is None and found.applied_to and not found.applied_to.startswith("r"):
        to_file = Path(found.applied_to)  # it went into a file: promote it there
    applied = _apply(store, found, found.patch, tenant=found.tenant, actor=actor, base=base, to_file=to_file)
    return _decide(store, found, "accepted", actor=actor, action="proposal.promote", applied_to=applied,
                   details={"mode": "enforce"}, now=now)  # fmt: skip


def reject(
    store: Store,
    proposal_id: str,
    *,
    tenant: str | None,
    actor: str,
    reason: str = "",
    now: float | None = None,
) -> Proposal:
    """Reject an open proposal: it is remembered and not proposed again unless its evidence doubles."""
    found = get_proposal(store, proposal_id, tenant=tenant)
    if found.status not in ("open", "shadow"):
        raise ProposalError(
            f"proposal {found.id} is {found.status}: only an open or shadow proposal can be rejected"
        )
    return _decide(store, found, "rejected", actor=actor, action="proposal.reject", reason=reason,
                   details={"reason": reason[:500]} if reason else {}, now=now)  # fmt: skip


def _apply(
    store: Store, found: Proposal, patch: str, *, tenant: str, actor: str, base: BasePolicy | None,
    to_file: Path | None,
) -> str:  # fmt: skip
    if to_file is not None:
        write_into_file(to_file, patch, base=base)
        return str(to_file)
    from railguard.policy import load_policy

    revisions = PolicyRevisions(store)
    active = revisions.active(tenant=tenant)
    if active is not None:
        base_text = active.content
    elif base is not None and base.text is not None:
        base_text = base.text
    elif base is not None and len(base.paths) == 1 and not base.packs:
        base_text = Path(base.paths[0]).read_text(encoding="utf-8")
    else:
        raise ProposalError(
            f"tenant {tenant!r} has no active policy revision to add the proposal to: upload one "
            "(`railguard policy push`), give the current policy with -p FILE, or accept into a file with --to FILE"
        )
    merged = merge_text(base_text, patch)
    try:
        compiled = load_policy(text=merged)
    except PolicyError as err:
        raise ProposalError(f"the policy with proposal {found.id} does not compile: {err}") from None
    rev = revisions.add(
        tenant=tenant,
        content=merged,
        author=actor,
        policy_revision=compiled.revision,
        rules=len(compiled.rules),
    )
    revisions.activate(tenant=tenant, rev=rev.rev, actor=actor, mode="enforce")
    return f"r{rev.rev}"


def _decide(
    store: Store, found: Proposal, status: str, *, actor: str, action: str, applied_to: str | None = None,
    reason: str | None = None, details: dict[str, Any], now: float | None,
) -> Proposal:  # fmt: skip
    now = time.time() if now is None else now
    values: dict[str, Any] = {"status": status, "status_by": actor, "status_at": now, "updated_at": now,
                              "status_evidence": found.evidence_count}  # fmt: skip
    if reason is not None:
        values["status_reason"] = reason
    if applied_to is not None:
        values["applied_to"] = applied_to
    with store.write_transaction() as conn:
        _audit.lock(conn)
        conn.execute(
            update(table).where(table.c.id == found.id, table.c.tenant == found.tenant).values(**values)
        )
        _audit.append(
            conn, tenant=found.tenant, actor=actor, action=action, subject=found.id,
            details={"kind": found.kind, "title": found.title[:200], "status": status,
                     "evidence": found.evidence_count, **({"applied_to": applied_to} if applied_to else {}), **details},
            now=now,
        )  # fmt: skip
    return get_proposal(store, found.id, tenant=found.tenant)

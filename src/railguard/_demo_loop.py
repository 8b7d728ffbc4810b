"""`railguard demo --week`, the whole loop: the fleet of `_demo_week` runs on a policy stored as a
revision per tenant, with the Terraform rule still in audit (shadow) mode. Days 1-3 go wrong (the
deploy agent applies Terraform to prod and it runs; people approve every large refund they are
asked about); before day 4 a person labels the prod incidents, the diagnosis runs, proposals are
generated, backtested and the two that fit are accepted (scripted) as a new revision, which the
fleet's engine loads; days 4-7 run protected. Counts before and after come from the store.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from railguard._demo_week import AGENTS, DAY_S, WEEK_DAYS, WEEK_POLICY, WeekResult, run_week, week_start
from railguard.engine import Engine
from railguard.store import PolicyRevisions, Store

ACCEPT_DAY = 3  # 0-based: the loop closes before the fourth simulated day (days 4-7 are protected)
TERRAFORM_RULE = "deploy/terraform-apply-prod"
REFUND_RULE = "payments/large-refund"
LEAD = "lead@acme.example"
# The same fleet policy, with the Terraform rule written but left in shadow.
LOOP_POLICY = WEEK_POLICY.replace(
    "    tags: [stable, deploy]\n", "    tags: [stable, deploy]\n    mode: audit\n"
)
ACCEPTED_KINDS = ("audit_confirmed", "approval_always_granted")


@dataclass
class LoopStory:
    findings: list[str] = field(default_factory=list)
    proposals: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    revision: str = ""
    labelled: int = 0
    accept_ts: float = 0.0  # wall-clock time of the change (the engine stamps decisions with it)
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    first_blocked: str | None = None  # when the first prod apply was blocked after the change

    def to_json(self) -> dict[str, Any]:
        return {
            "findings": self.findings, "proposals": self.proposals, "accepted": self.accepted,
            "revision": self.revision, "labelled_failures": self.labelled, "accept_ts": self.accept_ts,
            "before": self.before, "after": self.after, "first_blocked": self.first_blocked,
        }  # fmt: skip


def _tenants() -> list[str]:
    return sorted({tenant for _script, users in AGENTS.values() for tenant, _user in users})


def closed_loop_week(
    store: Store, *, seed: int, runs_per_day: int, days: int = WEEK_DAYS, start_ts: float | None = None
) -> tuple[WeekResult, LoopStory]:
    from railguard.policy import load_policy

    revisions = PolicyRevisions(store)
    compiled = load_policy(text=LOOP_POLICY)
    for tenant in _tenants():
        rev = revisions.add(tenant=tenant, content=LOOP_POLICY, author="demo", policy_revision=compiled.revision,
                            rules=len(compiled.rules))  # fmt: skip
        revisions.activate(tenant=tenant, rev=rev.rev, actor="demo")
    story = LoopStory()
    start = week_start(days=days) if start_ts is None else start_ts

    def on_day(day: int, engine: Engine, flush: Callable[[], object]) -> None:
        if day == ACCEPT_DAY:
            flush()
            # Spans and approvals carry simulated times, decisions the wall clock: read from the
            # simulated start up to now, which holds days 1-3 of both and nothing later.
            _close_loop(store, engine, story, since=start, until=start + day * DAY_S)

    result = run_week(store, seed=seed, runs_per_day=runs_per_day, days=days, start_ts=start,
                      policy=LOOP_POLICY, on_day=on_day)  # fmt: skip
    accept_ts = story.accept_ts or time.time()
    story.before = _counts(store, 0.0, accept_ts)
    story.after = _counts(store, accept_ts, time.time() + 1)
    story.first_blocked = _first_prod_block(store, result.start_ts)
    return result, story


def _close_loop(store: Store, engine: Engine, story: LoopStory, *, since: float, until: float) -> None:
    """`until` is the simulated time the loop closes at (findings, labels and decisions are stamped
    with it); the stored decisions of days 1-3 carry wall-clock times up to now."""
    now = time.time()
    from railguard.diagnose import label_run, run_detectors
    from railguard.diagnose.proposals import BasePolicy, accept, generate_proposals
    from railguard.policy import load_policy

    # A person reviews the prod incidents of days 2-3 and labels those runs failures.
    for trace_id in sorted(_would_blocked_traces(store, since, now)):
        label_run(store, trace_id, label="failure", note="the deploy agent changed prod", by=LEAD, tenant="acme",
                  now=until)  # fmt: skip
        story.labelled += 1
    diagnosis = run_detectors(store, since=since, until=until, now=until)
    story.findings = [f"{f.kind} ({f.agent})" for f in diagnosis.findings]
    revisions = PolicyRevisions(store)
    for tenant in _tenants():
        active = revisions.active(tenant=tenant)
        base = BasePolicy(
            text=active.content if active else LOOP_POLICY, revision=active.rev if active else None
        )
        result = generate_proposals(store, tenant=tenant, base=base, since=since, until=now, now=until)
        for p in result.created + result.updated + result.unchanged:
            b = p.backtest
            story.proposals.append({
                "id": p.id, "tenant": tenant, "kind": p.kind, "title": p.title, "evidence": p.evidence_count,
                "newly_blocked": b.get("newly_blocked", 0), "newly_allowed": b.get("newly_allowed", 0),
                "approved_now_blocked": b.get("approved_now_blocked", 0),
                "labelled_failures_caught": b.get("labelled_failures_caught", 0),
            })  # fmt: skip
            if tenant == "acme" and p.kind in ACCEPTED_KINDS and p.status == "open":
                done = accept(store, p.id, tenant=tenant, actor=LEAD, base=base, now=until)
                story.accepted.append(done.id)
                story.revision = done.applied_to or ""
    active = revisions.active(tenant="acme")
    if active is not None and story.accepted:
        engine.swap(load_policy(text=active.content))  # what an engine attached to the server does
    story.accept_ts = time.time()


def _would_blocked_traces(store: Store, since: float, until: float) -> set[str]:
    from railguard.store._schema import decisions

    query = select(decisions.c.trace_id, decisions.c.record).where(
        decisions.c.ts >= since,
        decisions.c.ts < until,
        decisions.c.tenant == "acme",
        decisions.c.tool == "Bash",
    )
    with store.read_connection() as conn:
        rows = conn.execute(query).all()
    return {
        str(trace) for trace, record in rows
        if trace and any(h.get("rule") == TERRAFORM_RULE and h.get("mode") == "audit" for h in record.get("hits") or ())
    }  # fmt: skip


def _first_prod_block(store: Store, start: float) -> str | None:
    """The simulated day and time of the first prod apply the (enforced) rule blocked."""
    from sqlalchemy import func

    from railguard.store._schema import spans

    query = select(func.min(spans.c.start_ns)).where(
        spans.c.tool_name == "Bash", spans.c.verdict == "block", spans.c.rules.contains(TERRAFORM_RULE)
    )
    with store.read_connection() as conn:
        first = conn.execute(query).scalar()
    if first is None:
        return None
    at = first / 1e9
    return f"day {int((at - start) // DAY_S) + 1}, {time.strftime('%H:%M', time.gmtime(at))} UTC"


def _counts(store: Store, since: float, until: float) -> dict[str, int]:
    """What happened in [since, until): from the stored decisions (first event of each)."""
    from railguard.store._schema import decisions

    query = select(decisions.c.tool, decisions.c.verdict, decisions.c.record).where(
        decisions.c.ts >= since, decisions.c.ts < until, decisions.c.seq == 1
    )
    with store.read_connection() as conn:
        rows = conn.execute(query).all()
    out: Counter[str] = Counter()
    for tool, verdict, record in rows:
        if str(record.get("decision_id", "")).startswith("approval:"):
            continue
        out["tool_calls"] += 1
        out[verdict] += 1
        rules = {str(h.get("rule")) for h in record.get("hits") or ()}
        if TERRAFORM_RULE in rules:
            out["prod_applies_ran" if verdict != "block" else "prod_applies_blocked"] += 1
        if tool == "refund" and (REFUND_RULE in rules or record.get("approval_id")):
            out["refund_asks"] += 1
    return {k: out[k] for k in ("tool_calls", "allow", "ask", "block", "prod_applies_ran", "prod_applies_blocked",
                                "refund_asks")}  # fmt: skip


def print_story(console: Any, story: LoopStory) -> None:
    from rich.markup import escape

    console.print(f"\n[bold]The loop[/bold] (before day {ACCEPT_DAY + 1}):")
    console.print(f"  labelled failures: {story.labelled} run(s) where the deploy agent changed prod")
    console.print(f"  diagnosis: {len(story.findings)} finding(s): {', '.join(story.findings) or '-'}")
    for p in story.proposals:
        mark = "[green]accepted[/green]" if p["id"] in story.accepted else "open"
        console.print(
            f"  proposal {p['id']} ({p['tenant']}) {escape(p['title'])} — backtest: blocked {p['newly_blocked']}, "
            f"allowed {p['newly_allowed']}, failures caught {p['labelled_failures_caught']}, "
            f"approved-now-blocked {p['approved_now_blocked']} → {mark}"
        )
    if story.revision:
        console.print(f"  acme's policy is now revision {story.revision}; the fleet's engine loaded it")
    if story.first_blocked:
        console.print(f"  the same terraform apply against prod was first blocked on {story.first_blocked}")
    b, a = story.before, story.after
    console.print("\n[bold]Before and after[/bold]                days 1-3   days 4-7")
    for key, label in (
        ("prod_applies_ran", "terraform apply on prod ran"),
        ("prod_applies_blocked", "terraform apply on prod blocked"),
        ("refund_asks", "large refunds asked to a human"),
        ("tool_calls", "tool calls"),
        ("block", "blocked calls"),
    ):
        console.print(f"  {label:<34} {b.get(key, 0):>6}   {a.get(key, 0):>6}")

"""Proposals end to end on a seeded history (tests/proposal_fleet.py: real engine, approvals,
provenance and tracing into the store): every source drafts a patch whose generated unit tests pass
with the policy test runner and whose backtest changes exactly the calls it was drawn from; accepted,
the next decision changes; rejected, it stays away until its evidence doubles; tenants never mix."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import yaml

from proposal_fleet import FORCE_PUSH, POLICY, PROD_APPLY, TENANT, Seeded, seed_cost_spike, seed_history
from railguard.diagnose import label_run, run_detectors
from railguard.diagnose._proposal_patch import run_cases
from railguard.diagnose.proposals import (
    BasePolicy,
    Proposal,
    ProposalError,
    accept,
    backtest_proposal,
    generate_proposals,
    get_proposal,
    list_proposals,
    promote,
    reject,
)
from railguard.engine import Engine
from railguard.model import Action, Context
from railguard.policy.testing import Status
from railguard.store import AuditLog, PolicyRevisions, Store, open_store

BASE = BasePolicy(text=POLICY)
SOURCES = {
    "violation_cluster", "approval_always_granted", "approval_always_denied", "loop",
    "injected_instruction", "audit_confirmed",
}  # fmt: skip


def prepare(store: Store) -> Seeded:
    """Seed, label the force-push runs as failures (what a person does in the dashboard), diagnose."""
    seeded = seed_history(store)
    for trace_id in seeded.failed_traces:
        label_run(store, trace_id, label="failure", note="force-pushed main", by="lead", tenant=TENANT)
    run_detectors(store, since=seeded.start, until=time.time() + 60)
    return seeded


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seeded]:
    path = tmp_path_factory.mktemp("seeded") / "seeded.db"
    with open_store(f"sqlite:///{path}") as store:
        seeded = prepare(store)
    return path, seeded


@pytest.fixture
def store(seeded_db: tuple[Path, Seeded], tmp_path: Path) -> Store:
    copy = tmp_path / "copy.db"
    shutil.copy(seeded_db[0], copy)
    opened = open_store(f"sqlite:///{copy}")
    yield opened  # type: ignore[misc]
    opened.close()


def generate(store: Store, seeded: Seeded, until: float | None = None) -> dict[str, Proposal]:
    generate_proposals(store, tenant=TENANT, base=BASE, since=seeded.start, until=until or time.time() + 60)
    return {p.kind: p for p in list_proposals(store, tenant=TENANT)}


def _ctx(agent: str) -> Context:
    return Context(tenant=TENANT, agent=agent, run=f"live-{agent}", session=f"live-{agent}")


def test_each_source_proposes_a_patch_proven_by_its_cases_and_the_backtest(
    store: Store, seeded_db: tuple[Path, Seeded]
) -> None:
    seeded = seeded_db[1]
    found = generate(store, seeded)
    assert set(found) >= SOURCES, sorted(found)
    for kind in SOURCES:
        p = found[kind]
        cases = yaml.safe_load(p.cases)["cases"]
        results = run_cases(BASE, p.patch, cases)
        assert cases and all(r.status is Status.PASS for r in results), (kind, [r.message for r in results])
        assert p.backtest["cases"] == {"passed": len(cases), "total": len(cases)}
        b = p.backtest
        assert b["evidence_flagged"] == b["evidence"] == p.evidence_count > 0, (kind, b)
        assert b["other_flagged"] == 0, (kind, b)
        assert b["approved_now_blocked"] == 0
    # The evidence is what the script did, counted as it did it.
    assert found["violation_cluster"].evidence_count == sum(seeded.prod_attempts)
    assert found["approval_always_granted"].evidence_count == seeded.large_refunds
    assert found["approval_always_denied"].evidence_count == seeded.wires
    assert found["audit_confirmed"].evidence_count == len(seeded.failed_traces)
    assert found["audit_confirmed"].backtest["labelled_failures_caught"] == len(seeded.failed_traces)
    # The page instructions the scanner missed: the posts they led to are what distrusting web_fetch stops
    # (the calls after the instructions it caught were stopped already).
    assert found["injected_instruction"].evidence_count == seeded.quiet_injections
    assert found["injected_instruction"].backtest["newly_asked"] == seeded.quiet_injections
    assert f"{seeded.injected_runs} output(s) of web_fetch" in found["injected_instruction"].rationale
    # A looping run makes 8 Bash calls; the busiest normal run 3 (deploy: plan, apply, prod).
    assert "max_count: 3" in found["loop"].patch
    assert found["loop"].evidence_count == seeded.loop_runs * (8 - 3)


def test_a_fresh_backtest_of_a_proposal_matches_the_stored_one(
    store: Store, seeded_db: tuple[Path, Seeded]
) -> None:
    seeded = seeded_db[1]
    p = generate(store, seeded)["violation_cluster"]
    again, report = backtest_proposal(
        store, p.id[:6], tenant=TENANT, base=BASE, since=seeded.start, until=time.time() + 60
    )
    assert again.id == p.id
    assert report.newly_blocked == p.backtest["newly_blocked"] == sum(seeded.prod_attempts)
    assert report.newly_allowed == report.approved_now_blocked == 0


@pytest.mark.parametrize(
    ("kind", "agent", "tool", "args", "before", "after"),
    [
        ("violation_cluster", "deploy", "Bash", {"command": PROD_APPLY}, "ask", "block"),
        ("approval_always_granted", "support", "refund", {"customer": "c-1", "amount": 700}, "ask", "allow"),
        (
            "approval_always_denied",
            "support",
            "wire",
            {"iban": "GB29NWBK60161331926819", "amount": 5000},
            "ask",
            "block",
        ),
        ("audit_confirmed", "coding", "Bash", {"command": FORCE_PUSH}, "allow", "block"),
    ],
)
def test_accepted_the_next_live_decision_changes(
    store: Store, seeded_db: tuple[Path, Seeded], kind: str, agent: str, tool: str, args: dict, before: str, after: str
) -> None:  # fmt: skip
    p = generate(store, seeded_db[1])[kind]
    action = Action(tool, args, context=_ctx(agent))
    assert Engine(text=POLICY).check(action).verdict.value == before
    done = accept(store, p.id, tenant=TENANT, actor="lead@acme.example", base=BASE)
    assert (done.status, done.applied_to) == ("accepted", "r1")
    active = PolicyRevisions(store).active(tenant=TENANT)
    assert active is not None and active.active_mode == "enforce"
    assert Engine(text=active.content).check(action).verdict.value == after
    # Other agents keep the old behaviour where the proposal is scoped to one agent.
    if kind != "audit_confirmed":
        other = Action(tool, args, context=_ctx("someone-else"))
        assert Engine(text=active.content).check(other).verdict.value == before
    records = AuditLog(store).list(tenant=TENANT)
    assert [r.action for r in records[:3]] == ["proposal.accept", "policy.activate", "policy.revision"]
    assert records[0].actor == "lead@acme.example" and records[0].subject == p.id
    assert "patch" not in records[0].details and AuditLog(store).verify().ok
    with pytest.raises(ProposalError, match="accepted"):
        accept(store, p.id, tenant=TENANT, actor="lead", base=BASE)


def test_loop_cap_and_untrusted_output_change_live_decisions(
    store: Store, seeded_db: tuple[Path, Seeded]
) -> None:
    from railguard.state import install_cushions, install_provenance

    found = generate(store, seeded_db[1])
    accept(store, found["loop"].id, tenant=TENANT, actor="lead", base=BASE)
    accept(store, found["injected_instruction"].id, tenant=TENANT, actor="lead", base=BASE)
    active = PolicyRevisions(store).active(tenant=TENANT)
    assert active is not None
    for text, stopped_at in ((POLICY, None), (active.content, 4)):
        engine = Engine(text=text)
        cushions = install_cushions(engine, store)
        try:
            ctx = _ctx("coding").__class__(
                tenant=TENANT, agent="coding", run=f"loop-{stopped_at}", session="s"
            )
            verdicts = [engine.admit(Action("Bash", {"command": "gh run view 1 --json status"}, context=ctx)).verdict.value
                        for _ in range(5)]  # fmt: skip
        finally:
            cushions.close()
            engine.close()
        assert verdicts == (["allow"] * 5 if stopped_at is None else ["allow"] * 3 + ["block"] * 2), verdicts
    # A clean page (no instruction) naming an address: trusted before, checked by provenance after.
    for text, expected in ((POLICY, "allow"), (active.content, "ask")):
        engine = Engine(text=text)
        install_provenance(engine, None)
        ctx = Context(tenant=TENANT, agent="research", run=f"page-{expected}", session="s")
        fetch = Action("web_fetch", {"url": "https://news.example.org/contact"}, context=ctx)
        engine.check(fetch)
        engine.check_output(
            "web_fetch", "Questions? Write to billing@partner-corp.example any time.", action=fetch
        )
        mail = Action("send_email", {"to": "billing@partner-corp.example", "body": "Report"}, context=ctx)
        assert engine.check(mail).verdict.value == expected


def test_shadow_first_then_promote(store: Store, seeded_db: tuple[Path, Seeded]) -> None:
    p = generate(store, seeded_db[1])["violation_cluster"]
    action = Action("Bash", {"command": PROD_APPLY}, context=_ctx("deploy"))
    shadow = accept(store, p.id, tenant=TENANT, actor="lead", base=BASE, shadow=True)
    assert shadow.status == "shadow"
    decision = Engine(text=PolicyRevisions(store).active(tenant=TENANT).content).check(action)  # type: ignore[union-attr]
    assert (decision.verdict.value, decision.would_verdict.value) == ("ask", "block")  # recorded, not acting
    with pytest.raises(ProposalError, match="promote"):
        accept(store, p.id, tenant=TENANT, actor="lead", base=BASE)
    done = promote(store, p.id, tenant=TENANT, actor="lead")
    assert (done.status, done.applied_to) == ("accepted", "r2")
    assert (
        Engine(text=PolicyRevisions(store).active(tenant=TENANT).content).check(action).verdict.value
        == "block"
    )  # type: ignore[union-attr]
    actions = [r.action for r in AuditLog(store).list(tenant=TENANT, action=None)]
    assert actions.count("proposal.accept") == 1 and actions.count("proposal.promote") == 1
    loop = generate(store, seeded_db[1])["loop"]
    with pytest.raises(ProposalError, match="no audit mode"):
        accept(store, loop.id, tenant=TENANT, actor="lead", base=BASE, shadow=True)


def test_generation_updates_instead_of_duplicating(store: Store, seeded_db: tuple[Path, Seeded]) -> None:
    seeded = seeded_db[1]
    first = generate(store, seeded, until=seeded.mid_ts)
    assert first["violation_cluster"].evidence_count == seeded.prod_attempts[0]
    again = generate_proposals(store, tenant=TENANT, base=BASE, since=seeded.start, until=seeded.mid_ts)
    assert not again.created and not again.updated and len(again.unchanged) == len(first)
    second = generate(store, seeded)
    assert {k: second[k].id for k in first} == {k: p.id for k, p in first.items()}  # same rows, updated
    assert second["violation_cluster"].evidence_count == sum(seeded.prod_attempts)
    assert len(list_proposals(store, tenant=TENANT)) == len(second)


def test_a_rejection_is_remembered_until_the_evidence_doubles(
    store: Store, seeded_db: tuple[Path, Seeded]
) -> None:
    seeded = seeded_db[1]
    p = generate(store, seeded, until=seeded.mid_ts)["violation_cluster"]
    done = reject(store, p.id, tenant=TENANT, actor="lead", reason="they will fix the agent")
    assert (done.status, done.status_reason) == ("rejected", "they will fix the agent")
    held = generate_proposals(store, tenant=TENANT, base=BASE, since=seeded.start, until=seeded.mid_ts)
    assert any(line.startswith(p.id) for line in held.suppressed)
    assert get_proposal(store, p.id, tenant=TENANT).status == "rejected"
    # The second phase doubles the evidence (6 -> 12): proposed again, saying why.
    assert sum(seeded.prod_attempts) >= 2 * seeded.prod_attempts[0]
    back = generate_proposals(store, tenant=TENANT, base=BASE, since=seeded.start, until=time.time() + 60)
    assert p.id in [q.id for q in back.updated]
    reopened = get_proposal(store, p.id, tenant=TENANT)
    assert reopened.status == "open" and "evidence grew" in (reopened.status_reason or "")
    record = AuditLog(store).list(tenant=TENANT, action="proposal.reject")[0]
    assert record.details["reason"] == "they will fix the agent" and record.actor == "lead"


def test_tenants_never_see_each_others_proposals(store: Store, seeded_db: tuple[Path, Seeded]) -> None:
    p = generate(store, seeded_db[1])["violation_cluster"]
    assert list_proposals(store, tenant="globex") == []
    for step in (
        lambda: get_proposal(store, p.id, tenant="globex"),
        lambda: accept(store, p.id, tenant="globex", actor="mallory", base=BASE),
        lambda: reject(store, p.id, tenant="globex", actor="mallory"),
    ):
        with pytest.raises(ProposalError, match="no proposal"):
            step()
    result = generate_proposals(
        store, tenant="globex", base=BASE, since=seeded_db[1].start, until=time.time() + 60
    )
    assert not result.created and get_proposal(store, p.id, tenant=TENANT).status == "open"


def test_a_cost_spike_proposes_a_run_budget_between_normal_and_new_runs(tmp_path: Path) -> None:
    from railguard.state import install_cushions

    with open_store(f"sqlite:///{tmp_path}/cost.db") as store:
        start, now = seed_cost_spike(store, "globex")
        generate_proposals(store, tenant="globex", base=BASE, since=start - 60, until=now)
        (p,) = list_proposals(store, tenant="globex")
        data = yaml.safe_load(p.patch)["budgets"][0]
        assert (data["scope"], data["metric"]) == ("run", "cost") and 0.01 < data["limit"] < 0.05
        assert p.backtest["estimate"]["runs_over"] == 15
        # Replayed with each run's model usage, the budget stops exactly the calls made once a new run
        # had spent past it (both calls of each: the first model call alone spends half of 0.05).
        b = p.backtest
        assert b["evidence_flagged"] == b["evidence"] == p.evidence_count == 2 * 15, b
        assert b["newly_blocked"] == b["changed"] == 30 and b["other_flagged"] == 0
        assert b["by_rule"] == {data["name"]: 30} and b["runs_affected"] == 15
        # Accepted, a run that has spent like the new runs is stopped at its next call; a normal one is not.
        accept(store, p.id, tenant="globex", actor="lead", base=BASE)
        active = PolicyRevisions(store).active(tenant="globex")
        assert active is not None
        verdicts = {}
        for spent in (0.01, 0.05):
            engine = Engine(text=active.content)
            cushions = install_cushions(engine, store)
            try:
                ctx = Context(tenant="globex", agent="research", run=f"live-{spent}", session="s")
                engine.record_usage(tokens=550, cost=spent, context=ctx)  # a model call that cost `spent`
                verdicts[spent] = engine.admit(
                    Action("refund", {"customer": "c", "amount": 1}, context=ctx)
                ).verdict.value
            finally:
                cushions.close()
                engine.close()
        assert verdicts == {0.01: "allow", 0.05: "block"}


@pytest.mark.postgres
def test_proposals_on_postgresql(pg_url: str) -> None:
    with open_store(pg_url) as store:
        seeded = prepare(store)
        found = generate(store, seeded)
        assert set(found) >= SOURCES
        p = found["violation_cluster"]
        assert p.backtest["evidence_flagged"] == p.evidence_count == sum(seeded.prod_attempts)
        accept(store, p.id, tenant=TENANT, actor="lead", base=BASE)
        active = PolicyRevisions(store).active(tenant=TENANT)
        assert active is not None
        action = Action("Bash", {"command": PROD_APPLY}, context=_ctx("deploy"))
        assert Engine(text=active.content).check(action).verdict.value == "block"
        reject(store, found["loop"].id, tenant=TENANT, actor="lead", reason="later")
        assert list_proposals(store, tenant="globex") == []
        assert [r.action for r in AuditLog(store).list(tenant=TENANT)][:1] == ["proposal.reject"]
        assert AuditLog(store).verify().ok

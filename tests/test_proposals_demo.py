"""`railguard demo --week` closes the loop: prod applies run on days 1-3 (the rule is in shadow),
the diagnosis and the proposals run before day 4, the accepted revision is what the fleet runs from
then on, and the same `terraform apply` against prod is blocked from day 4."""

from __future__ import annotations

from pathlib import Path

from railguard._demo_loop import TERRAFORM_RULE, closed_loop_week
from railguard.diagnose.proposals import list_proposals
from railguard.store import AuditLog, PolicyRevisions, open_store


def test_the_week_demo_closes_the_loop(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/loop.db") as store:
        result, story = closed_loop_week(store, seed=7, runs_per_day=16)
        accepted = {p.kind: p for p in list_proposals(store, tenant="acme", status="accepted")}
        active = PolicyRevisions(store).active(tenant="acme")
        audit = [r.action for r in AuditLog(store).list(tenant="acme")]
    assert result.days == 7 and story.labelled > 0
    assert set(accepted) == {"audit_confirmed", "approval_always_granted"}
    assert accepted["audit_confirmed"].backtest["labelled_failures_caught"] == story.labelled
    assert active is not None and story.revision == f"r{active.rev}" and active.rev > 1
    assert f"rule: {TERRAFORM_RULE}" in active.content and "mode: enforce" in active.content
    assert audit.count("proposal.accept") == 2
    assert story.before["prod_applies_ran"] > 0 and story.before["prod_applies_blocked"] == 0
    assert story.after["prod_applies_ran"] == 0 and story.after["prod_applies_blocked"] > 0
    assert story.first_blocked is not None and story.first_blocked.startswith("day 4,")
    # Large refunds people always approved stop reaching them (only ones above what they approved ask).
    assert story.after["refund_asks"] < story.before["refund_asks"]

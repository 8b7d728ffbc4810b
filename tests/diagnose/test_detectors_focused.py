"""Focused fixtures: synthetic history written straight into the store, one planted failure per agent
(and clean agents beside them), plus the approval detectors on real approval records."""

from __future__ import annotations

import pytest

from railguard.diagnose import run_detectors, severity_rank
from railguard.diagnose._history import (
    PLANT_KINDS,
    History,
    Plant,
    expected_kind,
    primary_kind,
    write_history,
)
from railguard.engine import Engine
from railguard.errors import ApprovalRequired
from railguard.model import Action, Context
from railguard.state.approvals import Approvals
from railguard.store import open_store

DAY_S = 86_400
PLANTS = [Plant(kind, f"agent-{i:02d}", 6 + i % 4) for i, kind in enumerate(PLANT_KINDS)]
CLEAN_AGENTS = {f"agent-{i:02d}" for i in range(len(PLANTS), len(PLANTS) + 3)}


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[History, list]:  # type: ignore[type-arg]
    url = f"sqlite:///{tmp_path_factory.mktemp('synth') / 'synth.db'}"
    with open_store(url) as store:
        history = write_history(
            store, agents=len(PLANTS) + 3, days=14, runs_per_day=12, seed=5, plants=PLANTS
        )
        result = run_detectors(store, since=history.start_ts, until=history.start_ts + 14 * DAY_S, save=False)
    return history, result.findings


@pytest.mark.parametrize("plant", PLANTS, ids=lambda p: p.kind)
def test_planted_failure_is_found_with_its_onset(plant: Plant, planted: tuple[History, list]) -> None:  # type: ignore[type-arg]
    history, findings = planted
    mine = [f for f in findings if f.agent == plant.agent]
    kinds = {f.kind for f in mine}
    assert primary_kind(plant) in kinds, (plant, [(f.kind, f.summary) for f in mine])
    assert kinds <= expected_kind(plant), [(f.kind, f.summary) for f in mine]
    onsets = [int((f.first_seen - history.start_ts) // DAY_S) for f in mine if f.kind == primary_kind(plant)]
    assert any(abs(day - plant.day) <= 1 for day in onsets), onsets


def test_clean_agents_stay_quiet(planted: tuple[History, list]) -> None:  # type: ignore[type-arg]
    _, findings = planted
    noisy = [f.summary for f in findings if f.agent in CLEAN_AGENTS and severity_rank(f.severity) >= 1]
    assert noisy == []


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (["approved"] * 12, "approval_always_granted"),
        (["denied"] * 11 + ["approved"] * 0, "approval_always_denied"),
        (["approved", "denied"] * 6, None),
        (["approved"] * 5, None),  # too few to say
    ],
)
def test_approval_detectors(tmp_path, answers: list[str], expected: str | None) -> None:  # type: ignore[no-untyped-def]
    now = [1_800_000_000.0]
    engine = Engine(
        text="rules:\n  - rule: pay/ask\n    tools: [pay]\n    verdict: ask\n    message: payments\n"
    )
    with open_store(f"sqlite:///{tmp_path / 'a.db'}") as store:
        approvals = Approvals(store, clock=lambda: now[0])
        for i, answer in enumerate(answers):
            action = Action(
                "pay",
                {"amount": 900 + i},
                context=Context(tenant="acme", agent="payer", session=f"s{i}", run=f"r{i}"),
            )
            with pytest.raises(ApprovalRequired) as pending:
                approvals.request(action, engine.check(action))
            now[0] += 600
            decide = approvals.approve if answer == "approved" else approvals.deny
            decide(pending.value.approval_id, by="ana")  # type: ignore[arg-type]
        found = run_detectors(store, since=1_800_000_000.0 - 60, until=now[0] + 60, save=False).findings
    kinds = [f.kind for f in found]
    assert kinds == ([expected] if expected else [])
    if expected:
        assert found[0].agent == "payer" and found[0].tenant == "acme" and found[0].subject == "pay/ask"

"""Backtest: what a candidate policy would have done to stored history.

    with replay_engine(load_policy("candidate.yaml")) as candidate:
        report = backtest(read_history(store, since=t0, until=t1), candidate, labels=failed_traces)
    print(report.to_json())

Every stored action of the window (see `_stored_runs`) is replayed, in order, through the candidate
and — when given — the current policy, each an engine whose stateful guards (budgets, limits, loop
caps, approvals, provenance) live in a throw-away store: a backtest never touches live state, and
replaying the same window twice gives the same answers. Without a current policy the baseline is what
was recorded (the verdict before any human answered); actions ingested without a decision ran, so
their recorded verdict is allow.
"""

from __future__ import annotations

import contextlib
import gc
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from railguard.diagnose._stored_runs import HistoryAction, StoredHistory, read_history
from railguard.diagnose.replay import Replayer
from railguard.engine import Engine
from railguard.model import Decision, Mode, Verdict
from railguard.policy import CompiledPolicy

__all__ = [
    "BacktestReport",
    "ChangedAction",
    "HistoryAction",
    "StoredHistory",
    "backtest",
    "read_history",
    "replay_engine",
]

_BUCKET = {
    "block": "newly_blocked",
    "ask": "newly_asked",
    "allow": "newly_allowed",
    "modify": "newly_modified",
}
_MAX_EXAMPLES = 200


@contextlib.contextmanager
def replay_engine(
    policy: CompiledPolicy | Sequence[str | Path] | None,
    *,
    packs: Sequence[str] | None = None,
    provenance: bool = True,
) -> Iterator[Engine]:
    """An engine for `policy` whose stateful guards (budgets, limits, loop caps, provenance) use a
    temporary store (deleted on exit), and to which no tracing sink, approval handler or kill switch
    is attached: replaying through it has no effect outside it. A replay has nobody to answer an ask
    (a call re-checked after a person answered is replayed once, as first decided), so the approval
    lookup, which could only find nothing, is left out."""
    from railguard.state import install_provenance
    from railguard.state.cushions import install_policy_guards
    from railguard.store import open_store

    with tempfile.TemporaryDirectory(prefix="railguard-backtest-", ignore_cleanup_errors=True) as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'replay.db'}")
        source = policy if isinstance(policy, CompiledPolicy) or policy is None else [str(p) for p in policy]
        # The policy's own deadline: collector pauses never count against it (railguard._gc_pauses).
        engine = Engine(source, packs=list(packs) if packs else None)
        try:
            install_policy_guards(engine, store)
            if provenance:
                install_provenance(engine, None)
            yield engine
        finally:
            engine.close()
            store.close()


@dataclass(frozen=True, slots=True)
class ChangedAction:
    """One action whose verdict the candidate changes."""

    run: str
    trace_id: str | None
    agent: str
    tool: str
    decision_id: str | None
    before: str
    after: str
    rules: tuple[str, ...]
    human: str | None
    key: str | None = None  # `HistoryAction.key`

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run, "trace_id": self.trace_id, "agent": self.agent, "tool": self.tool,
            "decision_id": self.decision_id, "before": self.before, "after": self.after,
            "rules": list(self.rules), "human": self.human,
        }  # fmt: skip


@dataclass(slots=True)
class BacktestReport:
    """Counts of what the candidate changes against the baseline; `to_json()` is `--json`."""

    baseline: str = "recorded"  # "recorded" or "current"
    actions: int = 0
    changed: int = 0
    newly_blocked: int = 0
    newly_asked: int = 0
    newly_allowed: int = 0
    newly_modified: int = 0
    by_rule: Counter[str] = field(default_factory=Counter)
    by_agent: dict[str, Counter[str]] = field(default_factory=dict)
    runs: set[str] = field(default_factory=set)
    approved_now_blocked: int = 0
    denied_now_allowed: int = 0
    caught_failures: set[str] = field(default_factory=set)  # labelled-failure traces newly stopped
    not_reproduced: int = 0  # with a current policy: actions whose replayed verdict differs from the record
    skipped: int = 0  # stored actions without recorded arguments
    errors: int = 0  # events the replayer refused
    examples: list[ChangedAction] = field(default_factory=list)

    @property
    def runs_affected(self) -> int:
        return len(self.runs)

    @property
    def labelled_failures_caught(self) -> int:
        return len(self.caught_failures)

    def to_json(self) -> dict[str, Any]:
        return {
            "actions": self.actions,
            "changed": self.changed,
            "newly_blocked": self.newly_blocked,
            "newly_asked": self.newly_asked,
            "newly_allowed": self.newly_allowed,
            "newly_modified": self.newly_modified,
            "by_rule": dict(sorted(self.by_rule.items(), key=lambda kv: (-kv[1], kv[0]))),
            "runs_affected": self.runs_affected,
            "approved_now_blocked": self.approved_now_blocked,
            "labelled_failures_caught": self.labelled_failures_caught,
        }

    def add(self, meta: HistoryAction, before: str, after: Decision, before_rules: Iterable[str]) -> None:
        self.actions += 1
        verdict = after.verdict.value
        if verdict == before:
            return
        self.changed += 1
        bucket = _BUCKET[verdict]
        setattr(self, bucket, getattr(self, bucket) + 1)
        rules = (
            tuple(before_rules)
            if after.verdict is Verdict.ALLOW
            else tuple(h.rule for h in after.hits if h.verdict is after.verdict and h.mode is Mode.ENFORCE)
        )
        self.by_rule.update(rules or ("(none)",))
        self.by_agent.setdefault(meta.agent or "-", Counter())[bucket] += 1
        self.runs.add(meta.trace_id or meta.run)
        if meta.human == "approved" and after.verdict is Verdict.BLOCK:
            self.approved_now_blocked += 1
        if meta.human == "denied" and after.allowed:
            self.denied_now_allowed += 1
        if len(self.examples) < _MAX_EXAMPLES:
            self.examples.append(
                ChangedAction(
                    meta.run,
                    meta.trace_id,
                    meta.agent,
                    meta.tool,
                    meta.decision_id,
                    before,
                    verdict,
                    rules,
                    meta.human,
                    meta.key,
                )
            )


def backtest(
    history: StoredHistory,
    candidate: Engine,
    *,
    current: Engine | None = None,
    failed_traces: Iterable[str] = (),
    on_action: Callable[[int], None] | None = None,
) -> BacktestReport:
    """Replay `history` through `candidate` (and `current`, when given) and count the changes.
    `failed_traces`: traces people labelled as failures; `on_action(n)` reports progress."""
    failed = set(failed_traces)
    # The history is long-lived and acyclic: keep the cyclic collector from re-walking it (at 1M
    # actions that walk costs more than the replay itself).
    gc.freeze()
    report = BacktestReport(
        baseline="current" if current is not None else "recorded", skipped=history.skipped
    )
    after_replay = Replayer(candidate)
    before_replay = Replayer(current) if current is not None else None
    metas = iter(history.actions)
    for line, event in enumerate(history.events, 1):
        after = after_replay.feed(line, event)
        before = before_replay.feed(line, event) if before_replay is not None else None
        if event.get("type") != "action":
            report.errors += after is not None
            continue
        meta = next(metas)
        if after is None or after.decision is None:
            report.errors += 1
            continue
        if before is not None and before.decision is not None:
            baseline, baseline_rules = before.decision.verdict.value, before.decision.rules
            report.not_reproduced += meta.recorded is not None and baseline != meta.recorded
        else:
            baseline, baseline_rules = meta.recorded or "allow", meta.rules
        stopped_before = baseline in ("block", "ask")
        report.add(meta, baseline, after.decision, baseline_rules)
        if (
            meta.trace_id in failed
            and after.decision.verdict in (Verdict.BLOCK, Verdict.ASK)
            and not stopped_before
        ):
            report.caught_failures.add(meta.trace_id)
        if on_action is not None:
            on_action(1)
    return report

"""The decision pipeline: verdicts, strictest-wins, modes, deadline, on_error, ids, reload, explain."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import railguard as rg
from railguard.detect import facts as facts_module
from railguard.detect._budget import checkpoint
from railguard.engine import Engine

if TYPE_CHECKING:
    from conftest import FakeClock  # the `fake_clock` fixture

PAYMENTS = """
name: payments
version: 7
rules:
  - list: blocked_countries
    items: [KP, IR]
  - macro: is_prod
    condition: ctx.env == "prod"
  - rule: pay/sanctioned
    tools: [send_money]
    when: has(args.country) && args.country in blocked_countries
    verdict: block
    severity: critical
    message: "payments to ${args.country} are not allowed"
  - rule: pay/large
    tools: [send_money]
    when: args.amount > 500 && is_prod
    verdict: ask
    severity: high
    message: "payment of ${args.amount} needs approval"
  - rule: pay/cap-memo
    tools: ["send_*"]
    when: has(args.memo) && size(args.memo) > 20
    verdict: modify
    modify:
      set: {memo: 'args.memo.substring(0, 20)'}
    message: memo shortened
  - rule: pay/drop-debug
    tools: ["send_*"]
    when: has(args.debug)
    verdict: modify
    modify: {remove: [debug]}
  - rule: pay/log-all
    tools: [send_money]
    verdict: allow
    message: logged
"""


@pytest.fixture
def engine() -> Engine:
    return Engine.from_yaml(PAYMENTS)


def prod(**labels: str) -> rg.Context:
    return rg.Context(env="prod", tenant="acme", run="r1", labels=labels)


def test_allow_when_nothing_matches(engine: Engine) -> None:
    d = engine.check("read_file", {"path": "x"})
    assert d.verdict is rg.Verdict.ALLOW
    assert d.rules == ()
    assert d.reason == "no rule matched"
    assert d.allowed


def test_allow_rule_is_recorded_but_changes_nothing(engine: Engine) -> None:
    d = engine.check("send_money", {"amount": 5}, context=prod())
    assert d.verdict is rg.Verdict.ALLOW
    assert d.rules == ("pay/log-all",)


def test_block_with_rendered_message(engine: Engine) -> None:
    d = engine.check("send_money", {"amount": 5, "country": "KP"}, context=prod())
    assert d.verdict is rg.Verdict.BLOCK
    assert d.reason == "payments to KP are not allowed"
    assert d.severity is rg.Severity.CRITICAL
    assert not d.allowed


def test_ask(engine: Engine) -> None:
    d = engine.check("send_money", {"amount": 900}, context=prod())
    assert d.verdict is rg.Verdict.ASK
    assert "900" in d.reason


def test_strictest_verdict_wins(engine: Engine) -> None:
    d = engine.check("send_money", {"amount": 900, "country": "IR", "memo": "x" * 30}, context=prod())
    assert d.verdict is rg.Verdict.BLOCK
    assert set(d.rules) >= {"pay/sanctioned", "pay/large", "pay/cap-memo"}
    assert d.args is None  # a blocked call is never rewritten


def test_modify_set_and_remove(engine: Engine) -> None:
    d = engine.check("send_invoice", {"memo": "a" * 30, "debug": True, "to": "x"})
    assert d.verdict is rg.Verdict.MODIFY
    assert d.args == {"memo": "a" * 20, "to": "x"}
    assert d.allowed


def test_rules_indexed_by_tool(engine: Engine) -> None:
    assert len(engine.policy.plan("send_money").rules) == 5
    assert len(engine.policy.plan("send_invoice").rules) == 2
    assert engine.policy.plan("unrelated").rules == ()


def test_facts_are_computed_once_and_only_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counting(action: rg.Action, spec: rg.ToolSpec | None) -> dict[str, object]:
        calls.append(action.tool)
        return {"hot": True, "n": 3}

    monkeypatch.setitem(
        facts_module.FACTS, "probe", facts_module.FactProvider("probe", counting, False, "test")
    )
    engine = Engine.from_yaml(
        """
rules:
  - {rule: a, tools: [t], when: probe.hot, verdict: ask}
  - {rule: b, tools: [t], when: probe.n > 2, verdict: block}
  - {rule: c, tools: [other], when: "true", verdict: block}
"""
    )
    assert engine.check("t", {}).verdict is rg.Verdict.BLOCK
    assert calls == ["t"]
    engine.check("other", {})
    assert calls == ["t"]  # no rule for "other" reads the fact


def test_audit_mode_records_would_block_and_allows() -> None:
    engine = Engine.from_yaml("mode: audit\n" + PAYMENTS)
    d = engine.check("send_money", {"amount": 1, "country": "KP"}, context=prod())
    assert d.verdict is rg.Verdict.ALLOW
    assert d.would_verdict is rg.Verdict.BLOCK
    assert d.mode is rg.Mode.AUDIT
    assert d.reason.startswith("audit mode, would block")
    assert d.hits[0].mode is rg.Mode.AUDIT


def test_rule_level_audit_mode() -> None:
    engine = Engine.from_yaml(
        """
rules:
  - {rule: new-rule, tools: [t], verdict: block, mode: audit, message: trial}
  - {rule: old-rule, tools: [t], when: args.x == 1, verdict: ask}
"""
    )
    d = engine.check("t", {"x": 0})
    assert (d.verdict, d.would_verdict) == (rg.Verdict.ALLOW, rg.Verdict.BLOCK)
    d = engine.check("t", {"x": 1})
    assert (d.verdict, d.would_verdict) == (rg.Verdict.ASK, rg.Verdict.BLOCK)


def test_forced_audit_mode_from_the_engine() -> None:
    engine = Engine(text=PAYMENTS, mode="audit")
    d = engine.check("send_money", {"amount": 1, "country": "KP"})
    assert d.verdict is rg.Verdict.ALLOW and d.would_verdict is rg.Verdict.BLOCK


def test_exceptions_suppress_a_rule() -> None:
    engine = Engine.from_yaml(
        """
rules:
  - rule: no-deletes
    tools: [delete]
    verdict: block
    exceptions:
      - {name: staging, when: 'ctx.env == "staging"'}
"""
    )
    assert engine.check("delete", {}, context=rg.Context(env="prod")).verdict is rg.Verdict.BLOCK
    assert engine.check("delete", {}, context=rg.Context(env="staging")).verdict is rg.Verdict.ALLOW


def test_evaluation_error_fails_closed_with_reason() -> None:
    engine = Engine.from_yaml("rules:\n  - {rule: r, tools: [t], when: args.amount > 5, verdict: ask}\n")
    d = engine.check("t", {})  # no 'amount'
    assert d.verdict is rg.Verdict.BLOCK
    assert "could not be evaluated" in d.reason and "amount" in d.reason
    assert "on_error=block" in d.reason


def test_on_error_is_configurable() -> None:
    engine = Engine.from_yaml("on_error: ask\nrules:\n  - {rule: r, when: args.amount > 5, verdict: block}\n")
    assert engine.check("t", {}).verdict is rg.Verdict.ASK


def test_non_boolean_condition_is_an_error() -> None:
    engine = Engine.from_yaml("rules:\n  - {rule: r, when: args.n + 1, verdict: ask}\n")
    d = engine.check("t", {"n": 1})
    assert d.verdict is rg.Verdict.BLOCK and "true or false" in d.reason


def test_failing_detector_fails_closed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(action: rg.Action, spec: rg.ToolSpec | None) -> object:
        raise RuntimeError("detector exploded")

    monkeypatch.setitem(facts_module.FACTS, "probe", facts_module.FactProvider("probe", broken, False, ""))
    engine = Engine.from_yaml(
        "rules:\n  - {rule: a, when: probe.x, verdict: ask}\n  - {rule: b, when: probe.y, verdict: ask}\n"
    )
    d = engine.check("t", {})
    assert d.verdict is rg.Verdict.BLOCK
    assert d.rules == ("railguard/fact:probe",)
    assert "detector exploded" in d.reason


def _probe(monkeypatch: pytest.MonkeyPatch, work: Callable[[], None]) -> None:
    """A detector fact whose computation runs `work` in a loop of 10 checkpoints."""

    def compute(action: rg.Action, spec: rg.ToolSpec | None) -> object:
        for _ in range(10):
            work()
            checkpoint("probe loop")
        return {"x": False}

    monkeypatch.setitem(facts_module.FACTS, "probe", facts_module.FactProvider("probe", compute, False, ""))


PROBED = "deadline_ms: 5\non_error: ask\nrules:\n  - {rule: a, when: probe.x, verdict: block}\n"


def test_deadline_stops_an_analyzer_that_spins(
    monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> None:
    loops: list[int] = []
    _probe(monkeypatch, lambda: (loops.append(1), fake_clock.spend_cpu(1)))
    d = Engine.from_yaml(PROBED, clock=fake_clock.clock()).check("t", {})
    assert d.verdict is rg.Verdict.ASK and d.error is not None
    assert "5 ms CPU-time deadline" in d.reason and "probe loop" in d.reason
    assert len(loops) == 6  # cut off inside the analyzer, at the first checkpoint past 5 ms


def test_deadline_counts_cpu_time_so_a_preempted_check_is_not_cut_off(
    monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> None:
    # 10 x (0.1 ms of work, then 30 ms preempted by other processes): 1 ms CPU, 300 ms elapsed
    _probe(monkeypatch, lambda: (fake_clock.spend_cpu(0.1), fake_clock.wait(30)))
    d = Engine.from_yaml(PROBED, clock=fake_clock.clock()).check("t", {})
    assert d.error is None and d.verdict is rg.Verdict.ALLOW


@pytest.fixture
def slow_collections(fake_clock: FakeClock) -> Iterator[Callable[[Callable[[], None]], None]]:
    """Make every garbage collection take time on the fake clock (`pass_time` runs as it starts), as
    a full collection walking a large process heap does. The tests collect only the youngest
    generation: the callbacks fire for every generation alike, and a real full collection in a test
    worker's heap costs seconds of the suite's time."""
    installed: list[Callable[[str, dict[str, object]], None]] = []

    def install(pass_time: Callable[[], None]) -> None:
        def on_collection(phase: str, info: dict[str, object]) -> None:
            if phase == "start":
                pass_time()

        gc.callbacks.append(on_collection)  # after railguard's own: it measures around this one
        installed.append(on_collection)

    yield install
    for callback in installed:
        gc.callbacks.remove(callback)


def test_a_garbage_collection_during_the_evaluation_is_not_its_time(
    monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock, slow_collections: Callable[..., None]
) -> None:
    # The process's collector lands in the check: 10 full collections of 30 ms CPU each, against a
    # 5 ms deadline. They pay for the whole process's allocations, not for this evaluation.
    slow_collections(lambda: fake_clock.spend_cpu(30))
    _probe(monkeypatch, lambda: (fake_clock.spend_cpu(0.1), gc.collect(0)))
    d = Engine.from_yaml(PROBED, clock=fake_clock.clock()).check("t", {})
    assert d.error is None and d.verdict is rg.Verdict.ALLOW


def test_a_collection_on_another_thread_does_not_count_against_the_wall_clock_bound(
    monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock, slow_collections: Callable[..., None]
) -> None:
    # Another thread collects (300 ms each, on a busy machine) while this one waits for it: 3 s.
    slow_collections(lambda: fake_clock.wait(300))

    def collect_elsewhere() -> None:
        other = threading.Thread(target=gc.collect, args=(0,))
        other.start()
        other.join()

    _probe(monkeypatch, collect_elsewhere)
    d = Engine.from_yaml(PROBED, clock=fake_clock.clock()).check("t", {})
    assert d.error is None and d.verdict is rg.Verdict.ALLOW


def test_a_runaway_evaluation_is_cut_off_even_with_collections_in_it(
    monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock, slow_collections: Callable[..., None]
) -> None:
    loops: list[int] = []
    slow_collections(lambda: fake_clock.spend_cpu(50))
    _probe(monkeypatch, lambda: (loops.append(1), fake_clock.spend_cpu(1), gc.collect(0)))
    d = Engine.from_yaml(PROBED, clock=fake_clock.clock()).check("t", {})
    assert d.verdict is rg.Verdict.ASK and "5 ms CPU-time deadline" in d.reason and "probe loop" in d.reason
    assert len(loops) == 6  # the evaluation's own 1 ms per loop, as without collections


def test_a_much_larger_wall_clock_bound_catches_blocking(
    monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> None:
    _probe(monkeypatch, lambda: fake_clock.wait(200))  # blocked, burning no CPU: 2 s in all
    d = Engine.from_yaml(PROBED, clock=fake_clock.clock()).check("t", {})
    assert d.verdict is rg.Verdict.ASK and "1000 ms wall-clock deadline" in d.reason


def _slow_loading_probe(
    monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock, loads: Callable[..., bool] | None = None
) -> list[int]:
    """A detector whose loading (its `warm`) takes 30 ms of CPU with checkpoints inside, as a parser
    or model loading on the first action that needs it would; its computation itself is quick."""
    loaded: list[int] = []

    def warm() -> None:
        for _ in range(30):
            fake_clock.spend_cpu(1)
            checkpoint("loading")
        loaded.append(1)

    provider = facts_module.FactProvider("probe", lambda a, s: {"x": True}, False, "", warm, loads)
    monkeypatch.setitem(facts_module.FACTS, "probe", provider)
    monkeypatch.setattr(facts_module, "_warmed", set())
    return loaded


def test_a_detector_loading_on_first_use_is_off_the_deadline_clock(
    monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> None:
    loaded = _slow_loading_probe(monkeypatch, fake_clock)
    engine = Engine.from_yaml(PROBED, clock=fake_clock.clock(), warm=False)
    assert loaded == []  # not at policy load: on the first action that reads the fact
    first = engine.check("t", {})
    assert first.error is None and first.verdict is rg.Verdict.BLOCK and first.rules == ("a",)
    assert first.latency_us < 5000  # the 30 ms of loading is not the evaluation's time
    assert engine.check("t", {}).verdict is rg.Verdict.BLOCK and loaded == [1]  # loaded once


def test_a_detector_is_not_loaded_for_an_action_that_does_not_use_it(
    monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> None:
    loaded = _slow_loading_probe(monkeypatch, fake_clock, loads=lambda action, spec: "text" in action.args)
    engine = Engine.from_yaml(PROBED, clock=fake_clock.clock(), warm=False)
    assert engine.check("t", {"n": 1}).verdict is rg.Verdict.BLOCK and loaded == []
    assert engine.check("t", {"text": "long enough"}).verdict is rg.Verdict.BLOCK and loaded == [1]


def test_a_runaway_computation_after_a_slow_load_is_still_cut_off(
    monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> None:
    _slow_loading_probe(monkeypatch, fake_clock)

    def spins(action: rg.Action, spec: rg.ToolSpec | None) -> object:
        while True:
            fake_clock.spend_cpu(1)
            checkpoint("probe loop")

    warm = facts_module.FACTS["probe"].warm
    monkeypatch.setitem(
        facts_module.FACTS, "probe", facts_module.FactProvider("probe", spins, False, "", warm)
    )
    d = Engine.from_yaml(PROBED, clock=fake_clock.clock(), warm=False).check("t", {})
    assert d.verdict is rg.Verdict.ASK and "5 ms CPU-time deadline" in d.reason and "probe loop" in d.reason


def test_step_exception_gives_on_error() -> None:
    engine = Engine.from_yaml("rules: []")

    def bad_step(action: rg.Action, facts: rg.Facts) -> None:
        raise ValueError("boom")

    engine.add_step(bad_step, stage="guards")
    d = engine.check("t", {})
    assert d.verdict is rg.Verdict.BLOCK and "guards step failed" in d.reason


def test_steps_run_in_stage_order_and_a_stop_ends_the_chain() -> None:
    engine = Engine.from_yaml("rules:\n  - {rule: r, verdict: ask}\n")
    seen: list[str] = []

    def guard_step(action: rg.Action, facts: rg.Facts) -> None:
        seen.append("guards")

    def kill(action: rg.Action, facts: rg.Facts) -> rg.Stop:
        seen.append("killswitch")
        return rg.Stop(rg.RuleHit("killswitch/global", rg.Verdict.BLOCK, "stopped", source="killswitch"))

    engine.add_step(guard_step, stage="guards")
    engine.add_step(kill, stage="killswitch")
    assert [s for s, _ in engine.steps] == ["killswitch", "contract", "policy", "guards"]
    d = engine.check("t", {})
    assert d.verdict is rg.Verdict.BLOCK and d.rules == ("killswitch/global",)
    assert seen == ["killswitch"]


def test_only_the_stop_signal_ends_the_chain_not_where_a_hit_came_from() -> None:
    engine = Engine.from_yaml("rules:\n  - {rule: r, verdict: ask}\n")
    seen: list[str] = []

    def kill_hit(action: rg.Action, facts: rg.Facts) -> rg.RuleHit:
        return rg.RuleHit("killswitch/global", rg.Verdict.BLOCK, "stopped", source="killswitch")

    def raises_stop(action: rg.Action, facts: rg.Facts) -> None:
        seen.append("guards")
        raise rg.Stop(rg.RuleHit("guard/stop", rg.Verdict.ASK, "halt", source="guards"))

    def approval_step(action: rg.Action, facts: rg.Facts) -> None:
        seen.append("approval")

    engine.add_step(kill_hit, stage="killswitch")
    engine.add_step(raises_stop, stage="guards")
    engine.add_step(approval_step, stage="approval")
    d = engine.check("t", {})
    assert d.rules == ("killswitch/global", "r", "guard/stop") and d.verdict is rg.Verdict.BLOCK
    assert seen == ["guards"]


def test_approval_step_satisfies_ask_but_not_block() -> None:
    engine = Engine.from_yaml(
        "rules:\n  - {rule: r, tools: [t], verdict: ask}\n  - {rule: b, tools: [u], verdict: block}\n"
    )

    def approved(action: rg.Action, facts: rg.Facts) -> None:
        facts.approval_id = "apr-1"

    engine.add_step(approved, stage="approval")
    d = engine.check("t", {})
    assert d.verdict is rg.Verdict.ALLOW and d.approval_id == "apr-1" and d.would_verdict is rg.Verdict.ASK
    assert engine.check("u", {}).verdict is rg.Verdict.BLOCK


def test_decision_id_is_stable_across_retries() -> None:
    engine = Engine.from_yaml("rules: []")
    ctx = rg.Context(run="run-1", tenant="t")
    a = engine.check("t", {"x": 1}, call_id="call-9", context=ctx)
    b = engine.check("t", {"x": 2}, call_id="call-9", context=ctx)  # same call id: same decision
    c = engine.check("t", {"x": 1}, context=ctx)
    d = engine.check("t", {"x": 1}, context=ctx)
    e = engine.check("t", {"x": 1}, context=rg.Context(run="run-2", tenant="t"))
    assert a.decision_id == b.decision_id
    assert c.decision_id == d.decision_id != a.decision_id
    assert e.decision_id != c.decision_id


def test_decision_record_is_versioned(engine: Engine) -> None:
    d = engine.check("send_money", {"amount": 900}, context=prod())
    record = d.to_record()
    assert record["v"] == 1
    assert record["verdict"] == "ask" and record["rules"] == ["pay/large", "pay/log-all"]
    assert record["policy_revision"] == d.policy_revision and d.policy_revision.startswith("payments@7#")
    assert record["context"]["tenant"] == "acme"


def test_run_scope_sets_the_context() -> None:
    engine = Engine.from_yaml(
        'rules:\n  - {rule: r, when: ctx.user == "ana" && "admin" in ctx.roles, verdict: block}\n'
    )
    with rg.run(agent="a", tenant="acme", user="ana", roles=["admin"]) as ctx:
        assert ctx.run
        d = engine.check("t", {})
        with rg.run(user="bob"):
            inner = engine.check("t", {})
            assert rg.current_context().tenant == "acme"
    assert d.verdict is rg.Verdict.BLOCK and d.context.run == ctx.run
    assert inner.verdict is rg.Verdict.ALLOW
    assert rg.current_context().tenant is None


def test_sinks_get_every_decision_and_cannot_break_the_agent(engine: Engine) -> None:
    got: list[str] = []
    engine.subscribe(lambda d, a: got.append(d.verdict.value))

    def broken(d: rg.Decision, a: rg.Action) -> None:
        raise OSError("disk full")

    engine.subscribe(broken)
    engine.check("send_money", {"amount": 900}, context=prod())
    assert got == ["ask"]
    assert engine.stats.sink_errors == 1


def test_explain_reports_every_candidate_rule(engine: Engine) -> None:
    ex = engine.explain(rg.Action("send_money", {"amount": 900, "country": "FR"}, context=prod()))
    by_rule = {r.rule: r for r in ex.rules}
    assert by_rule["pay/large"].matched and not by_rule["pay/sanctioned"].matched
    assert ex.candidate_rules == 5 and ex.total_rules == 5
    assert ex.decision.verdict is rg.Verdict.ASK


# -- reload --------------------------------------------------------------------------------------


def _write(path: Path, verdict: str) -> None:
    # A large deadline: its wall-clock bound (20x) must stay far above the GIL waits of 4 busy threads.
    path.write_text(
        f"name: live\ndeadline_ms: 60000\nrules:\n  - {{rule: r, tools: [t], verdict: {verdict}}}\n"
    )


def test_reload_swaps_atomically_and_keeps_the_old_policy_on_error(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    _write(policy, "ask")
    engine = Engine.load(policy)
    assert engine.check("t", {}).verdict is rg.Verdict.ASK
    _write(policy, "block")
    engine.reload()
    assert engine.check("t", {}).verdict is rg.Verdict.BLOCK
    policy.write_text("rules:\n  - {rule: r, verdict: blok}\n")
    with pytest.raises(rg.PolicyError):
        engine.reload()
    assert engine.check("t", {}).verdict is rg.Verdict.BLOCK
    assert engine.stats.last_reload_error and "blok" in engine.stats.last_reload_error


def test_checks_during_reload_always_see_one_whole_policy(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    _write(policy, "ask")
    engine = Engine.load(policy)
    stop = threading.Event()
    bad: list[str] = []

    def checker() -> None:
        while not stop.is_set():
            d = engine.check("t", {})
            if d.error is not None:
                bad.append(d.error)
            expected = {"ask": rg.Verdict.ASK, "block": rg.Verdict.BLOCK}
            # the verdict must belong to the revision the decision names
            rev_verdict = revisions.get(d.policy_revision)
            if rev_verdict is not None and expected[rev_verdict] is not d.verdict:
                bad.append(d.policy_revision)

    revisions: dict[str, str] = {engine.policy.revision: "ask"}
    threads = [threading.Thread(target=checker) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(20):
        verdict = "block" if i % 2 == 0 else "ask"
        _write(policy, verdict)
        revisions[engine.reload().revision] = verdict
    stop.set()
    for t in threads:
        t.join()
    assert bad == []


def test_watch_reloads_a_changed_file(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    _write(policy, "ask")
    engine = Engine.load(policy, watch=True)
    try:
        engine.check("t", {})
        time.sleep(0.05)
        _write(policy, "block")
        deadline = time.monotonic() + 10
        while engine.check("t", {}).verdict is not rg.Verdict.BLOCK and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engine.check("t", {}).verdict is rg.Verdict.BLOCK
    finally:
        engine.close()


def test_includes_merge_and_override(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        """
rules:
  - {list: admins, items: [ana]}
  - {rule: base/a, tools: [t], verdict: block}
  - {rule: base/b, tools: [t], verdict: ask}
"""
    )
    (tmp_path / "main.yaml").write_text(
        """
name: main
include: [base.yaml]
rules:
  - {list: admins, items: [bob], append: true}
  - {rule: base/a, enabled: false}
  - {rule: base/b, tools: [t], when: '!(ctx.user in admins)', verdict: ask}
"""
    )
    engine = Engine.load(tmp_path / "main.yaml")
    assert engine.policy.lists["admins"] == ["ana", "bob"]
    assert engine.check("t", {}, context=rg.Context(user="bob")).verdict is rg.Verdict.ALLOW
    assert engine.check("t", {}, context=rg.Context(user="eve")).verdict is rg.Verdict.ASK
    assert len(engine.policy.source.files) == 2


def test_engine_without_policy_uses_the_default_pack() -> None:
    engine = Engine()
    assert engine.policy.name == "default"
    assert rg.available_packs()[0]


def test_deadline_bounds_evaluation_not_the_stateful_stages(fake_clock: FakeClock) -> None:
    engine = Engine.from_yaml(
        "deadline_ms: 5\nrules:\n  - {rule: r, tools: [t], verdict: ask}\n", clock=fake_clock.clock()
    )

    def slow_store_lookup(action: rg.Action, facts: rg.Facts) -> None:
        fake_clock.spend_cpu(30)  # a busy database driver, not a runaway rule
        facts.approval_id = "apr-1"

    engine.add_step(slow_store_lookup, stage="approval")
    d = engine.check("t", {})
    assert d.error is None and d.verdict is rg.Verdict.ALLOW and d.approval_id == "apr-1"


def test_args_too_deep_or_too_large_give_on_error_never_an_exception() -> None:
    engine = Engine.from_yaml("rules:\n  - {rule: r, tools: [t], when: args.x == 1, verdict: ask}\n")
    deep: object = "leaf"
    for _ in range(5000):
        deep = {"a": [deep]}
    d = engine.check("t", {"x": deep})
    assert d.verdict is rg.Verdict.BLOCK and "nests deeper than 200 levels" in d.reason
    wide = engine.check("t", {"x": list(range(300_000))})
    assert wide.verdict is rg.Verdict.BLOCK and "more than 200,000 values" in wide.reason
    assert engine.check("t", {"x": 1}).verdict is rg.Verdict.ASK  # the engine is fine afterwards

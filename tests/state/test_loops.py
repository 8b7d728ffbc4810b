"""Loop detection in memory and in a shared store: repeats, short cycles, repeated errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from railguard.engine import Engine
from railguard.errors import ConfigurationError
from railguard.model import Action, Context, Verdict
from railguard.state.loops import LoopRules, Loops, call_signature, error_signature
from railguard.store import Store, open_store

RUN = Context(tenant="acme", run="r1")
MakeLoops = Callable[..., Loops]


@pytest.fixture(params=["memory", "store"])
def make_loops(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeLoops]:
    """Builds Loops on either backend; the same behaviour is expected from both."""
    store: Store | None = open_store(f"sqlite:///{tmp_path}/loops.db") if request.param == "store" else None

    def make(rules: LoopRules | None = None) -> Loops:
        return Loops(store, rules)

    yield make
    if store is not None:
        store.close()


def call(tool: str, ctx: Context = RUN, **args: object) -> Action:
    return Action(tool, dict(args), context=ctx)


def verdicts(loops: Loops, actions: list[Action]) -> list[str]:
    out = []
    for action in actions:
        hits = loops.check(action)
        out.append(hits[0].rule if hits else "ok")
    return out


def test_same_call_is_blocked_after_the_cap(make_loops: MakeLoops) -> None:
    loops = make_loops(LoopRules(max_repeats=3, cycle_repeats=None))
    assert verdicts(loops, [call("search", q="x")] * 5) == ["ok", "ok", "ok", "loop/repeat", "loop/repeat"]
    assert loops.check(call("search", q="y")) == ()  # other arguments
    assert loops.check(call("search", Context(tenant="acme", run="r2"), q="x")) == ()  # other run


def test_argument_order_never_matters_and_case_only_when_asked() -> None:
    a = call("search", q="Hello  World", n=1)
    b = Action("search", {"n": 1, "q": "Hello  World"}, context=RUN)
    c = call("search", q="hello world", n=1)
    assert call_signature(a) == call_signature(b)
    assert call_signature(a) != call_signature(c)
    assert call_signature(a, normalize_strings=True) == call_signature(c, normalize_strings=True)


def test_cycles_of_period_two_to_four(make_loops: MakeLoops) -> None:
    loops = make_loops(LoopRules(max_repeats=None, cycle_repeats=3))
    a, b, c = call("search", q=1), call("open", url="u"), call("summarize")
    assert verdicts(loops, [a, b, a, b, a, b]) == ["ok"] * 5 + ["loop/cycle"]
    loops = make_loops(LoopRules(max_repeats=None, cycle_repeats=2))
    ctx = Context(run="r-three")
    a, b, c = call("a", ctx), call("b", ctx), call("c", ctx)
    assert verdicts(loops, [a, b, c, a, b, c]) == ["ok"] * 5 + ["loop/cycle"]


def test_progress_is_not_a_cycle(make_loops: MakeLoops) -> None:
    loops = make_loops(LoopRules(max_repeats=None, cycle_repeats=3))
    pages = [call("read", page=i) for i in range(12)]
    assert set(verdicts(loops, pages)) == {"ok"}
    same = [call("poll")] * 8  # repeats are max_repeats' business, not a "cycle"
    assert set(verdicts(loops, same)) == {"ok"}


def test_repeated_identical_errors_block_the_tool(make_loops: MakeLoops) -> None:
    loops = make_loops(LoopRules(max_same_errors=3, error_verdict="ask"))
    fetch = call("fetch", url="https://api.example/x")
    for seconds in (30, 31, 29):  # numbers in the message do not make errors different
        assert loops.check(fetch) == ()
        loops.record_error(fetch, TimeoutError(f"timed out after {seconds} s token=sk-live-abc"))
    (hit,) = loops.check(call("fetch", url="https://api.example/other"))
    assert hit.verdict is Verdict.ASK and hit.rule == "loop/errors"
    assert "failed 3 times" in hit.message and "TimeoutError" in hit.message
    assert "sk-live" not in hit.message
    assert loops.check(call("search")) == ()


def test_different_errors_do_not_add_up() -> None:
    assert error_signature("t", ValueError("bad 1")) == error_signature("t", ValueError("BAD   22"))
    assert error_signature("t", ValueError("bad")) != error_signature("t", KeyError("bad"))
    assert error_signature("t", "x") != error_signature("u", "x")


def test_history_is_shared_across_store_handles(tmp_path: Path) -> None:
    """Two Loops on two stores of the same database stand in for two processes serving one run."""
    url = f"sqlite:///{tmp_path}/shared.db"
    with open_store(url) as one, open_store(url) as two:
        first, second = Loops(one, LoopRules(max_repeats=2)), Loops(two, LoopRules(max_repeats=2))
        assert first.check(call("search", q="x")) == ()
        assert second.check(call("search", q="x")) == ()
        assert first.check(call("search", q="x"))[0].rule == "loop/repeat"
        first.record_error(call("pay"), "declined")
        second.record_error(call("pay"), "declined")
        assert [h.rule for h in second.check(call("pay"))] == []
        first.record_error(call("pay"), "declined")
        assert [h.rule for h in second.check(call("pay"))] == ["loop/errors"]


def test_calls_without_a_run_are_not_tracked(make_loops: MakeLoops) -> None:
    loops = make_loops(LoopRules(max_repeats=1))
    assert set(verdicts(loops, [call("x", Context())] * 3)) == {"ok"}


def test_engine_step_and_skipping_blocked_calls(tmp_path: Path) -> None:
    policy = "rules:\n  - rule: no-rm\n    tools: [rm]\n    verdict: block\n"
    engine = Engine(text=policy)
    loops = Loops(None, LoopRules(max_repeats=2))
    engine.add_step(loops, stage="guards", name="loops")
    rm = call("rm", path="/")
    for _ in range(4):
        assert engine.check(rm).rules == ("no-rm",)  # blocked before: never counted as a repeat
    ls = call("ls")
    assert [engine.check(ls).verdict for _ in range(3)] == [Verdict.ALLOW, Verdict.ALLOW, Verdict.BLOCK]


def test_memory_backend_forgets_the_oldest_runs() -> None:
    loops = Loops(None, LoopRules(max_repeats=1), memory_runs=2)
    for run in ("r1", "r2", "r3"):
        loops.check(call("x", Context(run=run)))
    assert loops.check(call("x", Context(run="r1"))) == ()  # r1 was evicted
    assert loops.check(call("x", Context(run="r3")))[0].rule == "loop/repeat"


def test_invalid_rules() -> None:
    with pytest.raises(ConfigurationError):
        LoopRules(max_repeats=0)
    with pytest.raises(ConfigurationError):
        LoopRules(cycle_periods=(1, 2))

"""Parsers and data tables that the shell analysis loads the first time some command needs them are
start-up, not the action's analysis: they run off the deadline's clock, so the first command of a
process that needs them gets the same verdict as every later one."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

import railguard as rg
from railguard.detect import _budget
from railguard.detect.shell import _catalogue, _host_effects, _rules_db, _rules_http_apis

if TYPE_CHECKING:
    from conftest import FakeClock  # the `fake_clock` fixture

# {} takes a different value in each check: an analysis seen before is answered from its cache
SQL_COMMAND = 'sqlite3 app.db "DELETE FROM audit_{}"'
VENDOR_COMMAND = "gh release delete v1.{}.0 --yes"
HOST_COMMAND = "usermod -aG sudo intern{}"
HTTP_COMMAND = "curl -X DELETE https://api.example.com/v1/databases/db{}"


def _slow(fake_clock: FakeClock, load: Callable[..., Any]) -> Callable[..., Any]:
    def slow_load(*args: Any) -> Any:
        fake_clock.spend_cpu(400)  # far past the 50 ms deadline, as importing sqlglot is here
        return load(*args)

    return slow_load


@pytest.mark.parametrize(
    ("loader", "cached", "command"),
    [
        ("_import_sql", "_load_sql", SQL_COMMAND),
        ("_read_catalogue", "catalogue", VENDOR_COMMAND),
        ("read_effect_table", "_table", HOST_COMMAND),
        ("_read_table", "table", HTTP_COMMAND),
    ],
)
def test_a_lazy_load_inside_the_analysis_does_not_count_against_the_deadline(
    monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock, loader: str, cached: str, command: str
) -> None:
    module = {
        "_import_sql": _rules_db,
        "_read_catalogue": _catalogue,
        "read_effect_table": _host_effects,
        "_read_table": _rules_http_apis,
    }[loader]
    engine = rg.Engine(packs=["default"], clock=fake_clock.clock())
    later = engine.check(
        "Bash", {"command": command.format(1)}
    )  # loaded at real speed: the verdict to expect
    assert later.error is None and later.verdict is not rg.Verdict.ALLOW

    getattr(module, cached).cache_clear()
    monkeypatch.setattr(module, loader, _slow(fake_clock, getattr(module, loader)))
    try:
        first = engine.check("Bash", {"command": command.format(2)})
    finally:
        getattr(module, cached).cache_clear()  # the next user loads the real thing again
    assert first.error is None, first.reason
    assert (first.verdict, first.rules) == (later.verdict, later.rules)


def test_a_spinning_analysis_is_still_cut_off_after_an_excluded_load(fake_clock: FakeClock) -> None:
    excluded: list[str] = []

    def exclude(work: Callable[[], object]) -> None:
        excluded.append("paused")
        work()

    def stop(where: str) -> None:
        raise TimeoutError(where)

    with _budget.bounded(stop, exclude):
        assert _budget.off_the_clock(lambda: 7) == 7
        with pytest.raises(TimeoutError):
            _budget.checkpoint("after the load")
    assert excluded == ["paused"]


def test_off_the_clock_without_a_deadline_just_runs() -> None:
    assert _budget.off_the_clock(lambda: "loaded") == "loaded"

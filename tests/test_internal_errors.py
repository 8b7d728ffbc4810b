"""The internal-error helper: counted, logged once per kind (rate limited), redacted, re-raised
under tests only when it is a bug."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from railguard import _internal


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    now = [1000.0]
    monkeypatch.setattr(_internal, "clock", lambda: now[0])
    monkeypatch.delenv("RAILGUARD_RAISE_INTERNAL_ERRORS", raising=False)
    _internal.reset_internal_errors()
    yield now
    _internal.reset_internal_errors()


def _fail(kind: str, message: str = "boom", **kw: bool) -> None:
    try:
        raise RuntimeError(message)
    except RuntimeError as err:
        _internal.internal_error(kind, err, **kw)


def test_logs_first_then_rate_limits_with_a_count(
    fresh: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="railguard")
    for _ in range(5):
        _fail("store.write", expected=True)
    assert _internal.internal_error_counts() == {"store.write": 5}
    assert len(caplog.records) == 1
    fresh[0] += _internal.RELOG_AFTER_S + 1
    _fail("store.write", expected=True)
    assert len(caplog.records) == 2
    assert "4 more since the last report" in caplog.records[1].getMessage()
    assert caplog.records[1].levelno == logging.WARNING


def test_kinds_are_logged_separately(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="railguard")
    _fail("a", expected=True)
    _fail("b")
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.ERROR]


def test_secrets_in_messages_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="railguard")
    key = "AKIA" + "QX4ZK2J7RW5YV3TB"
    _fail("store.write", f"insert failed for value {key}", expected=True)
    text = caplog.text
    assert key not in text
    assert "insert failed" in text


def test_bugs_reraise_under_tests_but_expected_failures_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAILGUARD_RAISE_INTERNAL_ERRORS", "1")
    with pytest.raises(RuntimeError):
        _fail("engine.sink")
    _fail("tracing.export", expected=True)  # a collector that is down is not a bug
    assert _internal.internal_error_counts() == {"engine.sink": 1, "tracing.export": 1}

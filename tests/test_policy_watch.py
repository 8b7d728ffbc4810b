"""Hot reload cannot miss an edit: edits made at the worst moments (right after the load read the
file, during a reload) are injected deterministically through a hook on the policy loader."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import railguard as rg
from railguard import engine as engine_module
from railguard._policy_watch import PolicyWatcher
from railguard.engine import Engine

HOUR = 3600.0  # the watcher thread never polls on its own during a test; the test calls poll()


def _write(path: Path, verdict: str) -> None:
    path.write_text(f"name: live\nrules:\n  - {{rule: r, tools: [t], verdict: {verdict}}}\n")


@pytest.fixture
def after_next_read(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], None]], None]:
    """Run an edit right after the engine's loader has read the policy files (once)."""
    real = engine_module.load_policy

    def arm(edit: Callable[[], None]) -> None:
        pending = [edit]

        def load_then_edit(*args: Any, **kwargs: Any) -> Any:
            compiled = real(*args, **kwargs)
            if pending:
                pending.pop()()
            return compiled

        monkeypatch.setattr(engine_module, "load_policy", load_then_edit)

    return arm


@pytest.fixture
def policy(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "p.yaml"
    _write(path, "ask")
    yield path


def _watcher(engine: Engine) -> PolicyWatcher:
    watcher = engine._watcher
    assert isinstance(watcher, PolicyWatcher)
    return watcher


def test_an_edit_between_the_load_and_the_watcher_start_is_applied(
    policy: Path, after_next_read: Callable[[Callable[[], None]], None]
) -> None:
    after_next_read(lambda: _write(policy, "block"))
    engine = Engine.load(policy, watch=True)
    try:
        # The load compiled "ask"; the edit landed before any watcher thread looked at the file.
        assert engine.check("t", {}).verdict is rg.Verdict.BLOCK
        assert engine.stats.reloads == 1
        assert _watcher(engine).poll() is False  # and it is not reloaded again for nothing
    finally:
        engine.close()


def test_an_edit_during_a_reload_is_seen_by_the_next_poll(
    policy: Path, after_next_read: Callable[[Callable[[], None]], None]
) -> None:
    engine = Engine(policy)
    engine.watch(interval=HOUR)
    try:
        _write(policy, "block")
        after_next_read(lambda: _write(policy, "ask"))  # lands after the reload read "block"
        assert _watcher(engine).poll() is True
        assert engine.check("t", {}).verdict is rg.Verdict.BLOCK
        assert _watcher(engine).poll() is True
        assert engine.check("t", {}).verdict is rg.Verdict.ASK
        assert _watcher(engine).poll() is False
    finally:
        engine.close()


def test_a_broken_edit_is_logged_and_the_last_good_policy_kept(
    policy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="railguard")
    engine = Engine(policy)
    engine.watch(interval=HOUR)
    try:
        policy.write_text("rules:\n  - {rule: r, verdict: blok}\n")
        assert _watcher(engine).poll() is True
        assert engine.check("t", {}).verdict is rg.Verdict.ASK
        assert "policy.reload" in caplog.text and "blok" in caplog.text
        _write(policy, "block")
        assert _watcher(engine).poll() is True
        assert engine.check("t", {}).verdict is rg.Verdict.BLOCK
    finally:
        engine.close()


def test_a_file_a_reload_starts_including_is_watched(tmp_path: Path, policy: Path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text("rules:\n  - {rule: x, tools: [u], verdict: block}\n")
    engine = Engine(policy)
    engine.watch(interval=HOUR)
    try:
        policy.write_text(policy.read_text() + "include: [extra.yaml]\n")
        assert _watcher(engine).poll() is True
        assert engine.check("u", {}).verdict is rg.Verdict.BLOCK
        _watcher(engine).poll()  # at most one more reload to stamp the newly included file
        extra.write_text("rules:\n  - {rule: x, tools: [u], verdict: ask}\n")
        assert _watcher(engine).poll() is True
        assert engine.check("u", {}).verdict is rg.Verdict.ASK
    finally:
        engine.close()


def test_watching_a_policy_without_files_does_nothing() -> None:
    engine = Engine(packs=["default"])
    engine.watch(interval=HOUR)
    try:
        assert _watcher(engine).poll() is False
        assert engine.stats.reloads == 0
    finally:
        engine.close()

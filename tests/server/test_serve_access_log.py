"""`railguard serve` logs no line per request unless asked to (`--access-log`): at the default log
level its output holds the start-up lines, not every call an agent makes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
from api_helpers import await_ready, serve_process


def _serve_and_call(db: Path, *flags: str) -> str:
    """Start `railguard serve` with `flags`, make a few requests, stop it; its whole output."""
    process, url = serve_process(f"sqlite:///{db}", *flags, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        await_ready(process, url)
        for _ in range(3):
            assert httpx.get(f"{url}/v1/runs", timeout=10).status_code == 401
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    return out


def test_the_access_log_is_off_unless_asked_for(tmp_path: Path) -> None:
    quiet = _serve_and_call(tmp_path / "a.db")
    assert "serving on" in quiet and "Application startup complete" in quiet  # info level: still logging
    assert "GET /v1/runs" not in quiet and "/readyz" not in quiet
    logged = _serve_and_call(tmp_path / "b.db", "--access-log")
    assert logged.count('"GET /v1/runs HTTP/1.1" 401') == 3

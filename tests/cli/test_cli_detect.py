"""`railguard redact` and `railguard scan` in process, and once through the real console entry."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import rg, rg_process

KEY = "AKIAZ3MHK2LQ7NPXV4TD"
TOKEN = "ghp_R8xk2LmQ9vT3nW7yZ1aB5cD0eF4gH6iJ8kLm"


def test_redact_text_in_text_out() -> None:
    text = f"mail ana@acme.example\nkey {KEY}\n"
    result = rg_process("redact", stdin=text)
    assert result.returncode == 0
    assert result.stdout == "mail [redacted:email]\nkey [redacted:aws_access_key]\n"


def test_redact_json_reports_positions_in_the_input() -> None:
    text = f"key {KEY} and {TOKEN}"
    payload = json.loads(rg("redact", "--json", stdin=text).stdout)
    assert KEY not in payload["text"] and TOKEN not in payload["text"]
    spans = [(f["kind"], text[f["start"] : f["end"]]) for f in payload["findings"]]
    assert spans == [("aws_access_key", KEY), ("github_token", TOKEN)]


def test_redact_only_some_kinds(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text(f"ana@acme.example {KEY}")
    result = rg("redact", "--input", str(source), "--kinds", "secrets")
    assert result.stdout == "ana@acme.example [redacted:aws_access_key]"
    assert rg("redact", "--kinds", "nonsense", stdin="x").returncode == 2


def test_scan_reports_locations_never_values(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "settings.py").write_text(f'DEBUG = True\nAWS_KEY = "{KEY}"\n')
    (tmp_path / "app" / "clean.py").write_text("print('hello')\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text(f"token = {TOKEN}\n")  # VCS internals are skipped
    (tmp_path / "blob.bin").write_bytes(b"\0\0" + KEY.encode())
    result = rg("scan", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.strip() == f"{tmp_path / 'app' / 'settings.py'}:2:12: aws_access_key"
    assert KEY not in result.stdout + result.stderr
    records = [json.loads(x) for x in rg("scan", str(tmp_path), "--json").stdout.splitlines()]
    assert records == [
        {"path": str(tmp_path / "app" / "settings.py"), "line": 2, "column": 12, "kind": "aws_access_key"}
    ]


def test_scan_clean_tree_exits_0_and_missing_path_exits_2(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("x = 1\n")
    assert rg("scan", str(tmp_path)).returncode == 0
    assert rg("scan", str(tmp_path / "missing")).returncode == 2

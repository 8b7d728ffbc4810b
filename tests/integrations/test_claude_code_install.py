"""`railguard install claude-code`: merge, idempotence, backup, refusal of invalid JSON, and the
installed command really working (and failing closed) when run the way Claude Code runs it."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from railguard.cli import app
from railguard.integrations._claude_code_install import CLIENT_MARKER
from railguard.integrations._hook_client import RUNTIME_DIR_ENV

from .hook_daemons import daemons_stopped_after, wait_for

POLICY = Path(__file__).parent / "fixtures" / "claude_code_policy.yaml"
EXISTING: dict[str, Any] = {
    "model": "opus",
    "permissions": {"allow": ["Bash(npm test)"]},
    "hooks": {
        "PreToolUse": [{"matcher": "Write", "hooks": [{"type": "command", "command": "prettier --check"}]}],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
    },
}


@pytest.fixture(autouse=True)
def hook_runtime(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The installed hook's daemons live in this test's own folder and are stopped after it."""
    with daemons_stopped_after(short_tmp / "run") as folder:
        monkeypatch.setenv(RUNTIME_DIR_ENV, str(folder))
        yield folder


def install(*options: str) -> Any:
    return CliRunner().invoke(app, ["install", "claude-code", *options])


def railguard_hooks(settings: dict[str, Any], event: str) -> list[str]:
    return [
        h["command"]
        for group in settings["hooks"].get(event, [])
        for h in group["hooks"]
        if CLIENT_MARKER in h["command"]
    ]


def test_merges_into_existing_settings_and_keeps_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    original = json.dumps(EXISTING, indent=4)
    path.write_text(original)
    result = install("--settings", str(path), "--policy", str(POLICY))
    assert result.exit_code == 0, result.output
    merged = json.loads(path.read_text())
    assert merged["model"] == "opus" and merged["permissions"] == EXISTING["permissions"]
    assert merged["hooks"]["Stop"] == EXISTING["hooks"]["Stop"]
    assert merged["hooks"]["PreToolUse"][0] == EXISTING["hooks"]["PreToolUse"][0]
    [pre] = railguard_hooks(merged, "PreToolUse")
    [post] = railguard_hooks(merged, "PostToolUse")
    assert "--event pre" in pre and pre.endswith(" || exit 2") and str(POLICY.resolve()) in pre
    assert "--event post" in post and "exit 2" not in post
    [backup] = tmp_path.glob("settings.json.bak.*")
    assert backup.read_text() == original


def test_second_install_changes_nothing_and_a_new_policy_replaces_the_old_entry(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(EXISTING))
    assert install("--settings", str(path)).exit_code == 0
    first = path.read_text()
    again = install("--settings", str(path))
    assert again.exit_code == 0 and "already installed" in again.output
    assert path.read_text() == first
    assert install("--settings", str(path), "--policy", str(POLICY)).exit_code == 0
    merged = json.loads(path.read_text())
    assert len(railguard_hooks(merged, "PreToolUse")) == 1
    assert len(merged["hooks"]["PreToolUse"]) == 2  # the user's Write hook and ours


def test_invalid_json_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{\n  "model": "opus",\n  "hooks": {,\n}\n')
    before = path.read_text()
    result = install("--settings", str(path))
    assert result.exit_code == 1
    assert "not valid JSON" in result.output and "settings.json:3" in result.output.replace("\n", "")
    assert path.read_text() == before
    assert not list(tmp_path.glob("settings.json.bak*"))


def test_user_scope_follows_home_and_dry_run_writes_nothing(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    dry = install("--user", "--dry-run")
    assert dry.exit_code == 0
    assert railguard_hooks(json.loads(dry.output), "PreToolUse")
    assert not (tmp_path / ".claude").exists()
    assert install("--user").exit_code == 0
    assert railguard_hooks(json.loads((tmp_path / ".claude" / "settings.json").read_text()), "PostToolUse")


def test_broken_policy_is_not_installed(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [oops\n")
    result = install("--settings", str(tmp_path / "settings.json"), "--policy", str(broken))
    assert result.exit_code == 2
    assert not (tmp_path / "settings.json").exists()


def run_like_claude_code(command: str, payload: dict[str, Any]) -> subprocess.CompletedProcess[bytes]:
    """Claude Code runs a command hook through the shell with the event on stdin."""
    return subprocess.run(
        ["/bin/sh", "-c", command],
        input=json.dumps(payload).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_installed_command_denies_and_fails_closed_when_the_interpreter_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    assert install("--settings", str(path), "--policy", str(POLICY)).exit_code == 0
    [pre] = railguard_hooks(json.loads(path.read_text()), "PreToolUse")
    payload = {
        "session_id": "s",
        "cwd": str(tmp_path),
        "hook_event_name": "PreToolUse",
        "tool_name": "Write",
        "tool_input": {"file_path": "/etc/hosts", "content": "x"},
        "tool_use_id": "toolu_1",
    }
    done = run_like_claude_code(pre, payload)
    assert done.returncode == 0
    assert json.loads(done.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    missing = str(tmp_path / "deleted-venv" / "bin" / "python")
    assert not os.path.exists(missing)
    gone = run_like_claude_code(pre.replace(pre.split(" ")[0], missing, 1), payload)
    assert gone.returncode == 2


def test_replaces_entries_written_with_the_older_command(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    old = {"hooks": {"PreToolUse": [{"matcher": "", "hooks": [
        {"type": "command", "command": "/usr/bin/python3 -m railguard.cli hook claude-code --event pre || exit 2"}
    ]}]}}  # fmt: skip
    path.write_text(json.dumps(old))
    assert install("--settings", str(path)).exit_code == 0
    commands = [h["command"] for g in json.loads(path.read_text())["hooks"]["PreToolUse"] for h in g["hooks"]]
    assert len(commands) == 1 and CLIENT_MARKER in commands[0]


def test_the_file_keeps_its_mode_and_every_install_keeps_its_own_backup(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(EXISTING))
    path.chmod(0o644)
    versions = [path.read_text()]
    for options in ([], ["--policy", str(POLICY)], ["--pack", "coding-agent"]):
        assert install("--settings", str(path), *options).exit_code == 0
        assert path.stat().st_mode & 0o777 == 0o644
        versions.append(path.read_text())
    backups = sorted(tmp_path.glob("settings.json.bak.*"), key=lambda p: p.stat().st_mtime_ns)
    assert [b.read_text() for b in backups] == versions[:-1]  # none overwritten
    assert all(b.stat().st_mode & 0o777 == 0o644 for b in backups)


def test_db_passthrough_traces_decisions_with_the_agent_and_session(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    relative_db = "sqlite:///" + os.path.relpath(tmp_path / "hook.db")
    result = install("--settings", str(path), "--policy", str(POLICY), "--db", relative_db)
    assert result.exit_code == 0, result.output
    [pre] = railguard_hooks(json.loads(path.read_text()), "PreToolUse")
    assert f"--db sqlite:///{tmp_path / 'hook.db'}" in pre  # absolute: the hook runs in any folder
    payload = {
        "session_id": "sess-42",
        "cwd": str(tmp_path),
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": "ls"},
        "tool_use_id": "toolu_1",
    }
    assert run_like_claude_code(pre, payload).returncode == 0
    from railguard.store import open_store

    def recorded() -> bool:  # the daemon records after answering
        with open_store(f"sqlite:///{tmp_path / 'hook.db'}") as store:
            return len(store.list_runs(tenant=None)) == 1

    assert wait_for(recorded)
    with open_store(f"sqlite:///{tmp_path / 'hook.db'}") as store:
        (run,) = store.list_runs(tenant=None)
        assert (run.agent, run.session) == ("claude-code", "sess-42")
        (span,) = store.get_trace(run.trace_id, tenant=None)
        assert (span.agent, span.session, span.tool_name) == ("claude-code", "sess-42", "Bash")

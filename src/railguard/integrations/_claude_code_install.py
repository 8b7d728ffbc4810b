"""`railguard install claude-code`: merge Railguard's PreToolUse/PostToolUse hooks into a Claude Code
settings.json without touching anything else in it. Running it again replaces Railguard's own
entries instead of adding more; every previous version is kept (`settings.json.bak.<time>`), and the
file keeps its permissions."""

from __future__ import annotations

import json
import os
import shlex
import stat
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from railguard.errors import ConfigurationError

# Every command we install contains one of these; it is how a later run finds (and replaces) our
# entries, including those written by earlier versions.
HOOK_MARKER = "railguard.integrations.claude_code"
CLIENT_MARKER = "railguard/integrations/_hook_client.py"
HOOK_MARKERS = (HOOK_MARKER, CLIENT_MARKER, "railguard.cli hook claude-code")
HOOK_TIMEOUT_S = 30


@dataclass(frozen=True, slots=True)
class InstallResult:
    path: Path
    settings: dict[str, Any]
    changed: bool
    backup: Path | None
    written: bool


def settings_path(
    *, user: bool = False, project_dir: Path | None = None, override: Path | None = None
) -> Path:
    """`--settings PATH`, else `~/.claude/settings.json` ($HOME) for `--user`, else the project's
    `.claude/settings.json`."""
    if override is not None:
        return override
    if user:
        return Path(os.environ.get("HOME") or Path.home()) / ".claude" / "settings.json"
    return (project_dir or Path.cwd()) / ".claude" / "settings.json"


def hook_commands(
    policies: Sequence[Path] = (), packs: Sequence[str] = (), extra: Sequence[str] = ()
) -> dict[str, str]:
    """The command line per event: the thin client (`_hook_client`, run by path with `python -S`,
    so it starts in milliseconds and hands the call to the warm daemon). PreToolUse ends in
    `|| exit 2`: if the interpreter itself cannot start (a deleted virtualenv exits 1 or 127, which
    Claude Code treats as non-blocking), the shell turns that into the blocking exit code, so a
    broken install fails closed."""
    from railguard.integrations import _hook_client

    base = [sys.executable, "-S", str(Path(_hook_client.__file__).resolve())]
    options: list[str] = []
    for policy in policies:
        options += ["--policy", str(Path(policy).resolve())]
    for pack in packs:
        options += ["--pack", pack]
    options += list(extra)
    pre = shlex.join([*base, "--event", "pre", *options]) + " || exit 2"
    post = shlex.join([*base, "--event", "post", *options])
    commands = {"PreToolUse": pre, "PostToolUse": post}
    if "--provenance" in options:  # the user's prompts are the user's words (never blocked: no `|| exit 2`)
        commands["UserPromptSubmit"] = shlex.join([*base, "--event", "prompt", *options])
    return commands


def merge_hooks(settings: dict[str, Any], commands: dict[str, str]) -> dict[str, Any]:
    """`settings` with Railguard's hook for each event (replacing an older Railguard entry, keeping
    every other hook and key as it was)."""
    merged = dict(settings)
    hooks = merged.get("hooks", {})
    if not isinstance(hooks, dict):
        raise ConfigurationError("'hooks' in the settings file is not a JSON object; fix it by hand first")
    hooks = dict(hooks)
    for event in (*commands, *(e for e in _OUR_EVENTS if e not in commands and e in hooks)):
        groups = hooks.get(event, [])
        if not isinstance(groups, list):
            raise ConfigurationError(
                f"'hooks.{event}' in the settings file is not a list; fix it by hand first"
            )
        kept = [_without_ours(g) for g in groups]
        kept = [g for g in kept if g is not None]
        if event in commands:
            ours = {"type": "command", "command": commands[event], "timeout": HOOK_TIMEOUT_S}
            # a prompt has no tool to match: Claude Code takes UserPromptSubmit groups without a matcher
            kept.append(
                {"hooks": [ours]} if event == "UserPromptSubmit" else {"matcher": "*", "hooks": [ours]}
            )
        if kept:
            hooks[event] = kept
        else:
            hooks.pop(event, None)  # an install without --provenance takes our prompt hook away again
    merged["hooks"] = hooks
    return merged


_OUR_EVENTS = ("PreToolUse", "PostToolUse", "UserPromptSubmit")


def _without_ours(group: Any) -> Any:
    """A matcher group minus Railguard's hooks (None when nothing else was in it)."""
    if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
        return group
    others = [
        h
        for h in group["hooks"]
        if not (isinstance(h, dict) and any(m in str(h.get("command")) for m in HOOK_MARKERS))
    ]
    if not others:
        return None
    return {**group, "hooks": others}


def install(path: Path, commands: dict[str, str], *, dry_run: bool = False) -> InstallResult:
    """Merge the hooks into the settings file at `path` (created if missing). Refuses a file that is
    not valid JSON, naming the line and column."""
    current: dict[str, Any] = {}
    original: str | None = None
    if path.exists():
        original = path.read_text(encoding="utf-8")
        if original.strip():
            try:
                loaded = json.loads(original)
            except json.JSONDecodeError as err:
                raise ConfigurationError(
                    f"{path}:{err.lineno}:{err.colno}: not valid JSON ({err.msg}); "
                    "fix or remove the file, then run the install again (nothing was changed)"
                ) from None
            if not isinstance(loaded, dict):
                raise ConfigurationError(f"{path}: the settings file must hold a JSON object")
            current = loaded
    merged = merge_hooks(current, commands)
    changed = merged != current or original is None
    if dry_run or not changed:
        return InstallResult(path, merged, changed, None, False)
    backup = None
    mode = _DEFAULT_MODE & ~_umask()
    if original is not None:
        mode = stat.S_IMODE(path.stat().st_mode)
        backup = _backup_path(path, time.time())
        with open(backup, "x", encoding="utf-8") as handle:  # "x": never overwrite an older backup
            handle.write(original)
        os.chmod(backup, mode)
    _write_atomically(path, json.dumps(merged, indent=2) + "\n", mode)
    return InstallResult(path, merged, changed, backup, True)


_DEFAULT_MODE = 0o666  # what open() would create, before the umask


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _backup_path(path: Path, now: float) -> Path:
    """`settings.json.bak.20250131T120000`, numbered when several installs run within one second."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now))
    candidate = path.with_name(f"{path.name}.bak.{stamp}")
    number = 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}.bak.{stamp}.{number}")
    return candidate


def _write_atomically(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)  # mkstemp creates 0600: keep the mode the file had (or a new file's)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

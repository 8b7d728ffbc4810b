"""Host takeover rules: persistence (autostart locations, service enabling, login agents), crypto-miners,
kernel modules, covering tracks (history and journal wiping), immutable-bit games (`chattr`).

Write targets are judged by where they land, whatever the command (`cp`, `mv`, `ln`, `tee`, `>`), so a new
way to put a file into `~/.config/autostart` is caught by the destination, not by the tool.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._syntax import Word
from railguard.detect.shell._view import CommandView, Ctx, classify_target, finding

# Files and directories whose content runs later without anyone typing a command.
_AUTOSTART_DIRS = (
    "~/.config/autostart", "~/Library/LaunchAgents", "/Library/LaunchAgents", "/Library/LaunchDaemons",
    "/etc/systemd/system", "~/.config/systemd/user", "/usr/lib/systemd/system", "/lib/systemd/system",
    "/etc/cron.d", "/etc/cron.daily", "/etc/cron.hourly", "/etc/cron.weekly", "/etc/cron.monthly",
    "/var/spool/cron", "/etc/init.d", "/etc/profile.d", "/etc/update-motd.d", "/etc/xdg/autostart",
    "/etc/udev/rules.d", "/etc/NetworkManager/dispatcher.d", "~/.ssh/rc", "/etc/rc.local", "/etc/crontab",
    "/etc/ld.so.preload", "/etc/environment", "/etc/pam.d", "~/.forward", "/etc/aliases",
)  # fmt: skip
# Files an interpreter or editor runs by itself at start: every later Python process imports these, an
# editor runs a folder's tasks when it opens it.
_PYTHON_STARTUP = frozenset({"sitecustomize.py", "usercustomize.py"})
_HISTORY_FILES = frozenset({".bash_history", ".zsh_history", ".history", ".sh_history", ".python_history",
                            ".mysql_history", ".psql_history", ".lesshst", ".node_repl_history"})  # fmt: skip
_LOG_DIRS = ("/var/log",)
_MINERS = frozenset({"xmrig", "xmr-stak", "minerd", "cpuminer", "cpuminer-multi", "ethminer", "t-rex", "nbminer",
                     "lolminer", "cgminer", "bfgminer", "nanominer", "phoenixminer", "gminer", "teamredminer",
                     "srbminer", "srbminer-multi", "xmrig-notls", "ccminer", "nheqminer", "kawpowminer"})  # fmt: skip
_WRITERS_LAST_OPERAND = frozenset({"cp", "mv", "install", "ln", "rsync", "scp", "dd"})
_PERSISTENCE_TOOLS = {
    ("launchctl", "load"), ("launchctl", "bootstrap"), ("launchctl", "submit"), ("launchctl", "enable"),
    ("systemctl", "enable"), ("systemctl", "link"), ("systemctl", "preset"), ("update-rc.d", "defaults"),
    ("update-rc.d", "enable"), ("chkconfig", "on"), ("rc-update", "add"), ("schtasks", "/create"),
}  # fmt: skip
HOST_RULE_NAMES = (
    "launchctl", "systemctl", "update-rc.d", "chkconfig", "rc-update", "insmod", "modprobe", "rmmod",
    "kmod", "journalctl", "chattr", "history", "pkill", "killall", "auditctl", "schtasks",
)  # fmt: skip


def _under(path: str, root: str, ctx: Ctx) -> bool:
    anchor = classify_target(Word(root), ctx).path
    return path == anchor or path.startswith(anchor.rstrip("/") + "/")


def _write_targets(view: CommandView) -> list[Word]:
    targets = [r.target for r in view.exec.redirects if r.op in (">", ">>", ">|", "&>", "&>>") and r.target]
    operands = view.operands
    if view.name in _WRITERS_LAST_OPERAND and len(operands) >= 2:
        targets.append(operands[-1])
    elif view.name == "tee":
        targets.extend(operands)
    elif view.name == "dd":
        targets.extend(Word(w.text[3:], w.dynamic) for w in view.args if w.text.startswith("of="))
    return targets


def check_write_targets(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """Every command: files written into autostart locations, history files, or the system logs."""
    for word in _write_targets(view):
        target = classify_target(word, ctx)
        if target.zone == "dynamic":
            continue
        name = posixpath.basename(target.path.rstrip("/"))
        if target.zone not in ("workspace", "workspace_root") and _runs_at_start(target.path, name):
            yield finding("system", "write-autostart", "block", "high",
                          f"{view.name or 'redirect'} writes {target.path}, which every later interpreter or "
                          "editor session runs")  # fmt: skip
        elif any(_under(target.path, root, ctx) for root in _AUTOSTART_DIRS):
            severe = target.path.endswith("ld.so.preload")
            yield finding("system", "write-autostart", "block" if severe else "ask", "high",
                          f"{view.name or 'redirect'} writes {target.path}, which runs automatically")  # fmt: skip
        elif name in _HISTORY_FILES or any(_under(target.path, root, ctx) for root in _LOG_DIRS):
            yield finding("system", "tamper-history-or-logs", "ask", "high",
                          f"{view.name or 'redirect'} overwrites {target.path} (covering tracks)")  # fmt: skip


def _runs_at_start(path: str, name: str) -> bool:
    packages = "/site-packages/" in path or "/dist-packages/" in path
    return (
        name in _PYTHON_STARTUP
        or (packages and name.endswith(".pth"))
        or path.endswith(("/.vscode/tasks.json", "/.idea/workspace.xml"))
    )


def check_miner(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """Every command: known miner binaries and stratum pool URLs."""
    stratum = any("stratum+" in w.text or "stratum2+" in w.text for w in view.args)
    if view.name.lower() in _MINERS or stratum:
        yield finding("system", "crypto-miner", "block", "critical",
                      f"{view.name} looks like a cryptocurrency miner")  # fmt: skip


def check_host(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    name = view.name
    operands = [w.text for w in view.operands]
    first = operands[0] if operands else ""
    if (name, first) in _PERSISTENCE_TOOLS or (
        name == "systemctl" and view.has("--now") and first == "enable"
    ):
        yield finding("system", "enable-autostart", "ask", "medium",
                      f"{name} {first} makes something start automatically")  # fmt: skip
    elif name in ("insmod", "rmmod") or (name in ("modprobe", "kmod") and operands):
        yield finding("system", "kernel-module", "ask", "high", f"{name} changes the running kernel")
    elif name == "journalctl" and any(
        w.text.startswith(("--vacuum", "--rotate", "--flush")) for w in view.args
    ):
        yield finding("system", "tamper-history-or-logs", "ask", "high", "journalctl deletes system logs")
    elif (name == "history" and view.has("-c", "-w")) or (name == "auditctl" and view.has("-D", "-e")):
        yield finding("system", "tamper-history-or-logs", "ask", "medium", f"{name} clears an audit trail")
    elif name == "chattr":
        yield from _chattr(view, ctx)
    elif name in ("pkill", "killall") and _targets_root_user(view):
        yield finding("system", "kill-root-processes", "ask", "high", f"{name} signals every root process")


def _chattr(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    for word in view.operands:
        if word.text.startswith(("+", "=")):
            continue
        zone = classify_target(word, ctx).zone
        if zone not in ("workspace", "scratch"):
            yield finding("system", "chattr-outside-workspace", "ask", "high",
                          f"chattr changes attributes of {word.text} (immutable files block fixes and deletes)")  # fmt: skip
            return


def _targets_root_user(view: CommandView) -> bool:
    texts = [w.text for w in view.args]
    users = [texts[i + 1] for i, t in enumerate(texts[:-1]) if t in ("-u", "-U", "--euid", "--uid", "--user")]
    return any(u in ("root", "0") for u in users)

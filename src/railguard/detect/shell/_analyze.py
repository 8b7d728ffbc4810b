"""Orchestration: parse, walk, run the category rules, build the `ShellAnalysis`. Never raises."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from functools import lru_cache

from railguard._internal import internal_error
from railguard.detect.paths import resolve_path, secret_path_kind
from railguard.detect.shell import _rules_db, _rules_fs, _rules_host, _rules_net, _rules_ops, _rules_vcs
from railguard.detect.shell._model import ShellAnalysis, ShellFinding, SimpleCommand, strictest_verdict
from railguard.detect.shell._syntax import Exec
from railguard.detect.shell._view import CommandView, Ctx
from railguard.detect.shell._walk import Walker

MAX_COMMAND_CHARS = 100_000
Rule = Callable[[CommandView, Ctx], Iterable[ShellFinding]]

_BY_NAME: dict[str, tuple[Rule, ...]] = {}


def _register(rule: Rule, names: Iterable[str]) -> None:
    for name in names:
        _BY_NAME[name] = (*_BY_NAME.get(name, ()), rule)


_register(_rules_fs.check_rm, ["rm", "unlink"])
_register(_rules_fs.check_permissions, ["chmod", "chown", "chgrp", "setfacl"])
_register(
    _rules_fs.check_disk_tools,
    [
        "dd",
        "shred",
        "wipefs",
        "mkswap",
        "mke2fs",
        "blkdiscard",
        "fdisk",
        "sfdisk",
        "parted",
        "gdisk",
        "cfdisk",
        "sgdisk",
    ],
)
_register(_rules_fs.check_overwrite, ["truncate", "mv", "cp", "install", "ln", "rsync", "tee", "sed", "perl"])
_register(_rules_vcs.check_git, ["git"])
_register(
    _rules_ops.check_infra,
    [
        "terraform",
        "tofu",
        "terragrunt",
        "terramate",
        "pulumi",
        "kubectl",
        "oc",
        "helm",
        *_rules_ops.CLOUD_CLIS,
        "docker",
        "podman",
    ],
)
_register(
    _rules_ops.check_system,
    [
        "shutdown",
        "reboot",
        "halt",
        "poweroff",
        "kexec",
        "init",
        "telinit",
        "systemctl",
        "kill",
        "pkill",
        "killall",
        "killall5",
        "iptables",
        "ip6tables",
        "nft",
        "ufw",
        "userdel",
        "deluser",
        "groupdel",
        "delgroup",
        "passwd",
        "chpasswd",
        "usermod",
        "chage",
        "visudo",
        "useradd",
        "adduser",
        "crontab",
        "setenforce",
        "sysctl",
        "swapoff",
        "umount",
    ],
)
_register(
    _rules_ops.check_publish,
    [
        "npm",
        "pnpm",
        "yarn",
        "twine",
        "cargo",
        "gem",
        "poetry",
        "flit",
        "hatch",
        "uv",
        "mvn",
        "gradle",
        "vsce",
        "ovsx",
        "helm",
        "dotnet",
        "nuget",
        "pdm",
        "bun",
        "jsr",
        "deno",
        "lerna",
        "changeset",
        "gh",
    ],
)
_register(
    _rules_db.check_database,
    [*_rules_db._SQL_CLIENTS, "redis-cli", "mongo", "mongosh", "dropdb", "dropuser", "mysqladmin"],
)
_register(_rules_db.check_framework_database, _rules_db._FRAMEWORK_RUNNERS)
_register(_rules_host.check_host, _rules_host.HOST_RULE_NAMES)
_register(_rules_ops.check_teardown_verbs, _rules_ops.TEARDOWN_NAMES)
_EVERY_COMMAND: tuple[Rule, ...] = (
    _rules_host.check_write_targets,
    _rules_host.check_miner,
    _rules_net.check_credentials,
    _rules_net.check_exfiltration,
    _rules_net.check_remote_code,
)


def _rules_for(name: str) -> tuple[Rule, ...]:
    rules = _BY_NAME.get(name)
    if rules is None and name.startswith(("mkfs", "mkdosfs", "mkntfs")):
        rules = (_rules_fs.check_disk_tools,)
    return (*(rules or ()), *_EVERY_COMMAND)


def _command_findings(views: list[CommandView], ctx: Ctx) -> Iterator[ShellFinding]:
    for view in views:
        exec_ = view.exec
        exec_ctx = ctx if exec_.cwd is None else replace(ctx, cwd=exec_.cwd)
        yield from _rules_fs.check_redirects(exec_, exec_ctx)
        if not view.name:
            continue
        for rule in _rules_for(view.name):
            yield from rule(view, exec_ctx)
    yield from _rules_net.check_download_then_run(views)
    yield from _rules_net.check_socket_descriptors(views)


def _facts(execs: list[Exec], ctx: Ctx) -> tuple[tuple[str, ...], tuple[str, ...]]:
    paths: dict[str, None] = {}
    urls: dict[str, None] = {}
    for exec_ in execs:
        words = [*exec_.words[1:], *(r.target for r in exec_.redirects if r.target is not None)]
        for word in words:
            text = word.text
            if "://" in text:
                urls[text] = None
            elif (
                text
                and not text.startswith("-")
                and not text.isdigit()
                and ("/" in text or text.startswith((".", "~")) or secret_path_kind(text))
            ):
                paths[resolve_path(text, workspace=ctx.workspace, home=ctx.home)] = None
    return tuple(paths)[:256], tuple(urls)[:64]


def _simple(view: CommandView) -> SimpleCommand:
    return SimpleCommand(view.name, tuple(view.exec.argv), tuple(view.ordered_flags), view.exec.via)


def analyze_uncached(command: str, workspace: str | None, home: str | None) -> ShellAnalysis:
    """The analysis itself (benchmarks call this to measure cold runs)."""
    if not isinstance(command, str):
        return _failed("the command is not a string")
    if len(command) > MAX_COMMAND_CHARS:
        return _failed(f"the command is longer than {MAX_COMMAND_CHARS} characters")
    try:
        walker = Walker(workspace, home)
        walker.walk_script(command)
        ctx = Ctx(workspace, home)
        findings = list(walker.findings)
        views = [CommandView(e) for e in walker.execs]
        findings.extend(_command_findings(views, ctx))
        unique = tuple(dict.fromkeys(findings))
        paths, urls = _facts(walker.execs, ctx)
        return ShellAnalysis(
            commands=tuple(_simple(v) for v in views),
            findings=unique,
            unparsed=walker.unparsed,
            verdict=strictest_verdict(unique, walker.unparsed),
            paths=paths,
            urls=urls,
        )
    except Exception as exc:  # the guard must answer: anything unhandled is "not understood" -> ask
        internal_error("detect.shell", exc, expected=isinstance(exc, RecursionError))
        return _failed(f"analyzer could not handle the command ({type(exc).__name__})")


def _failed(detail: str) -> ShellAnalysis:
    finding = ShellFinding("unparsed", "analyzer-failure", "ask", "medium", detail)
    return ShellAnalysis(commands=(), findings=(finding,), unparsed=True, verdict="ask")


@lru_cache(maxsize=2048)
def analyze_cached(command: str, workspace: str | None, home: str | None) -> ShellAnalysis:
    return analyze_uncached(command, workspace, home)

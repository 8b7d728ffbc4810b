"""Orchestration: parse, walk, run the category rules, build the `ShellAnalysis`. Never raises."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import lru_cache

import re2

from railguard._internal import internal_error
from railguard.detect._budget import InputTooLarge, checkpoint, stopped_by_checker
from railguard.detect.paths import resolve_path, secret_path_kind
from railguard.detect.shell import (
    _effect_rules,
    _rules_data,
    _rules_db,
    _rules_fs,
    _rules_host,
    _rules_net,
    _rules_ops,
    _rules_vcs,
    _rules_writers,
)
from railguard.detect.shell._flow import seal
from railguard.detect.shell._limits import MAX_COMMAND_CHARS, MAX_DESTINATIONS, MAX_NESTING
from railguard.detect.shell._model import ShellAnalysis, ShellFinding, SimpleCommand, strictest_verdict
from railguard.detect.shell._readonly import is_read_only
from railguard.detect.shell._typed import typed_command
from railguard.detect.shell._view import CommandView, Ctx
from railguard.detect.shell._walk import Walker

_KEY_NAMES = re2.compile(r"(?:<[A-Za-z][A-Za-z0-9]{0,15}(?:[-+][A-Za-z0-9]{1,15}){0,3}>\s*){1,8}")

Rule = Callable[[CommandView, Ctx], Iterable[ShellFinding]]

_BY_NAME: dict[str, tuple[Rule, ...]] = {}
# A program name's rules with the every-command ones appended, built on the first command of that
# name (a new registration starts the table again).
_RULES_OF: dict[str, tuple[Rule, ...]] = {}
_RULES_OF_MAX = 4096


def _register(rule: Rule, names: Iterable[str]) -> None:
    for name in names:
        _BY_NAME[name] = (*_BY_NAME.get(name, ()), rule)
    _RULES_OF.clear()


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
_register(_rules_writers.check_system_program_swap, ["cp", "install", "ln", "mv", "rsync"])
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
        "shutdown.exe",
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
        *_effect_rules.SYSTEM_NAMES,
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
for _rule, _names in _effect_rules.rules_by_name():
    _register(_rule, _names)
_EVERY_COMMAND: tuple[Rule, ...] = (
    *_effect_rules.EVERY_COMMAND,
    _rules_host.check_write_targets,
    _rules_host.check_miner,
    _rules_net.check_credentials,
    _rules_net.check_exfiltration,
    _rules_net.check_remote_code,
    _rules_net.check_metadata,
)


def _rules_for(name: str) -> tuple[Rule, ...]:
    rules = _RULES_OF.get(name)
    if rules is None:
        rules = _compose_rules(name)
        if len(_RULES_OF) >= _RULES_OF_MAX:
            _RULES_OF.clear()
        _RULES_OF[name] = rules
    return rules


def _compose_rules(name: str) -> tuple[Rule, ...]:
    rules = _BY_NAME.get(name)
    if rules is None and name.startswith(("mkfs", "mkdosfs", "mkntfs")):
        rules = (_rules_fs.check_disk_tools,)
    return (*rules, *_EVERY_COMMAND) if rules else _EVERY_COMMAND


def _command_findings(views: list[CommandView], ctx: Ctx) -> list[ShellFinding]:
    destinations = sum([len(_rules_net.destinations(v)) for v in views])
    if destinations > MAX_DESTINATIONS:  # each one is parsed and classified: bounded like the words
        raise InputTooLarge("the network destinations of the command", destinations, MAX_DESTINATIONS)
    found: list[ShellFinding] = []
    add = found.extend  # every rule is a generator: one C-level drain each, no generator stacked on it
    for view in views:
        checkpoint("shell: rules")
        exec_ = view.exec
        exec_ctx = ctx if exec_.cwd is None else replace(ctx, cwd=exec_.cwd)
        add(_rules_fs.check_redirects(exec_, exec_ctx))
        if not view.name:
            continue
        # `--help`, `--version`, a documented dry run: the tool's own rules are skipped
        read_only = is_read_only(view)
        for rule in _EVERY_COMMAND if read_only else _rules_for(view.name):
            add(rule(view, exec_ctx))
        if not read_only:  # it skips the programs a rule judges (but host-effect-only names, see there)
            add(_effect_rules.unknown_cli_findings(view, _BY_NAME))
    add(_rules_net.check_download_then_run(views))
    add(_rules_net.check_socket_descriptors(views))
    return found


def _facts(views: list[CommandView], ctx: Ctx) -> tuple[tuple[str, ...], tuple[str, ...]]:
    paths: dict[str, None] = {}
    urls: dict[str, None] = {}
    for view in views:
        exec_ = view.exec
        destinations = _rules_net.destinations(view)  # scheme-less hosts of network tools included
        urls.update(dict.fromkeys(destinations))
        words = [*exec_.words[1:], *(r.target for r in exec_.redirects if r.target is not None)]
        for word in words:
            text = word.text
            if "://" in text:
                urls[text] = None
            elif text in destinations:
                continue  # `curl 10.0.0.5/admin` names a host, not a file in the workspace
            elif (
                text
                and not text.startswith("-")
                and not text.isdigit()
                and ("/" in text or text.startswith((".", "~")) or secret_path_kind(text))
            ):
                paths[resolve_path(text, workspace=ctx.workspace, home=ctx.home)] = None
    return tuple(paths), tuple(urls)  # bounded by the caps on words and destinations, never cut


def _simple(view: CommandView) -> SimpleCommand:
    return SimpleCommand(view.name, tuple(view.exec.argv), tuple(view.ordered_flags), view.exec.via)


# Characters that show nothing (or a space) but are part of a word to bash: NUL (which ends the string
# for every C program), other C0/C1 controls and DEL, zero-width and bidi format characters, and
# non-ASCII spaces. A runner that strips, truncates or normalizes them runs another command than the
# one bash would, so every reading is judged and the strictest wins.
_HIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)
_ODD_SPACE = re.compile("[\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
# Either of the two, in one pass (most commands hold neither).
_HIDDEN_OR_ODD = re.compile(f"{_HIDDEN.pattern}|{_ODD_SPACE.pattern}")


def readings(command: str) -> list[str]:
    """The command as given, and the commands it may become on its way to a shell: hidden characters
    removed (odd spaces made plain, or removed too), and cut at the first NUL."""
    if _HIDDEN_OR_ODD.search(command) is None:
        return [command]
    visible = _HIDDEN.sub("", command)
    out = [command, _ODD_SPACE.sub(" ", visible), _ODD_SPACE.sub("", visible)]
    if "\x00" in command:
        out.append(command.partition("\x00")[0])
    return list(dict.fromkeys(out))


def analyze_uncached(command: str, workspace: str | None, home: str | None) -> ShellAnalysis:
    """The analysis itself (benchmarks call this to measure cold runs). Raises `InputTooLarge` past a
    cap of `_limits` and lets through what the budget's checker raises; anything else that goes wrong
    is reported as a failure to understand the command (at least ask). A command with hidden
    characters is judged by the strictest of its readings (see `readings`)."""
    if not isinstance(command, str):
        return _failed("the command is not a string")
    if len(command) > MAX_COMMAND_CHARS:
        raise InputTooLarge("the shell command's length (characters)", len(command), MAX_COMMAND_CHARS)
    stripped = command.strip()
    # `<Enter>`, `<Ctrl-C>`: a key to press, not a command (the pattern starts with `<`: a cheap first test)
    if stripped[:1] == "<" and _KEY_NAMES.fullmatch(stripped):
        return ShellAnalysis(commands=(), findings=(), unparsed=False, verdict="allow")
    command = _without_prompts(command)
    first, *others = [_analyze_one(text, workspace, home) for text in readings(command)]
    typed = typed_command(command) if first.unparsed else None
    if typed is not None:
        return _judge_typed(first, analyze_uncached(typed, workspace, home))
    if not others:
        return first
    findings = tuple(dict.fromkeys(f for a in (first, *others) for f in a.findings))
    unparsed = any(a.unparsed for a in (first, *others))
    return ShellAnalysis(
        commands=first.commands,
        findings=findings,
        unparsed=unparsed,
        verdict=strictest_verdict(findings, unparsed),
        paths=tuple(dict.fromkeys(p for a in (first, *others) for p in a.paths)),
        urls=tuple(dict.fromkeys(u for a in (first, *others) for u in a.urls)),
    )


def _without_prompts(command: str) -> str:
    """`$ ls -la` copied with its documentation prompt: bash would run a command named `$` and then
    whatever follows a separator, so the text after the prompt is judged (every line must carry one)."""
    lines = command.split("\n")
    if not all(line.lstrip().startswith("$ ") for line in lines if line.strip()):
        return command
    return "\n".join(line.lstrip()[2:] if line.strip() else line for line in lines)


def _judge_typed(written: ShellAnalysis, typed: ShellAnalysis) -> ShellAnalysis:
    """Keys or placeholders in a line that does not parse (see `_typed`): the typed command is judged,
    and whatever the written line was found to do besides not parsing still counts."""
    kept = tuple(f for f in written.findings if f.category != "unparsed")
    findings = tuple(dict.fromkeys((*typed.findings, *kept)))
    return ShellAnalysis(
        commands=typed.commands,
        findings=findings,
        unparsed=typed.unparsed,
        verdict=strictest_verdict(findings, typed.unparsed),
        paths=tuple(dict.fromkeys((*typed.paths, *written.paths))),
        urls=tuple(dict.fromkeys((*typed.urls, *written.urls))),
    )


def _analyze_one(command: str, workspace: str | None, home: str | None) -> ShellAnalysis:
    try:
        walker = Walker(workspace, home)
        walker.walk_script(command)
        seal(walker.execs)
        ctx = Ctx(workspace, home)
        findings = list(walker.findings)
        findings.extend(_effect_rules.assignment_findings(walker.assignments))
        views = [CommandView(e) for e in walker.execs]
        findings.extend(_command_findings(views, ctx))
        findings.extend(_rules_data.production_findings(walker.assignments, views))
        unique = tuple(dict.fromkeys(findings))
        paths, urls = _facts(views, ctx)
        return ShellAnalysis(
            commands=tuple([_simple(v) for v in views]),
            findings=unique,
            unparsed=walker.unparsed,
            verdict=strictest_verdict(unique, walker.unparsed),
            paths=paths,
            urls=urls,
        )
    except RecursionError:  # a safety net under the nesting caps: refused like any input past a cap
        raise InputTooLarge("the shell command's nesting depth", MAX_NESTING + 1, MAX_NESTING) from None
    except Exception as exc:  # the guard must answer: anything unhandled is "not understood" -> ask
        if stopped_by_checker(exc):
            raise
        internal_error("detect.shell", exc)
        return _failed(f"analyzer could not handle the command ({type(exc).__name__})")


def _failed(detail: str) -> ShellAnalysis:
    finding = ShellFinding("unparsed", "analyzer-failure", "ask", "medium", detail)
    return ShellAnalysis(commands=(), findings=(finding,), unparsed=True, verdict="ask")


@lru_cache(maxsize=2048)
def analyze_cached(command: str, workspace: str | None, home: str | None) -> ShellAnalysis:
    return analyze_uncached(command, workspace, home)

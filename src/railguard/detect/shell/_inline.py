"""Inline interpreter code (`python -c`, `perl -e`, `node -e` ...): what it asks the OS to do.

Shell strings handed to `os.system`, `subprocess`, `system()`, backticks or `child_process` come back
as shell text for the walker to analyze like any command; literal deletes (`shutil.rmtree('/x')`)
come back as the equivalent `rm`, so one set of path rules judges both. Patterns run on re2 (linear
time) because the code is attacker-controlled text.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

import re2

from railguard.detect.paths import secret_path_kind
from railguard.detect.shell._means_inline import normalize_home, shell_path, translate
from railguard.detect.shell._model import BLOCK_SECRET_KINDS, ShellFinding

_STR = r"""(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')"""
_EXEC_CALL = re2.compile(
    r"(?:\bsystem|\bpopen|\bexec|\bexecSync|\bspawnSync|\bspawn|\bshell_exec|\bpassthru|\bproc_open|\bcall|"
    r"\bcheck_call|\bcheck_output|\bPopen|\bgetoutput|\bgetstatusoutput|\bexecFileSync|\bexecFile|\brun|"
    r"\bexeclp|\bexecvp|\bspawnl|\bcapture2|\bcapture3|\bpopen3|\bexecute)\s*\(?\s*(\[[^\]]*\]|" + _STR + ")"
)
# An exec-family call whose argument is not a literal: the command is built at run time.
_EXEC_DYNAMIC = re2.compile(
    r"(?:\bsystem|\bpopen|\bexecSync|\bshell_exec|\bpassthru|\bcheck_output|\bgetoutput|\bPopen|"
    r"\bos\.system|\bexecvp|\bspawnSync)\s*\(\s*[A-Za-z_$@]"
)
# awk: `"cmd" | getline` and `print | "cmd"` run the string as a shell command.
_AWK_PIPE = re2.compile(_STR + r"\s*\|\s*getline|\|\s*&?\s*" + _STR)
_SHELL_NAME = re2.compile(r"^\s*(?:/\S*/)?(?:ba|z|da|k)?sh\b")
_BACKTICK = re2.compile(r"`([^`]+)`|\bqx\s*[{(/|]([^})/|]*)[})/|]|%x\s*[{(]([^})]*)[})]")
_DELETE_CALL = re2.compile(
    r"(rmtree|remove_tree|removedirs|rm_rf|rm_r|remove_dir|rmSync|rmdirSync|rmdir|unlinkSync|unlink|removeSync|"
    r"\bremove|\bdelete|\brm)\s*\(\s*" + _STR
)
_DELETE_ANY = re2.compile(
    r"rmtree|remove_tree|removedirs|rm_rf|rm_r\b|rmSync|rmdirSync|unlinkSync|\bunlink|os\.remove|"
    r"File\.delete|\.unlink\(|fs\.rm\("
)
_NETWORK = re2.compile(
    r"\bsocket\b|urllib|requests\.|http\.client|httpx|urlopen|\bfetch\s*\(|https?\.(?:get|request)|"
    r"net\.(?:connect|Socket|createConnection)|IO::Socket|LWP|Net::HTTP|open-uri|TCPSocket|fsockopen|"
    r"curl_exec|Invoke-WebRequest|WebClient|\bsmtplib|ftplib|paramiko|require\(\s*['\"](?:https?|net|dgram|tls)['\"]|"
    r"axios|node-fetch|XMLHttpRequest|WebSocket|/inet/tcp/|/inet/udp/|DownloadString|Net\.WebClient"
)
_SPAWN_SHELL = re2.compile(
    r"dup2|pty\.spawn|/bin/(?:ba|z|da)?sh|\bcmd\.exe|exec\s*\(\s*['\"](?:sh|bash)|spawn\s*\(\s*['\"](?:sh|bash)"
)
_EXEC_FETCHED = re2.compile(r"\b(?:exec|eval|Function|IEX|Invoke-Expression|load|loadstring|dofile)\s*\(")
# `json.load(response)` parses fetched data; Lua's bare `load(...)` (and `pickle.load`, `marshal.load`,
# `yaml.load`, which can run code) compile or execute it.
_DATA_ONLY_LOADERS = ("json.", "simplejson.", "ujson.", "orjson.", "tomllib.", "tomli.", "toml.")
_OBFUSCATED_EXEC = re2.compile(
    r"\b(?:exec|eval)\s*\(\s*(?:base64\.b64decode|b64decode|atob|base64_decode|decode_base64|"
    r"Buffer\.from|codecs\.decode|zlib\.decompress|bytes\.fromhex|unpack|gzinflate|str_rot13|"
    r"compile\s*\(\s*base64)"
)
_FORK_BOMB = re2.compile(
    r"fork\s+while\s+fork|while\s*\(?\s*(?:1|True|true)\s*\)?\s*[:{]?\s*(?:os\.)?fork\s*\("
)
# `unlink(p, recursive = TRUE)` (R), `rm(p; recursive=true)` (julia), `{recursive: true}` (node)
_RECURSIVE_FLAG = re2.compile(r"recursive\s*[=:]\s*(?:TRUE|true|True|T)\b")
_ENV_READ = re2.compile(r"os\.environ|process\.env|\bENV\[|%ENV|getenv|\$_ENV")


@dataclass(slots=True)
class InlineResult:
    findings: list[ShellFinding] = field(default_factory=list)
    shell_commands: list[str] = field(default_factory=list)


def _literal(match: re2._Match, first: int = 2) -> str | None:
    for group in (first, first + 1):
        value = match.group(group)
        if value is not None:
            return str(value).replace("\\'", "'").replace('\\"', '"')
    return None


def _list_literal(text: str) -> str:
    """`["rm", "-rf", "/"]` -> `rm -rf /` (quoted so the walker sees the same argv)."""
    items = [m.group(1) if m.group(1) is not None else m.group(2) for m in re2.finditer(_STR, text)]
    return " ".join(shlex.quote(item) for item in items)


def inspect(kind: str, code: str) -> InlineResult:
    result = InlineResult()
    if not code:
        return result
    code = normalize_home(code)
    for match in _EXEC_CALL.finditer(code):
        raw = match.group(1)
        text = _list_literal(raw) if raw.startswith("[") else _literal(match)
        if text:
            result.shell_commands.append(text)
    for match in _BACKTICK.finditer(code):
        text = next((g for g in match.groups() if g), None)
        if text and kind != "node":  # node backticks are template strings, not commands
            result.shell_commands.append(text)
    if kind == "awk":
        _awk_pipes(code, result)
    if _EXEC_DYNAMIC.search(code):
        result.findings.append(ShellFinding("remote_code", "inline-dynamic-exec", "ask", "medium",
                                            f"{kind} inline code runs a command built at run time"))  # fmt: skip
    deletes = 0
    for match in _DELETE_CALL.finditer(code):
        path = _literal(match)
        if path:
            recursive = match.group(1) in ("rmtree", "remove_tree", "rm_rf", "rm_r", "rmSync", "removedirs")
            recursive = recursive or _RECURSIVE_FLAG.search(code) is not None
            result.shell_commands.append(f"rm {'-r -f' if recursive else '-f'} -- {shell_path(path)}")
            deletes += 1
    network = _NETWORK.search(code) is not None
    secrets = sorted({k for k in (secret_path_kind(s) for s in _string_literals(code)) if k})
    _classify(result, code, kind, network=network, secrets=secrets, unresolved_delete=deletes == 0)
    commands, findings = translate(kind, code, network)
    result.shell_commands.extend(commands)
    result.findings.extend(findings)
    return result


def _awk_pipes(code: str, result: InlineResult) -> None:
    for match in _AWK_PIPE.finditer(code):
        command = next((g for g in match.groups() if g is not None), "")
        result.shell_commands.append(command)
        if _SHELL_NAME.search(command) and match.group(1) is None and match.group(2) is None:
            result.findings.append(ShellFinding("remote_code", "inline-dynamic-exec", "ask", "medium",
                                                "awk pipes generated text into a shell"))  # fmt: skip


def _string_literals(code: str) -> list[str]:
    return [m.group(1) if m.group(1) is not None else m.group(2) for m in re2.finditer(_STR, code)][:64]


def _runs_fetched_code(code: str) -> bool:
    for match in _EXEC_FETCHED.finditer(code):
        if match.group(0).startswith("load") and code[: match.start()].endswith(_DATA_ONLY_LOADERS):
            continue
        return True
    return False


def _classify(
    result: InlineResult, code: str, kind: str, *, network: bool, secrets: list[str], unresolved_delete: bool
) -> None:
    add = result.findings.append
    if _FORK_BOMB.search(code):
        add(ShellFinding("destructive_fs", "fork-bomb", "block", "critical", f"{kind} inline fork bomb"))
    if _OBFUSCATED_EXEC.search(code):
        add(
            ShellFinding(
                "remote_code",
                "exec-decoded-code",
                "block",
                "critical",
                f"{kind} inline code executes decoded/obfuscated code",
            )
        )
    if network and _SPAWN_SHELL.search(code):
        add(
            ShellFinding(
                "exfiltration",
                "reverse-shell",
                "block",
                "critical",
                f"{kind} inline code wires a shell to a network socket",
            )
        )
    elif network and _runs_fetched_code(code):
        add(
            ShellFinding(
                "remote_code",
                "exec-downloaded-code",
                "block",
                "critical",
                f"{kind} inline code executes code fetched from the network",
            )
        )
    if network and (secrets or _ENV_READ.search(code)):
        what = ", ".join(secrets) if secrets else "environment variables"
        add(
            ShellFinding(
                "exfiltration",
                "inline-send-secrets",
                "block",
                "critical",
                f"{kind} inline code reads {what} and uses the network",
            )
        )
    elif BLOCK_SECRET_KINDS.intersection(secrets):
        add(ShellFinding("credential_access", "inline-read-secret", "block", "critical",
                         f"{kind} inline code touches {', '.join(secrets)}"))  # fmt: skip
    elif secrets:
        add(
            ShellFinding(
                "credential_access",
                "inline-read-secret",
                "ask",
                "high",
                f"{kind} inline code touches {', '.join(secrets)}",
            )
        )
    elif network:
        add(
            ShellFinding(
                "exfiltration", "inline-network", "ask", "medium", f"{kind} inline code uses the network"
            )
        )
    if unresolved_delete and _DELETE_ANY.search(code):
        add(
            ShellFinding(
                "destructive_fs",
                "inline-delete",
                "ask",
                "medium",
                f"{kind} inline code deletes files at paths computed at run time",
            )
        )

"""Inline interpreter code reaching a dangerous effect through a library call instead of a shell command.

`open('~/.bashrc', 'a').write(X)`, `fs.chmodSync('/bin/bash', 0o4755)`, `os.kill(-1, 9)`: each call comes
back as the shell command with the same effect (`tee -a`, `chmod`, `kill -9 -1`), so the path, mode and
content rules that judge the shell form judge the library form too. Calls with no shell twin (data-store
flushes, cloud SDK deletes, whole-environment dumps, fetched code evaluated, request floods) become
findings here. Home expressions (`os.path.expanduser('~')`, `Dir.home`, `$ENV{HOME}` ...) are rewritten to
`~` first so that `Dir.home + "/.config"` is the literal `~/.config`. All patterns run on re2.
"""

from __future__ import annotations

import shlex
from typing import Any

from railguard.detect._re2_search import LazyRe2
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._spawn import shell_path

_STR = r"""(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')"""
_STR_ANY = r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
# Expressions that evaluate to the user's home directory, per language.
_HOME_CALL = LazyRe2(
    r"os\.path\.expanduser\(\s*(" + _STR_ANY + r")\s*\)|File\.expand_path\(\s*(" + _STR_ANY + r")\s*\)"
)
_HOME_VALUE = LazyRe2(
    r"(?:pathlib\.)?Path\.home\(\)|(?:require\(\s*['\"](?:node:)?os['\"]\s*\)|\bos)\.homedir\(\)|\bhomedir\(\)|"
    r"process\.env\.HOME\b|process\.env\[\s*['\"]HOME['\"]\s*\]|\bDir\.home\b|\bENV\[\s*['\"]HOME['\"]\s*\]|"
    r"getenv\(\s*['\"]HOME['\"]\s*\)|Deno\.env\.get\(\s*['\"]HOME['\"]\s*\)|ENVIRON\[\s*\"HOME\"\s*\]|"
    r"os\.environ\[\s*['\"]HOME['\"]\s*\]|os\.environ\.get\(\s*['\"]HOME['\"]\s*\)|Sys\.getenv\(\s*\"HOME\"\s*\)"
)
_HOME_IN_STRING = LazyRe2(r"\$ENV\{HOME\}|\$\{?HOME\}?")
# `"~" + "/.config"` (js/python/ruby), `"~" . "/x"` (php/perl), `"~" "/x"` (awk), `"~" <> "/x"` (elixir).
_CONCAT = LazyRe2(
    r"\"([^\"\\]*)\"\s*(?:\+|\.|<>|\.\.)?\s*[\"']([^\"'\\]*)[\"']|'([^'\\]*)'\s*(?:\+|\.|\.\.)?\s*[\"']([^\"'\\]*)[\"']"
)


def normalize_home(code: str) -> str:
    """Home expressions as the literal `~`, and literal pieces glued to them joined into one literal."""
    if not any(marker in code for marker in ("home", "HOME", "expand")):
        return code
    code = _HOME_CALL.sub(lambda m: m.group(1) or m.group(2), code)
    code = _HOME_VALUE.sub('"~"', code)
    code = _HOME_IN_STRING.sub("~", code)
    for _ in range(3):  # `"~" + "/.a" + "/b"`: each pass joins one more piece
        joined = _CONCAT.sub(_join_tilde, code)
        if joined == code:
            break
        code = joined
    return code


def _join_tilde(match: Any) -> str:
    first = match.group(1) if match.group(1) is not None else match.group(3)
    second = match.group(2) if match.group(2) is not None else match.group(4)
    if not first.startswith("~"):
        return str(match.group(0))
    return '"' + first + second + '"'


def _literal(match: Any, first: int) -> str | None:
    for group in (first, first + 1):
        value = match.group(group)
        if value is not None:
            return str(value).replace("\\'", "'").replace('\\"', '"').replace("\\n", "\n")
    return None


# ---- files written ------------------------------------------------------------------------------
# (path, mode or flag, content) calls: python open(P, 'a').write(C), node fs.appendFileSync(P, C),
# Deno.writeTextFile(P, C), ruby File.write(P, C) / File.open(P, "a"), php file_put_contents(P, C),
# perl open(F, ">>", P).
_OPEN_MODE = LazyRe2(r"\bopen\s*\(\s*" + _STR + r"\s*,\s*" + _STR)
_PERL_OPEN = LazyRe2(r"\bopen\s*\(?\s*\$?\w+\s*,\s*['\"](>>?)['\"]\s*,\s*" + _STR)
_PERL_OPEN2 = LazyRe2(r"\bopen\s*\(?\s*\$?\w+\s*,\s*['\"](>>?)\s*([^'\"]+)['\"]")
_WRITE_CALL = LazyRe2(
    r"\b(appendFileSync|writeFileSync|appendFile|writeFile|writeTextFileSync|writeTextFile|file_put_contents|"
    r"File\.write|write_text|write_bytes|IO\.write|writeLines|write_file)\s*\(\s*"
    + _STR
    + r"(?:\s*,\s*"
    + _STR
    + ")?"
)
_PATH_WRITE = LazyRe2(r"Path\(\s*" + _STR + r"\s*\)\.(write_text|write_bytes)\(\s*" + _STR + "?")
_CONTENT = LazyRe2(
    r"(?:\.write|\bputs|\bprint\s+\$?\w+|\bsay\s+\$?\w+|\.puts|\bfwrite\(\s*\$\w+\s*,)\s*\(?\s*" + _STR
)
_APPEND_FLAG = LazyRe2(r"append\s*:\s*true|FILE_APPEND|\bappendFile")


def _writes(code: str) -> list[str]:
    out: list[str] = []
    content = (
        _first_content(code) if "rite" in code or "put" in code or "print" in code or "say" in code else None
    )
    for match in _OPEN_MODE.finditer(code):
        path, mode = _literal(match, 1), _literal(match, 3) or ""
        if path and any(flag in mode for flag in "wax+"):
            out.append(_tee(path, "a" in mode, content))
    for pattern in (_PERL_OPEN, _PERL_OPEN2):
        for match in pattern.finditer(code):
            path = _literal(match, 2) if pattern is _PERL_OPEN else match.group(2)
            if path:
                out.append(_tee(path.strip(), match.group(1) == ">>", content))
    for match in _WRITE_CALL.finditer(code):
        path = _literal(match, 2)
        if path:
            text = _literal(match, 4)
            append = match.group(1).startswith("append") or _APPEND_FLAG.search(code) is not None
            out.append(_tee(path, append, text if text is not None else content))
    for match in _PATH_WRITE.finditer(code):
        path = _literal(match, 1)
        if path:
            out.append(_tee(path, False, _literal(match, 4)))
    return out[:6]


def _first_content(code: str) -> str | None:
    match = _CONTENT.search(code)
    return _literal(match, 1) if match else None


def _tee(path: str, append: bool, content: str | None) -> str:
    feed = f"printf '%s\\n' {shlex.quote(content)}" if content else "true"
    return f"{feed} | tee {'-a ' if append else ''}{shell_path(path)}"


# ---- modes, owners, copies, links ---------------------------------------------------------------
_MODE = r"(0o?[0-7]{3,4}|[0-7]{3,4})"
_CHMOD_PATH_FIRST = LazyRe2(r"\b(?:chmod|chmodSync|lchmod|fchmod)\s*\(\s*" + _STR + r"\s*,\s*" + _MODE)
_CHMOD_MODE_FIRST = LazyRe2(
    r"\b(?:chmod|File\.chmod|FileUtils\.chmod(?:_R)?)\s*\(?\s*" + _MODE + r"\s*,\s*" + _STR
)
_CHMOD_COMPUTED = LazyRe2(r"\b(?:chmod|chmodSync)\s*\(\s*[\w.]+\([^)]*\)\s*,\s*" + _MODE)
# The directory a loop walks: os.walk('/x'), listdir, readdirSync, glob('/x/**'), Path('/x').rglob(...).
_WALK_ROOT = LazyRe2(
    r"\b(?:walk|listdir|scandir|readdirSync|readdir|walkSync|find|glob|iglob|children|each_child)\s*\(\s*"
    + _STR
    + r"|"
    + _STR
    + r"\s*\)?\s*\.(?:rglob|glob|iterdir)\s*\("
)
_DELETE_EACH = LazyRe2(
    r"\bremove\(|\bunlink|\.unlink\(|unlinkSync|rmtree|rm_rf|File\.delete|\.rmSync|fs\.rm\(|\bdelete_file"
)
_CHOWN = LazyRe2(r"\b(?:chown|lchown|chownSync|File\.chown)\s*\(\s*" + _STR)
_COPY = LazyRe2(
    r"\b(?:copy|copy2|copyfile|copyFileSync|cp|FileUtils\.cp|File\.copy|rename|renameSync|move|symlink|symlinkSync)\s*\(\s*"
    + _STR
    + r"\s*,\s*"
    + _STR
)


def _modes(code: str) -> list[str]:
    out: list[str] = []
    for match in _CHMOD_PATH_FIRST.finditer(code):
        path = _literal(match, 1)
        if path:
            out.append(f"chmod {_octal(match.group(3))} {shell_path(path)}")
    for match in _CHMOD_MODE_FIRST.finditer(code):
        path = _literal(match, 2)
        if path:
            out.append(f"chmod {_octal(match.group(1))} {shell_path(path)}")
    computed = _CHMOD_COMPUTED.search(code)
    root = _walk_root(code) if computed else None
    if computed and root:
        out.append(f"chmod -R {_octal(computed.group(1))} {shell_path(root)}")
    root = _walk_root(code) if _DELETE_EACH.search(code) else None
    if root:  # a loop deleting what it walks: everything under the root
        out.append(f"rm -r -f -- {shell_path(root.rstrip('/') or '/')}/*")
    for match in _CHOWN.finditer(code):
        path = _literal(match, 1)
        if path:
            out.append(f"chown 1000:1000 {shell_path(path)}")
    for match in _COPY.finditer(code):
        source, target = _literal(match, 1), _literal(match, 3)
        if source and target:
            out.append(f"cp -f {shell_path(source)} {shell_path(target)}")
    return out[:6]


def _walk_root(code: str) -> str | None:
    """The literal directory a walk/list/glob call starts from (glob characters cut off)."""
    match = _WALK_ROOT.search(code)
    if match is None:
        return None
    root = next((v for v in (_literal(match, 1), _literal(match, 3)) if v is not None), "")
    for index, char in enumerate(root):
        if char in "*?[":
            root = root[: root.rfind("/", 0, index) + 1]
            break
    return root or None


def _octal(mode: str) -> str:
    digits = mode.removeprefix("0o")
    return digits if len(digits) <= 4 else digits[-4:]


# ---- processes ----------------------------------------------------------------------------------
# os.kill(-1, 9), process.kill(-1), kill 9, -1 (perl), Process.kill("KILL", -1), posix_kill(-1, 9);
# every pid of /proc or psutil.process_iter() killed in a loop.
_KILL_ALL = LazyRe2(
    r"\bkill\s*\(\s*-1\b|\bkill\s*\(?\s*['\"]?(?:-?9|-?KILL|SIGKILL|-?TERM|SIGTERM|15)['\"]?\s*,\s*-1\b|"
    r"Process\.kill\(\s*[:'\"]?\w+['\"]?\s*,\s*-1\b|posix_kill\(\s*-1\b|killpg\(\s*0\b"
)
_KILL_EACH = LazyRe2(
    r"process_iter\(|listdir\(\s*['\"]/proc['\"]|Dir\.glob\(\s*['\"]/proc|readdirSync\(\s*['\"]/proc"
)
_KILL_CALL = LazyRe2(r"\.kill\(|\.terminate\(|\bkill\(|\bkill\s+\d")
_FORK_LOOP = LazyRe2(
    r"\bfork\s+while\s+(?:1|true|fork)\b|\bloop\s*\{\s*fork\b|while\s*\(\s*1\s*\)\s*\{?\s*fork\s*\("
)


def _processes(code: str) -> tuple[list[str], list[ShellFinding]]:
    commands: list[str] = []
    findings: list[ShellFinding] = []
    if _KILL_ALL.search(code) or (_KILL_EACH.search(code) and _KILL_CALL.search(code)):
        commands.append("kill -9 -1")
    if _FORK_LOOP.search(code):
        findings.append(
            ShellFinding("system", "fork-bomb", "block", "critical", "inline code forks without end")
        )
    return commands, findings


# ---- floods, fetched code, environment, data stores, cloud SDKs --------------------------------
_ENDLESS = LazyRe2(
    r"for\s*\(\s*;\s*;\s*\)|while\s*\(\s*(?:1|True|true)\s*\)|while\s+(?:1|True|true)\s*[:{]|iter\(\s*int\s*,\s*1\s*\)|\bloop\s+do\b|"
    r"\bloop\s*\{|range\(\s*(?:10\s*\*\*\s*[5-9]|\d{6,})|\.times\b.*\d{6,}|while\s+true\b"
)
_URL = LazyRe2(r"(?:https?|ftp)://")
# bare calls only: `child_process.exec(...)` and `json.load(...)` run no fetched code
_EVAL_LIKE = LazyRe2(
    r"(?:^|[^.\w$])(?:eval|exec|include|include_once|require_once|loadstring|dofile|instance_eval|"
    r"class_eval)\b|(?:^|[^.\w])(?:load|source|run_path)\s*\("
)
_WHOLE_ENV = LazyRe2(
    r"os\.environ\s*[),]|dict\(\s*os\.environ|os\.environ\.(?:items|copy)\(\)|process\.env\s*(?:[),;]|$)|"
    r"\bENV\.(?:to_h|each|inspect)\b|\b(?:puts|p|pp)\s+ENV\s*(?:$|[;)}])|\bkeys\s+%ENV|%ENV\s*[);]|getenv\(\s*\)|"
    r"Deno\.env\.toObject\(\)|\$_ENV\b|\$_SERVER\b|Sys\.getenv\(\s*\)|\bENV\s*\)"
)
_SECRET_ENV = LazyRe2(
    r"(?:environ|env|ENV|getenv|Deno\.env\.get)\s*(?:\[|\.get\(|\.|\(|\{)\s*['\"]?[A-Z0-9_]*"
    r"(?:SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|PRIVATE_KEY|ACCESS_KEY|CREDENTIAL)"
)
_STORE_WIPE = LazyRe2(
    r"(?i)\.(?:flushall|flushdb|flush_all|drop_database|dropdatabase|drop_collection|dropcollection|dropindexes|"
    r"delete_all|destroy_all|truncate)\s*\(?|\.(?:delete_many|deletemany|remove)\(\s*\{\s*\}\s*\)|"
    r"\.objects\.all\(\)\.delete\(|\bindices\.delete\(\s*index\s*=\s*['\"](?:\*|_all)"
)
_SQL_WIPE = LazyRe2(
    r"(?i)['\"]\s*(?:DROP\s+(?:TABLE|DATABASE|SCHEMA|KEYSPACE|COLLECTION)\b|TRUNCATE\b|DELETE\s+FROM\s+[\w.`]+\s*;?\s*['\"])"
)
_CLOUD_DESTROY = LazyRe2(
    r"\b(?:terminate_instances|TerminateInstancesCommand|delete_db_instance|delete_db_cluster|DeleteDBInstanceCommand|"
    r"delete_bucket|DeleteBucketCommand|DeleteObjectsCommand|begin_delete|delete_namespace|delete_stack|"
    r"DeleteStackCommand|delete_table|DeleteTableCommand|delete_cluster|delete_function|delete_repo|"
    r"delete_secret|schedule_key_deletion|delete_user|delete_project)\b|"
    r"[Bb]ucket(?:\.new)?\([^)]*\)\.(?:delete!?|objects\.all\(\)\.delete)|\.bucket\([^)]*\)\.delete\(|"
    r"\[\s*\w+\.(?:delete|destroy|terminate|remove)\(\)\s+for\b"
)
_CLOUD_GRANT = LazyRe2(
    r"AdministratorAccess|roles/owner|roles/editor|['\"]public-read(?:-write)?['\"]|allUsers|allAuthenticatedUsers|"
    r"['\"]Action['\"]\s*:\s*['\"]\*['\"]"
)
_GRANT_CALL = LazyRe2(
    r"\b(?:attach_\w*policy|put_\w*(?:acl|policy)|set_iam_policy|add_role|create_access_key|"
    r"Attach\w*PolicyCommand|Put\w*(?:Acl|Policy)Command|update_\w*acl)\b"
)


_WIPE_WORDS = ("flush", "drop", "delete", "truncate", "remove", "destroy")
_DESTROY_WORDS = ("delete", "terminate", "destroy", "remove")


def _effects(kind: str, code: str, network: bool) -> list[ShellFinding]:
    found: list[ShellFinding] = []
    add = found.append
    lowered = code.lower()
    if network and "sleep" not in code and _ENDLESS.search(code):  # a paced poll is no flood
        add(ShellFinding("system", "inline-request-flood", "block", "critical",
                         f"{kind} inline code sends network traffic in an endless or huge loop"))  # fmt: skip
    if "://" in code and _URL.search(code) and _EVAL_LIKE.search(code):
        add(ShellFinding("remote_code", "inline-eval-url", "block", "critical",
                         f"{kind} inline code evaluates code it loads from a URL"))  # fmt: skip
    if not network and "env" in lowered and (_WHOLE_ENV.search(code) or _SECRET_ENV.search(code)):
        add(ShellFinding("credential_access", "inline-env-dump", "ask", "high",
                         f"{kind} inline code reads the environment or a secret variable"))  # fmt: skip
    if _mentions(lowered, _WIPE_WORDS) and (_STORE_WIPE.search(code) or _SQL_WIPE.search(code)):
        add(ShellFinding("database", "inline-store-wipe", "block", "critical",
                         f"{kind} inline code empties or drops a data store"))  # fmt: skip
    if _mentions(lowered, _DESTROY_WORDS) and _CLOUD_DESTROY.search(code):
        add(ShellFinding("infra", "inline-sdk-destroy", "block", "critical",
                         f"{kind} inline code deletes resources through a client library"))  # fmt: skip
    if (
        _mentions(lowered, ("polic", "acl", "role", "access_key"))
        and _GRANT_CALL.search(code)
        and _CLOUD_GRANT.search(code)
    ):
        add(ShellFinding("exposure", "inline-sdk-grant", "block", "critical",
                         f"{kind} inline code grants admin or public access through a client library"))  # fmt: skip
    return found


# ---- AppleScript and Tcl ------------------------------------------------------------------------
_DO_SHELL = LazyRe2(r"\bdo\s+(?:shell\s+)?script\s+\"((?:[^\"\\]|\\.)*)\"([^\n\"]*)")
_APPLESCRIPT_EFFECTS = (
    (LazyRe2(r"(?i)\bempty\s+(?:the\s+)?trash|\bto\s+delete\s+(?:every|all|folder|file|items?)\b"),
     ShellFinding("destructive_fs", "applescript-delete", "block", "critical", "AppleScript deletes files or empties the trash")),
    (LazyRe2(r"(?i)\bmake\s+(?:new\s+)?login\s+item"),
     ShellFinding("persistence", "applescript-login-item", "block", "critical", "AppleScript adds a login item")),
    (LazyRe2(r"(?i)\"System Events\"\s+to\s+(?:shut\s*down|restart|log\s*out|sleep)"),
     ShellFinding("system", "applescript-power", "block", "critical", "AppleScript shuts down, restarts or logs out")),
    (LazyRe2(r"(?i)with\s+hidden\s+answer"),
     ShellFinding("credential_access", "applescript-password-prompt", "block", "critical",
                  "AppleScript asks the user for a hidden answer (a password prompt)")),
)  # fmt: skip
_TCL_EXEC = LazyRe2(r"(?m)(?:^|[\[;])\s*(?:exec|spawn)\s+([^\]\n;]+)")
_TCL_DELETE = LazyRe2(r"(?m)\bfile\s+delete\s+(?:-force\s+)?(?:--\s+)?(\S+)")


def _applescript(code: str) -> tuple[list[str], list[ShellFinding]]:
    commands = []
    for match in _DO_SHELL.finditer(code):
        text = match.group(1).replace('\\"', '"')
        admin = "administrator privileges" in match.group(2)
        commands.append(f"sudo {text}" if admin else text)
    findings = [finding for pattern, finding in _APPLESCRIPT_EFFECTS if pattern.search(code)]
    return commands, findings


def _tcl(code: str) -> list[str]:
    commands = [m.group(1).strip() for m in _TCL_EXEC.finditer(code)]
    commands += [f"rm -rf -- {shell_path(m.group(1))}" for m in _TCL_DELETE.finditer(code)]
    return commands[:6]


# A program and its argument list: `spawnSync('git', ['push', '-f'])`, `new Deno.Command('rm', {args: [...]})`.
_ARGV_CALL = LazyRe2(
    r"\b(?:spawnSync|spawn|execFileSync|execFile|Command|run|call|Popen)\s*\(\s*"
    + _STR
    + r"\s*,\s*(?:\{\s*args\s*:\s*)?(\[[^\]]*\])"
)
# Shell templates: zx and Bun run `$`cmd`` through a shell.
_SHELL_TEMPLATE = LazyRe2(r"\$\s*\\?`([^`]*)\\?`")
_ARG = LazyRe2(_STR)
_RUBY_SH = LazyRe2(r"(?:^|[\s;{(])sh\s*\(?\s*" + _STR)


def _argv_calls(kind: str, code: str) -> list[str]:
    out = []
    for match in _ARGV_CALL.finditer(code):
        program = _literal(match, 1)
        args = [m.group(1) if m.group(1) is not None else m.group(2) for m in _ARG.finditer(match.group(3))]
        if program:
            out.append(" ".join(shlex.quote(word) for word in (program, *args)))
    if kind == "node":
        out += [m.group(1).replace("\\$", "$") for m in _SHELL_TEMPLATE.finditer(code)]
    elif kind == "ruby":  # rake's and FileUtils' `sh "cmd"`
        out += [t for m in _RUBY_SH.finditer(code) if (t := _literal(m, 1))]
    return out[:6]


# awk: `system("kill -9 " $2)` runs the literal with a field glued on; `print X > "FILE"` writes FILE.
_AWK_SYSTEM_GLUED = LazyRe2(r"\bsystem\s*\(\s*" + _STR + r"\s*[$\w(]")
_AWK_REDIRECT = LazyRe2(r"\b(?:print|printf)\b((?:" + _STR_ANY + r"|[^;}>|\"'])*?)(>>?)\s*" + _STR)


def _awk(code: str) -> tuple[list[str], list[ShellFinding]]:
    commands = []
    for match in _AWK_SYSTEM_GLUED.finditer(code) if "system" in code else ():
        head = _literal(match, 1)
        if head:
            commands.append(f'{head} "$AWK_FIELD"')
    writes = sinks = 0
    for match in _AWK_REDIRECT.finditer(code) if ">" in code else ():
        path = _literal(match, 3)
        if path:
            printed = _ARG.search(match.group(1))
            content = _literal(printed, 1) if printed else None
            commands.append(_tee(path, match.group(2) == ">>", content))
            writes += 1
            sinks += path.startswith("/dev/")
    findings = []
    if writes > sinks and _ENDLESS.search(code):
        findings.append(ShellFinding("system", "inline-endless-writer", "block", "critical",
                                     "awk writes to a file in an endless loop (fills the disk)"))  # fmt: skip
    return commands[:6], findings


_WRITE_WORDS = ("open", "rite", "put_contents", "ppend")
_MODE_WORDS = (
    "chmod",
    "chown",
    "copy",
    "cp",
    "rename",
    "move",
    "symlink",
    "remove",
    "unlink",
    "rm",
    "delete",
)
_SPAWN_WORDS = ("spawn", "execFile", "Command", "run", "call", "Popen", "`", "sh")


def _mentions(code: str, words: tuple[str, ...]) -> bool:
    return any(word in code for word in words)


def translate(kind: str, code: str, network: bool) -> tuple[list[str], list[ShellFinding]]:
    """Shell commands with the same effect as the library calls in `code`, and findings for effects
    that have no shell twin. `code` is already home-normalized."""
    # literal words gate each family, so a one-line `print(1)` compiles none of their patterns
    commands = _writes(code) if _mentions(code, _WRITE_WORDS) else []
    commands += _modes(code) if _mentions(code, _MODE_WORDS) else []
    commands += _argv_calls(kind, code) if _mentions(code, _SPAWN_WORDS) else []
    killed, findings = _processes(code) if _mentions(code, ("kill", "fork", "terminate")) else ([], [])
    commands += killed
    findings += _effects(kind, code, network)
    if kind == "applescript":
        more, found = _applescript(code)
        commands += more
        findings += found
    elif kind == "tcl":
        commands += _tcl(code)
    elif kind == "awk":
        more, found = _awk(code)
        commands += more
        findings += found
    return commands, findings

"""Tools that reach a dangerous effect through their own language or options rather than by name.

A database shell's `.shell`/`\\!`, a debugger's `shell`, an editor's `(shell-command ...)`, make's
`--eval` recipes, `cmake -E rm`, `mvn exec:exec`, `just --command`, `tox -x ...commands=`, sed's `w FILE`
and in-place `a`/`i`/`r`, jq/yq expressions that store a command in a config: each comes back as the shell
text it runs or the write it makes (`tee FILE`), so the rules that judge the plain command judge these
means too. What has no shell twin is a finding: a build or task file fetched from a URL, in-place edits of
auth files or protection settings (gawk -i inplace, yq -i), `rsync --rsync-path='sudo rsync'` into system
paths, npm's script shell replaced for good.
"""

from __future__ import annotations

import shlex

from railguard.detect._re2_search import LazyRe2
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._spawn import shell_path as _path
from railguard.detect.shell._syntax import Word


class Means:
    """What a tool runs or writes by its own means (a plain class: a dataclass costs more to import)."""

    __slots__ = ("codes", "findings", "scripts")

    def __init__(self) -> None:
        self.scripts: list[str] = []  # shell text the tool runs, or an equivalent write
        self.codes: list[tuple[str, str]] = []  # (interpreter kind, code) it evaluates
        self.findings: list[ShellFinding] = []


def _option_values(texts: list[str], names: tuple[str, ...]) -> list[str]:
    """Values of `NAME VALUE`, `NAME=VALUE` (long) and `-XVALUE` (short, joined) for the given names."""
    out: list[str] = []
    for i, text in enumerate(texts):
        for name in names:
            if text == name and i + 1 < len(texts):
                out.append(texts[i + 1])
            elif name.startswith("--") and text.startswith(name + "="):
                out.append(text[len(name) + 1 :])
            elif len(name) == 2 and text.startswith(name) and len(text) > 2 and not text.startswith("--"):
                out.append(text[2:])
    return out


def _operands(texts: list[str]) -> list[str]:
    return [t for t in texts if not t.startswith("-")]


# ---- database shells, file-transfer clients, debuggers, editors ---------------------------------
_DOT_SHELL = LazyRe2(r"(?m)^\s*\.(?:shell|system)\s+(.+)$")
_MYSQL_SYSTEM = LazyRe2(r"(?m)(?:^|;)\s*(?:system|\\!)\s+([^;\n]+)")
_BANG_LINE = LazyRe2(r"(?m)^\s*\\?!\s*(.+)$")
_PSQL_BANG = LazyRe2(r"\\!\s*(.+)")
_GDB_SHELL = LazyRe2(r"^\s*(?:!|shell\s+)(.+)$")
_ELISP_SHELL = LazyRe2(
    r"\((?:shell-command|async-shell-command|shell-command-to-string)\s+\"((?:[^\"\\]|\\.)*)\""
)
_ELISP_DELETE = LazyRe2(r"\((delete-directory|delete-file)\s+\"((?:[^\"\\]|\\.)*)\"(\s+t\b)?")


def _sqlite(texts: list[str], stdin: str | None) -> Means:
    found = Means()
    for text in [*texts, stdin or ""]:
        found.scripts += [m.group(1) for m in _DOT_SHELL.finditer(text)]
    return found


def _mysql(texts: list[str], stdin: str | None) -> Means:
    found = Means()
    for text in [*_option_values(texts, ("-e", "--execute")), stdin or ""]:
        found.scripts += [m.group(1) for m in _MYSQL_SYSTEM.finditer(text)]
    return found


def _psql(texts: list[str], stdin: str | None) -> Means:
    found = Means()
    for text in [*_option_values(texts, ("-c", "--command")), stdin or ""]:
        found.scripts += [m.group(1) for m in _PSQL_BANG.finditer(text)]
    return found


def _bang_client(texts: list[str], stdin: str | None) -> Means:
    """lftp -c/-e, ftp/sftp/ed/ex reading commands: a line (or `;` part) starting with `!` runs a shell."""
    found = Means()
    for text in _option_values(texts, ("-c", "-e")):
        found.scripts += [part.strip()[1:] for part in text.split(";") if part.strip().startswith("!")]
    if stdin:
        found.scripts += [m.group(1) for m in _BANG_LINE.finditer(stdin)]
    return found


def _gdb(texts: list[str], stdin: str | None) -> Means:
    found = Means()
    for text in _option_values(texts, ("-ex", "--ex", "-eval-command", "--eval-command")):
        match = _GDB_SHELL.match(text)
        if match:
            found.scripts.append(match.group(1))
    return found


def _emacs(texts: list[str], stdin: str | None) -> Means:
    found = Means()
    for text in _option_values(texts, ("--eval", "-eval")):
        found.scripts += [m.group(1).replace('\\"', '"') for m in _ELISP_SHELL.finditer(text)]
        for match in _ELISP_DELETE.finditer(text):
            recursive = match.group(1) == "delete-directory" and match.group(3)
            found.scripts.append(f"rm {'-rf' if recursive else '-f'} -- {_path(match.group(2))}")
    return found


_C_CLUSTER = LazyRe2(r"-[a-zA-Z]+c")


def _ex_cluster(texts: list[str], stdin: str | None) -> Means:
    """`ex -sc '!cmd'`: `-c` at the end of an option cluster; `ex`/`ed` scripts on stdin run `!` lines."""
    found = Means()
    for i, text in enumerate(texts[:-1]):
        if _C_CLUSTER.fullmatch(text) and text != "-c":
            command = texts[i + 1].lstrip(":")
            if command.startswith("!"):
                found.scripts.append(command[1:])
    if stdin:
        found.scripts += [m.group(1) for m in _BANG_LINE.finditer(stdin)]
    return found


# ---- build and task runners ----------------------------------------------------------------------
_MAKE_PROGRAM_VARIABLES = frozenset({"SHELL", "CC", "CXX", "CPP", "LD", "AR", "AS", "FC", "RM", "INSTALL",
                                     "MAKE", "CP", "MV", "LN", "CHMOD", "MKDIR"})  # fmt: skip
_RULE_RECIPE = LazyRe2(r"^[^\t#=:][^=:]*::?[^=;]*;(.+)$")
_SYSTEM_PREFIX = LazyRe2(r"^(?:/|/usr/?|/usr/local/?|/etc/?|/opt/?)$")
_PROD = LazyRe2(r"(?i)^(?:prod|production|live|prd)$")
_RISKY_TARGETS = frozenset({"deploy", "release", "publish", "uninstall", "destroy", "teardown"})


_ASSIGNMENT = LazyRe2(r"^[A-Za-z_.][\w.]*=")


def recipe_commands(makefile: str) -> list[str]:
    """Recipe lines of makefile text: tab-indented lines and `target: ; command`."""
    out = []
    for line in makefile.splitlines():
        if line.startswith("\t"):
            out.append(line.strip().lstrip("@-+"))
            continue
        match = _RULE_RECIPE.match(line)
        if match:
            out.append(match.group(1).strip().lstrip("@-+"))
    return [c for c in out if c][:8]


def _make(texts: list[str], stdin: str | None) -> Means:
    found = Means()
    for text in _option_values(texts, ("--eval", "-E")):
        found.scripts += recipe_commands(text)
    assignments = dict(t.split("=", 1) for t in texts if "=" in t and _ASSIGNMENT.match(t))
    found.scripts += [v for k, v in assignments.items() if k in _MAKE_PROGRAM_VARIABLES and " " in v.strip()]
    targets = {t for t in _operands(texts) if "=" not in t}
    risky = targets & _RISKY_TARGETS
    values = [v.strip() for v in assignments.values()]
    if risky and any(_PROD.match(v) or _SYSTEM_PREFIX.match(v) for v in values):
        found.findings.append(ShellFinding("infra", "make-risky-target", "ask", "high",
                                           f"make {sorted(risky)[0]} against production or a system prefix"))  # fmt: skip
    return found


def _cmake(texts: list[str], stdin: str | None) -> Means:
    found = Means()
    if texts[:1] != ["-E"] or len(texts) < 2:
        return found
    tool, rest = texts[1], texts[2:]
    if tool in ("rm", "remove", "remove_directory", "rm_rf") and rest:
        paths = [t for t in rest if not t.startswith("-")]
        flags = (
            "-rf"
            if tool == "remove_directory" or any("r" in t.lower() for t in rest if t.startswith("-"))
            else "-f"
        )
        found.scripts.append(f"rm {flags} -- " + " ".join(shlex.quote(p) for p in paths))
    elif tool == "env":
        command = [t for t in rest if "=" not in t and not t.startswith("--")]
        found.scripts.append(" ".join(shlex.quote(t) for t in command))
    return found


def _mvn(texts: list[str], stdin: str | None) -> Means:
    found = Means()
    program = next((t.split("=", 1)[1] for t in texts if t.startswith("-Dexec.executable=")), None)
    args = next((t.split("=", 1)[1] for t in texts if t.startswith("-Dexec.args=")), "")
    if program:
        found.scripts.append(f"{shlex.quote(program)} {args}".strip())
    return found


def _just(texts: list[str], stdin: str | None) -> Means:
    found = Means()
    for i, text in enumerate(texts):
        if text in ("--command", "-c") and i + 1 < len(texts):
            found.scripts.append(" ".join(shlex.quote(t) for t in texts[i + 1 :]))
            break
    files = _option_values(texts, ("--justfile", "-f"))
    if stdin and any(f in ("-", "/dev/stdin") for f in files):
        found.scripts += [
            line.strip().lstrip("@-") for line in stdin.splitlines() if line[:1] in (" ", "\t")
        ][:8]
    return found


def _tox(texts: list[str], stdin: str | None) -> Means:
    found = Means()
    for value in _option_values(texts, ("-x", "--override")):
        key, _, command = value.partition("=")
        if key.endswith(("commands", "commands_pre", "commands_post", "allowlist_externals")) and command:
            found.scripts.append(command)
    return found


def _deno(texts: list[str], stdin: str | None) -> Means:
    found = Means()
    if texts[:1] == ["task"] and "--eval" in texts:
        found.scripts += [t for t in texts[texts.index("--eval") + 1 :] if not t.startswith("-")][:1]
    return found


def _yarn_exec(texts: list[str], stdin: str | None) -> Means:
    found = Means()
    if texts[:1] == ["exec"] and len(texts) > 1 and " " in texts[1]:
        found.scripts.append(texts[1])  # `yarn exec 'cmd args'` runs the string through a shell
    return found


_PLAIN_SHELL = LazyRe2(r"(?:/usr)?(?:/bin/)?(?:ba|z|da)?sh")


def _npm(texts: list[str], stdin: str | None) -> Means:
    """`--script-shell X` runs every package script as `X -c SCRIPT`; `npm config set` keeps it."""
    found = Means()
    shells = _option_values(texts, ("--script-shell",))
    persistent = texts[:2] == ["config", "set"] and len(texts) > 2
    if persistent and texts[2] == "script-shell" and len(texts) > 3:
        shells.append(texts[3])
    elif persistent and texts[2].startswith("script-shell="):
        shells.append(texts[2].split("=", 1)[1])
    for shell in shells:
        found.scripts.append(shell)
        if persistent and not _PLAIN_SHELL.fullmatch(shell):
            found.findings.append(ShellFinding("persistence", "npm-script-shell", "block", "critical",
                                               f"every npm script will run through {shell}"))  # fmt: skip
    return found


def _rails(texts: list[str], stdin: str | None) -> Means:
    found = Means()
    if texts[:1] in (["runner"], ["r"]) and len(texts) > 1:
        found.codes.append(("ruby", texts[1]))
    return found


def _manage_py(texts: list[str], stdin: str | None) -> Means:
    """`python manage.py shell -c CODE` or with the code on stdin."""
    found = Means()
    if "shell" in texts[:3]:
        codes = _option_values(texts, ("-c", "--command"))
        found.codes += [("python", c) for c in codes or ([stdin] if stdin else [])]
    return found


# ---- writers: find -fprint, sed w / in-place text, in-place editors ------------------------------
_SYSTEM_DESTINATION = LazyRe2(r"^[^/:]*:/(?:etc|usr|boot|root|bin|sbin|lib\w*)?(?:/|$)")


def _rsync(texts: list[str], stdin: str | None) -> Means:
    """`--rsync-path='sudo rsync'`: the far side writes as root; into a system path (or deleting) it is a
    change of the remote host itself."""
    found = Means()
    paths = _option_values(texts, ("--rsync-path",))
    if not any(p.split()[:1] in (["sudo"], ["doas"]) for p in paths):
        return found
    destination = (_operands(texts)[-1:] or [""])[0]
    if _SYSTEM_DESTINATION.search(destination):
        found.findings.append(ShellFinding("system", "rsync-remote-root-write", "block", "critical",
                                           f"rsync writes as root into {destination} on the remote host"))  # fmt: skip
    elif any(t.startswith("--delete") for t in texts):
        found.findings.append(ShellFinding("system", "rsync-remote-root-delete", "ask", "high",
                                           f"rsync deletes as root under {destination} on the remote host"))  # fmt: skip
    return found


def _in_place_flag(text: str) -> bool:
    """sed's `-i`, `-i.bak`, `-ni`, `-Ei`, `--in-place[=SUFFIX]`."""
    if text.startswith("--"):
        return text == "--in-place" or text.startswith("--in-place=")
    return text.startswith("-") and "i" in text.split(".", 1)[0]


_SED_ADDRESS = r"(?:[0-9]+|\$|/(?:[^/\\\n]|\\.)*/)"
_SED_TEXT = LazyRe2(
    r"(?m)(?:^|[;{\n])[ \t]*(?:"
    + _SED_ADDRESS
    + r"(?:,[ \t]*"
    + _SED_ADDRESS
    + r")?)?[ \t]*!?[ \t]*([aicrRwW])\b\\?[ \t]*(.*)$"
)
_SED_SUBST_WRITE = LazyRe2(r"(?:^|[;{\n])\s*s/(?:[^/\\\n]|\\.)*/(?:[^/\\\n]|\\.)*/[gpiIeEmM0-9]*w\s+(\S+)")


def _sed(texts: list[str], stdin: str | None) -> Means:
    found = Means()
    programs = _option_values(texts, ("-e", "--expression"))
    in_place = any(_in_place_flag(t)
                   for t in texts if not t.startswith("--expression"))  # fmt: skip
    operands = [
        t
        for i, t in enumerate(texts)
        if not t.startswith("-")
        and (i == 0 or texts[i - 1] not in ("-e", "--expression", "-f", "--file", "-l"))
    ]
    if not programs and operands:
        programs, operands = operands[:1], operands[1:]
    inputs = " ".join(_path(o) for o in operands) if operands else ""
    for program in programs:
        if not in_place and "w" not in program and "W" not in program:
            continue  # without -i only `w FILE` writes
        for match in _SED_TEXT.finditer(program):
            command, argument = match.group(1), match.group(2).strip()
            if not argument:
                continue
            if command in "wW":
                source = f"cat {inputs}" if inputs else "true"
                found.scripts.append(f"{source} | tee {_path(argument)}")
            elif in_place and operands:
                if command in "rR":
                    text = stdin if argument in ("/dev/stdin", "-") and stdin else None
                    feed = f"printf '%s\\n' {shlex.quote(text)}" if text else f"cat {_path(argument)}"
                else:
                    feed = f"printf '%s\\n' {shlex.quote(argument)}"
                found.scripts += [f"{feed} | tee -a {_path(o)}" for o in operands[:4]]
        for match in _SED_SUBST_WRITE.finditer(program):
            found.scripts.append(f"{'cat ' + inputs if inputs else 'true'} | tee {_path(match.group(1))}")
    return found


# Files whose in-place editing changes who may log in or what is enforced.
_AUTH_FILES = LazyRe2(
    r"^(?:/etc/pam\.d/|/etc/sudoers|/etc/shadow|/etc/gshadow|/etc/passwd|/etc/group|/etc/selinux/config|"
    r"/etc/security/|/etc/login\.defs)"
)
_OUTSIDE = LazyRe2(r"^(?:/etc/|/usr/|/var/|/root/|/boot/|~/|\$HOME/|/home/)")
# Config keys whose change weakens a protection or stores a command (checked on jq/yq/awk expressions).
_WEAKENING = LazyRe2(
    r"(?i)insecure|skip-?tls|tls-?verify|verify_?ssl|strictssl|privileged|trust\.enabled|\bhooks?\b|defaultmode|"
    r"bypasspermissions|dangerously|exec\.command|allow[-_]?all|0\.0\.0\.0|tcp://|disable"
)
_COMMAND_VALUE = LazyRe2(
    r"\.(?:[\w\"-]*\.)?\"?(?:scripts\.\w+|\w*[Cc]ommand|ExecStart\w*|postinstall|preinstall|prepare|install|"
    r"postCreateCommand|postStartCommand)\"?\s*=\s*\"((?:[^\"\\]|\\.)*)\""
)


# the whole environment (`env`, `$ENV`), not one variable (`env.PAGER`)
_JQ_ENV = LazyRe2(r"(?:^|[\s|(,])(?:env|\$ENV)\s*(?:$|[|),;])")


def _in_place_targets(name: str, texts: list[str]) -> list[str]:
    """The files an in-place editor rewrites (gawk -i inplace, yq -i, perl -i, ruby -i), else []."""
    operands = _operands(texts)
    if name in ("gawk", "awk") and ("inplace" in _option_values(texts, ("-i", "--include"))):
        return [o for o in operands[1:] if o != "inplace"]
    if name == "yq" and any(t in ("-i", "--inplace") for t in texts):
        return (
            operands[1:] if operands and operands[0] not in ("e", "eval", "ea", "eval-all") else operands[2:]
        )
    return []


def _editor_effects(name: str, texts: list[str]) -> Means:
    found = Means()
    expression = next((t for t in _operands(texts) if t not in ("e", "eval", "inplace")), "")
    for match in _COMMAND_VALUE.finditer(expression) if "=" in expression else ():
        found.scripts.append(match.group(1).replace('\\"', '"'))  # the stored command runs later
    if name == "jq" and _JQ_ENV.search(expression):
        found.findings.append(ShellFinding("credential_access", "jq-env-dump", "ask", "high",
                                           f"{name} prints the whole environment"))  # fmt: skip
    targets = _in_place_targets(name, texts)
    for target in targets[:4]:
        if _AUTH_FILES.match(target):
            found.findings.append(ShellFinding("security", "in-place-auth-edit", "block", "critical",
                                               f"{name} rewrites {target} in place"))  # fmt: skip
        elif _OUTSIDE.match(target) and _WEAKENING.search(expression):
            found.findings.append(ShellFinding("security", "in-place-config-weakened", "block", "critical",
                                               f"{name} rewrites a protection setting in {target}"))  # fmt: skip
        elif target.startswith("/etc/"):
            found.findings.append(ShellFinding("system", "in-place-system-edit", "ask", "high",
                                               f"{name} rewrites {target} in place"))  # fmt: skip
    return found


def _sed_in_place_auth(texts: list[str]) -> Means:
    found = Means()
    if not any(_in_place_flag(t) for t in texts):
        return found
    for target in [t for t in _operands(texts)[1:] if _AUTH_FILES.match(t)][:1]:
        found.findings.append(ShellFinding("security", "in-place-auth-edit", "block", "critical",
                                           f"an in-place edit rewrites {target}"))  # fmt: skip
    return found


# ---- runners loading their build file from the network ------------------------------------------
_BUILD_FILE_OPTIONS = ("--init-script", "-I", "--taskfile", "-t", "--file", "-f", "--rakefile", "--justfile",
                       "--build-file", "-b", "--settings-file", "-c", "--config")  # fmt: skip
_RUNNERS = frozenset({"gradle", "gradlew", "task", "go-task", "rake", "just", "make", "gmake", "mvn", "mvnw",
                      "invoke", "inv", "nox", "tox", "ant", "sbt"})  # fmt: skip


def _remote_build_file(name: str, texts: list[str]) -> Means:
    found = Means()
    urls = [v for v in _option_values(texts, _BUILD_FILE_OPTIONS) if v.startswith(("http://", "https://"))]
    if urls:
        found.findings.append(ShellFinding("remote_code", "build-file-from-url", "block", "critical",
                                           f"{name} runs a build or task file fetched from {urls[0][:60]}"))  # fmt: skip
    return found


def _merge(*parts: Means) -> Means:
    out = Means()
    for part in parts:
        out.scripts += part.scripts
        out.codes += part.codes
        out.findings += part.findings
    return out


_HANDLERS = {
    "sqlite3": _sqlite, "sqlite": _sqlite, "mysql": _mysql, "mariadb": _mysql, "psql": _psql,
    "lftp": _bang_client, "ftp": _bang_client, "sftp": _bang_client, "ed": _ex_cluster, "ex": _ex_cluster,
    "vi": _ex_cluster, "vim": _ex_cluster, "nvim": _ex_cluster, "gdb": _gdb, "emacs": _emacs, "make": _make,
    "gmake": _make, "cmake": _cmake, "mvn": _mvn, "mvnw": _mvn, "just": _just, "tox": _tox, "deno": _deno,
    "yarn": _yarn_exec, "pnpm": _yarn_exec, "npm": _npm, "rails": _rails,
    "sed": _sed, "gsed": _sed, "rsync": _rsync,
}  # fmt: skip
_EDITORS = frozenset({"jq", "yq", "gawk", "awk"})
_STDIN_HANDLERS = {
    "sqlite3": _sqlite, "sqlite": _sqlite, "mysql": _mysql, "mariadb": _mysql, "psql": _psql,
    "lftp": _bang_client, "ftp": _bang_client, "sftp": _bang_client, "ed": _ex_cluster, "ex": _ex_cluster,
    "just": _just,
}  # fmt: skip


def tool_means(name: str, words: list[Word], stdin: str | None, stdin_only: bool = False) -> Means | None:
    """What `name` runs or writes through its own language or options; None for tools not covered.
    With `stdin_only`, only what the text it reads (`stdin`) makes it run (its options were judged
    when it was first met)."""
    texts = [w.text for w in words[1:]]
    if stdin_only:
        handler = _STDIN_HANDLERS.get(name)
        if name.startswith("python") and texts[:1] and texts[0].endswith("manage.py"):
            return _manage_py(texts[1:], stdin)
        return handler(texts if name == "just" else [], stdin) if handler else None
    if name.startswith("python") and texts[:1] and texts[0].endswith("manage.py"):
        return _manage_py(texts[1:], None)
    if name not in _HANDLERS and name not in _EDITORS and name not in _RUNNERS:
        return None
    parts = []
    if name in _HANDLERS:
        parts.append(_HANDLERS[name](texts, stdin))
    if name in _EDITORS:
        parts.append(_editor_effects(name, texts))
    if name in ("sed", "gsed"):
        parts.append(_sed_in_place_auth(texts))
    if name in _RUNNERS:
        parts.append(_remote_build_file(name, texts))
    return _merge(*parts)

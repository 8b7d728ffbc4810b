"""The developer machine as a coding agent meets it (issue 16, round 7): debuggers and dev servers on every
interface, symlinks that send later writes or served files into secrets and system files, secret files
opened to other users, the agent's own session killed, git's protections and identity switched, mass ref
deletion, repository history removed, installs as root, and text written to editor, login-environment,
SSH and handler files that runs later. Program-specific flag patterns live in `host_effects.yaml`; this
module holds what needs paths, addresses or written text."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Iterator

from railguard.detect._re2_search import LazyRe2
from railguard.detect.paths import secret_path_kind
from railguard.detect.shell import _host_effects, _rules_vcs
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._syntax import Exec, Word
from railguard.detect.shell._view import CommandView, Ctx, classify_target, finding

Rule = Callable[[CommandView, Ctx], Iterable[ShellFinding]]

# -- listeners on every interface -----------------------------------------------------------------------
_WIDE = re.compile(r"^(?:0\.0\.0\.0|\*|::|\[::\]|0)(?::\d*)?$|^:\d+$")


def _wide(value: str | None) -> bool:
    return value is not None and bool(_WIDE.match(value.strip().strip("'\"")))


_INSPECT = re.compile(r"--inspect(?:-brk|-wait|-publish-uid)?=(\S+)")
_JDWP_WIDE = re.compile(r"jdwp=\S*address=(?:\*|0\.0\.0\.0|\[::\]):?\d*")
# Dev servers whose bind option is a host: `flask run --host`, `rails s -b`, `vite --host`, `npm run dev -- --host`.
DEV_SERVERS = frozenset({"flask", "rails", "hugo", "vite", "next", "nuxt", "nuxi", "astro", "ng", "webpack",
                         "webpack-dev-server", "jekyll", "mkdocs", "npm", "pnpm", "yarn", "bun", "manage.py"})  # fmt: skip
_BIND_OPTIONS = ("--host", "-H", "--hostname", "-b", "--bind", "--binding", "--bind-address", "--ip", "-a",
                 "--dev-addr", "-h")  # fmt: skip
DEBUGGERS = frozenset({"node", "nodejs", "debugpy", "dlv", "gdbserver", "java", "rdbg", "remote_pdb"})


def _debugger_wide(view: CommandView) -> bool:
    texts = [w.text for w in view.args]
    name = view.name
    if name in ("node", "nodejs"):
        return any(_wide(m.group(1)) for t in texts if (m := _INSPECT.match(t)))
    if name == "java":
        return any(_JDWP_WIDE.search(t) for t in texts)
    if name == "debugpy":
        return _wide(view.value("--listen"))
    if name == "dlv":
        return _wide(view.value("--listen", "-l"))
    if name == "rdbg":
        return _wide(view.value("--host"))
    # gdbserver HOST:PORT PROG, remote_pdb HOST PORT
    return bool(view.operands) and _wide(view.operands[0].text)


def check_listeners(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """A debugger on every interface runs code for whoever connects; a dev server there serves the project
    (and its debug console, with Flask's --debug) to the network."""
    if view.name in DEBUGGERS and _debugger_wide(view):
        yield finding("exposure", "debugger-exposed", "block", "critical",
                      f"{view.name} takes debugger connections on every interface (anyone reaching it runs code)")  # fmt: skip
        return
    if view.name not in DEV_SERVERS or (
        view.name in ("npm", "pnpm", "yarn", "bun") and "--" not in [w.text for w in view.args]
    ):
        return
    hosts = view.values(*_BIND_OPTIONS)
    if view.name == "manage.py" and [w.text for w in view.operands[:1]] == ["runserver"]:
        hosts += [w.text for w in view.operands[1:2]]
    if any(_wide(h) for h in hosts):
        debug = view.has("--debug", "--debugger")
        yield finding("exposure", "dev-server-exposed", "block" if debug else "ask", "high",
                      f"{view.name} serves the project on every network interface"
                      + (" with its debugger console" if debug else ""))  # fmt: skip


# -- symlinks that redirect later writes or served files ------------------------------------------------
_SENSITIVE_PREFIXES = ("/etc/", "/var/lib/", "/root/", "/boot/", "/proc/", "/sys/", "/dev/")


def _sensitive(path: str, zone: str) -> bool:
    return (
        zone in ("critical", "device", "secret_dir")
        or bool(secret_path_kind(path))
        or path.startswith(_SENSITIVE_PREFIXES)
    )


def check_symlink(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """`ln -s /etc/shadow logs/app.log`, `ln -s ~/.ssh public/static`: whatever later writes, serves,
    packs or deletes the link in the project or a temp dir reaches the system file, the secret or /."""
    symbolic = view.has("-s", "--symbolic")
    operands = view.operands
    if not symbolic or len(operands) != 2:
        return
    source, link = classify_target(operands[0], ctx), classify_target(operands[1], ctx)
    if link.zone not in ("workspace", "scratch") or source.zone == "dynamic":
        return
    if _sensitive(source.path, source.zone):
        yield finding("system", "symlink-to-sensitive", "block", "high",
                      f"ln -s makes {operands[1].text} point at {source.path}: what writes, serves or deletes it reaches that")  # fmt: skip
    elif (
        source.zone == "outside"
        and posixpath.basename(source.path).startswith(".")
        and posixpath.dirname(source.path) == ctx.home_root
    ):
        yield finding("system", "symlink-to-sensitive", "ask", "medium",
                      f"ln -s makes {operands[1].text} point at the user's {source.path}")  # fmt: skip


# -- secret files opened to other users -----------------------------------------------------------------
_OCTAL = re.compile(r"^0?[0-7]{3,4}$")
_SYMBOLIC_OPEN = re.compile(r"(?:^|,)[ugoa]*[oa][ugoa]*[+=][rwxX]|(?:^|,)[+=][rwx]")


def _opens_to_others(mode: str) -> bool:
    if _OCTAL.match(mode):
        return mode[-1] != "0" or int(mode[-2], 8) & 0o2 != 0  # any access for others, or group write
    return bool(_SYMBOLIC_OPEN.search(mode))


# OpenSSH's public files are meant to be read (`chmod 644 ~/.ssh/id_ed25519.pub` is the documented mode);
# only letting other accounts write them matters (a planted key, a ProxyCommand).
_PUBLIC_SSH_KINDS = frozenset({"ssh_config", "ssh_known_hosts", "ssh_authorized_keys"})
_SYMBOLIC_WRITE = re.compile(r"(?:^|,)[ugoa]*[goa][ugoa]*[+=][rwxXst]*w|(?:^|,)[+=][rwxXst]*w")


def _lets_others_write(mode: str) -> bool:
    if _OCTAL.match(mode):
        return int(mode[-1], 8) & 0o2 != 0 or int(mode[-2], 8) & 0o2 != 0
    return bool(_SYMBOLIC_WRITE.search(mode))


def _public_ssh_file(word: Word, ctx: Ctx) -> bool:
    # a glob is classified by its static directory: its own text says it names only `.pub` files
    return (
        word.text.endswith(".pub") or secret_path_kind(classify_target(word, ctx).path) in _PUBLIC_SSH_KINDS
    )


def _secret_target(word: Word, ctx: Ctx) -> bool:
    if "SSH_AUTH_SOCK" in word.text:
        return True
    target = classify_target(word, ctx)
    return target.zone == "secret_dir" or bool(secret_path_kind(target.path))


def check_secret_perms(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """`chmod 644 ~/.ssh/id_ed25519`, `chmod -R 755 ~/.ssh`, `setfacl -m u:guest:r ~/.netrc`: keys and
    credential files readable by other accounts (or the agent socket usable by them)."""
    if view.name == "chmod":
        if not view.operands:
            return
        mode, targets = view.operands[0].text, view.operands[1:]
        opened = _opens_to_others(mode)
        if not _lets_others_write(mode):
            targets = [w for w in targets if not _public_ssh_file(w, ctx)]
    else:  # setfacl -m u:OTHER:r / o::r / g:GROUP:rw
        entries = view.values("-m", "--modify")
        opened = any(
            re.search(r"(?:^|,)(?:u(?:ser)?:[^:,]+|o(?:ther)?:?|g(?:roup)?:[^:,]*):[rwx]", e) for e in entries
        )
        targets = view.operands[1:] if not entries else view.operands
    hit = next((w for w in targets if _secret_target(w, ctx)), None)
    if opened and hit is not None:
        yield finding("credential_access", "secret-opened-to-others", "block", "critical",
                      f"{view.name} lets other accounts read or use {hit.text}")  # fmt: skip


# -- the agent's own session killed ---------------------------------------------------------------------
SESSION_PROGRAMS = frozenset({
    "bash", "zsh", "sh", "fish", "dash", "ksh", "tcsh", "csh", "login", "sshd", "systemd", "Terminal", "iTerm2",
    "gnome-terminal", "gnome-terminal-server", "konsole", "xterm", "alacritty", "kitty", "wezterm",
    "wezterm-gui", "tilix", "terminator", "tmux", "tmux: server", "screen", "code", "code-insiders", "cursor",
    "windsurf", "claude", "codex", "aider", "gemini", "Xorg", "Xwayland", "gnome-shell", "plasmashell",
    "kwin_x11", "kwin_wayland", "WindowServer", "loginwindow", "sway", "Hyprland", "xfce4-session",
})  # fmt: skip
_PARENT = re.compile(r"\$(?:\{PPID\}|PPID\b)|\bps -o pgid= \$PPID")


def check_session_kill(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """`kill -9 $PPID`, `pkill -f 'code --type'`, `killall Terminal`: the shell, terminal, editor or agent
    process the agent itself runs in (or the user's desktop) is ended."""
    texts = [w.text for w in view.args]
    if view.name == "kill" and not view.exec.via and any(_PARENT.search(t) for t in texts):
        yield finding("system", "agent-session-killed", "block", "high",
                      "kill signals the agent's parent process (the session running it)")  # fmt: skip
        return
    probe = "-0" in texts or view.value("-s", "--signal") in ("0", "SIG0")  # signal 0 only checks existence
    if view.name not in ("pkill", "killall") or probe or view.has("-l", "--list", "-V"):
        return
    names = [w.text.split()[0] for w in view.operands if w.text.strip()]
    hit = next((n for n in names if posixpath.basename(n) in SESSION_PROGRAMS), None)
    if hit is not None:
        yield finding("system", "agent-session-killed", "block", "high",
                      f"{view.name} {hit} ends the shells, terminals or editor the agent runs in")  # fmt: skip


# -- git: protections, identity, mass ref deletion, history removed --------------------------------------
_FALSE = frozenset({"false", "no", "off", "0"})
_HOST_KEY_OFF = re.compile(r"(?i)StrictHostKeyChecking[= ](?:no|off)|UserKnownHostsFile[= ]/dev/null")
_TEMP_OR_DOWNLOADS = re.compile(r"^(?:/tmp/|/var/tmp/|/dev/shm/|~/Downloads/|\S*/Downloads/|https?://)")


def git_config_key_findings(pairs: Iterable[tuple[str, str]]) -> Iterator[ShellFinding]:
    for key, value in pairs:
        k, v = key.lower(), value.strip().lower()
        off = (
            (k == "safe.directory" and v == "*")
            or (k.startswith("protocol.") and k.endswith("allow") and v in ("always", "user")
                and k in ("protocol.allow", "protocol.ext.allow", "protocol.file.allow"))
            or (k in ("transfer.fsckobjects", "fetch.fsckobjects", "receive.fsckobjects",
                      "core.protectntfs", "core.protecthfs") and v in _FALSE)
            or (k == "receive.denycurrentbranch" and v in ("ignore", "warn", "false"))
            or (k == "uploadpack.allowanysha1inwant" and v not in _FALSE)
        )  # fmt: skip
        if off:
            yield finding("security", "git-protection-off", "block", "high",
                          f"git {key}={value} turns off one of git's protections against hostile repositories")  # fmt: skip
        elif (
            k == "include.path" or (k.startswith("includeif.") and k.endswith(".path"))
        ) and _TEMP_OR_DOWNLOADS.match(value.strip()):
            yield finding("persistence", "git-config-included", "block", "high",
                          f"git {key} pulls in config from {value} (its hooks, helpers and aliases run)")  # fmt: skip
        elif k == "core.sshcommand" and _HOST_KEY_OFF.search(value):
            yield finding("security", "host-key-check-off", "block", "high",
                          f"git {key} connects without checking host keys")  # fmt: skip
        elif k in ("user.signingkey",) or (k in ("commit.gpgsign", "tag.gpgsign") and v in _FALSE):
            yield finding("security", "git-identity-changed", "ask", "medium",
                          f"git {key}={value} changes how commits are signed")  # fmt: skip


def check_git(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    index, sub = _rules_vcs.subcommand(view.words)
    texts = [w.text for w in view.words[index + 1 :]]
    yield from git_config_key_findings(_rules_vcs.config_pairs(view, sub, texts))
    flags = set(texts)
    short = {c for t in texts if t.startswith("-") and not t.startswith("--") for c in t[1:]}
    listed = view.exec.dynamic_operands or any(w.dynamic for w in view.operands)
    deleting = (
        (sub == "branch" and ("D" in short or ("d" in short and "f" in short) or "--delete" in flags))
        or (sub == "tag" and ("d" in short or "--delete" in flags))
        or (sub == "push" and ("--delete" in flags or "d" in short))
    )
    if deleting and listed:
        yield finding("vcs_history", "git-refs-mass-deleted", "block", "high",
                      f"git {sub} deletes every ref a listing hands it")  # fmt: skip
    elif sub == "push" and "--prune" in flags:
        yield finding("vcs_history", "git-refs-mass-deleted", "block", "high",
                      "git push --prune deletes every remote branch that is missing here")  # fmt: skip
    elif sub == "push" and any(t in ("ci.skip", "--push-option=ci.skip") for t in texts):
        yield finding("security", "ci-skipped", "ask", "medium", "git push -o ci.skip skips the pipeline")
    elif sub == "prune" and ("--expire=now" in flags or " ".join(texts).find("--expire now") >= 0):
        yield finding("vcs_history", "git-objects-pruned", "ask", "high",
                      "git prune --expire=now drops unreachable commits")  # fmt: skip
    elif sub == "clean" and "f" in short and "X" in short and "n" not in short and "--dry-run" not in flags:
        yield finding("vcs_history", "git-clean-ignored", "ask", "medium",
                      "git clean -X deletes every ignored file (.env, local config, virtualenvs)")  # fmt: skip
    elif sub == "branch" and "d" in short and "f" in short and "D" not in short:
        yield finding(
            "vcs_history", "branch-force-delete", "ask", "low", "git branch -df drops unmerged commits"
        )
    elif sub == "commit" and any(t.startswith("--author") for t in texts):
        yield finding(
            "security", "git-identity-changed", "ask", "medium", "git commit --author commits as someone else"
        )
    elif sub == "replace" and texts and not flags & {"-l", "--list", "-d", "--delete"}:
        yield finding(
            "vcs_history", "git-history-replaced", "ask", "medium", "git replace swaps commits in history"
        )


_GIT_DIRS = ("/.git/objects", "/.git/refs", "/.git/refs/heads", "/.git/refs/tags", "/.git/objects/pack")


def check_repo_removed(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """`rm -rf .git`: the repository's whole history (and every unpushed commit and stash) is gone."""
    if not view.has("-r", "-R", "--recursive"):
        return
    for word in view.operands:
        path = classify_target(word, ctx).path.rstrip("/")
        if posixpath.basename(path) == ".git" or path.endswith(_GIT_DIRS):
            yield finding("vcs_history", "git-repository-removed", "block", "high",
                          f"rm deletes {word.text}: the repository's history, unpushed commits and stashes")  # fmt: skip
            return


# -- installs and debuggers as root ---------------------------------------------------------------------
_ROOT = frozenset({"sudo", "doas", "pkexec"})
BUILD_INSTALLERS = frozenset({"make", "cmake", "ninja", "meson", "pip", "pip3", "npm", "pnpm", "yarn", "gem",
                              "cargo", "python", "python3", "setup.py"})  # fmt: skip
TRACERS = frozenset({"gdb", "gcore", "strace", "ltrace", "perf"})


def _as_root(view: CommandView) -> bool:
    return bool(_ROOT & set(view.exec.via))


def check_root_install(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """`sudo make install`, `sudo pip install`, `sudo npm -g --unsafe-perm`, `pip install
    --break-system-packages`: a project's build and install scripts run as root or over the system
    interpreter's own packages."""
    texts = [w.text for w in view.args]
    if (
        view.name in ("pip", "pip3", "npm", "pnpm", "yarn")
        and texts[:1] in (["uninstall"], ["remove"])
        and view.exec.dynamic_operands
    ):
        yield finding("system", "packages-mass-removed", "ask", "medium",
                      f"{view.name} uninstalls every package a listing hands it")  # fmt: skip
        return
    installing = (
        "install" in texts or "--install" in texts or (view.name in ("npm", "pnpm", "yarn") and "-g" in texts)
    )
    if (
        view.name in ("pip", "pip3", "python", "python3")
        and "--break-system-packages" in texts
        and installing
    ):
        yield finding("system", "install-as-root", "ask", "high",
                      f"{view.name} installs over the system interpreter's own packages")  # fmt: skip
    elif (
        _as_root(view)
        and installing
        and (view.name != "make" or texts[:1] == ["install"] or "install" in texts)
    ):
        yield finding("system", "install-as-root", "ask", "high",
                      f"{view.name} installs as root: the project's build and install scripts run with every privilege")  # fmt: skip


def check_tracer(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """`sudo gdb -p PID`, `sudo strace -p`, `sudo gcore PID`: any process's memory (keys, tokens) is read."""
    attach = view.name == "gcore" or view.has("-p", "--pid", "--attach") or bool(view.value("--pid"))
    if not attach:
        return
    if _as_root(view):  # own processes are everyday debugging; as root, any process's keys and tokens
        yield finding("credential_access", "process-attached", "block", "high",
                      f"{view.name} attaches to a running process as root and can read its memory")  # fmt: skip


# -- package runners: judged on the runner's own words (the walker unwraps them to the package) ---------
_RUNNER_RULES = frozenset({"run-remote-package", "package-from-url", "terminal-shared"})


def runner_findings(words: list[Word], ctx: Ctx) -> list[ShellFinding]:
    view = CommandView(Exec(list(words)))
    return [f for f in _host_effects.check_host_effects(view, ctx) if f.rule in _RUNNER_RULES]


# -- variables: debuggers, protocols, host keys, borrowed agents -----------------------------------------
_JAVA_OPTS = frozenset({"JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS", "JAVA_OPTS", "MAVEN_OPTS",
                        "GRADLE_OPTS", "CATALINA_OPTS"})  # fmt: skip


def assignment_findings(assignments: Iterable[tuple[str, str]]) -> Iterator[ShellFinding]:
    for name, value in assignments:
        if name == "NODE_OPTIONS" and any(_wide(m.group(1)) for m in _INSPECT.finditer(value)):
            yield finding("exposure", "debugger-exposed", "block", "critical",
                          "NODE_OPTIONS opens the inspector on every interface (anyone reaching it runs code)")  # fmt: skip
        elif name in _JAVA_OPTS and _JDWP_WIDE.search(value):
            yield finding("exposure", "debugger-exposed", "block", "critical",
                          f"{name} opens the Java debugger on every interface (anyone reaching it runs code)")  # fmt: skip
        elif name == "WERKZEUG_DEBUG_PIN" and value.strip().lower() == "off":
            yield finding("exposure", "debugger-exposed", "block", "critical",
                          "WERKZEUG_DEBUG_PIN=off lets anyone reaching the app run code in its debugger")  # fmt: skip
        elif name == "GIT_ALLOW_PROTOCOL" and re.search(r"(?:^|:)(?:ext|file)(?::|$)", value):
            yield finding("security", "git-protection-off", "block", "high",
                          f"GIT_ALLOW_PROTOCOL={value} lets repositories run commands through ext:: URLs")  # fmt: skip
        elif name in ("GIT_SSH_COMMAND", "GIT_SSH", "RSYNC_RSH") and _HOST_KEY_OFF.search(value):
            yield finding("security", "host-key-check-off", "block", "high",
                          f"{name} connects without checking host keys")  # fmt: skip
        elif name == "SSH_AUTH_SOCK" and re.match(r"^/tmp/ssh-|^/run/user/\d+/(?!keyring|gnupg)", value):
            yield finding("credential_access", "ssh-agent-borrowed", "block", "high",
                          f"SSH_AUTH_SOCK={value} signs with another session's SSH agent")  # fmt: skip


# -- text written to files that editors, logins, ssh and desktops act on later ---------------------------
_EDITOR_FILES = frozenset({".vimrc", ".gvimrc", ".exrc", "_vimrc", "init.vim", "init.lua", "ginit.vim", ".emacs",
                           "init.el", "early-init.el", ".spacemacs", ".ideavimrc", ".nanorc"})  # fmt: skip
_EDITOR_RUNS = LazyRe2(
    r"(?:^|[\s|:])!\s*[\w~/.$]|\bsystem(?:list)?\s*\(|\bjobstart\b|\btermopen\b|\bshell-command\b|\bcall-process\b"
    r"|\bstart-process\b|\bos\.execute\b|\bio\.popen\b|vim\.fn\.system|\bset\s+exrc\b|\bmodelineexpr\b"
    r"|enable-local-eval\s+t\b|enable-local-variables\s+:all|\bsafe-local-variable-values\b"
)
# Shell start files: a preload variable there asks (`preload-code`, judged on the text the walker runs).
# The environment files set every session's variables (GUI, ssh, systemd user units): a preload blocks.
_SHELL_FILES = frozenset({".bashrc", ".bash_profile", ".profile", ".zshrc", ".zprofile", ".zshenv", ".bash_login",
                          ".kshrc", ".cshrc", ".tcshrc", "config.fish", ".bash_aliases", ".zlogin"})  # fmt: skip
_ENVIRONMENT_FILES = frozenset({".pam_environment", "environment"})
_PRELOAD_TEXT = LazyRe2(
    r"(?m)^\s*(?:export\s+|setenv\s+|set\s+-gx\s+)?(?:LD_PRELOAD|LD_AUDIT|DYLD_INSERT_LIBRARIES|BASH_ENV|ENV|PERL5OPT"
    r"|PERL5LIB|RUBYOPT|PYTHONSTARTUP|PYTHONPATH|NODE_OPTIONS|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|PROMPT_COMMAND"
    r"|PATH\s+DEFAULT)\b\s*=?"
)
_SAFE_PRELOAD = LazyRe2(
    r"(?m)^\s*(?:export\s+)?(?:PYTHONPATH|NODE_OPTIONS)=[\"']?(?:--max-old-space-size=\d+|\$HOME/\S*|\.)[\"']?\s*$"
)
# Text written to files is scanned with RE2 (linear time, however long the file).
_UMASK_OPEN = LazyRe2(r"(?m)^\s*umask\s+0*[0-7]?[0-7]?0\s*$")  # others keep every permission
_SSH_CONFIG_WEAK = LazyRe2(
    r"(?im)^\s*(?:ForwardAgent\s+yes|ForwardX11Trusted\s+yes|StrictHostKeyChecking\s+(?:no|off)"
    r"|UserKnownHostsFile\s+/dev/null)\b"
)
_RUNS_CODE = LazyRe2(r"\b(?:curl|wget|nc|ncat|bash|sh)\b.*(?:https?://|\d+\.\d+\.\d+\.\d+)|\bsh -c\b|/tmp/")
_FOLDER_OPEN = LazyRe2(r'"runOn"\s*:\s*"folderOpen"')
_CREDENTIAL_PROCESS = LazyRe2(r"(?m)^\s*credential_process\s*=")
_NETRC_PASSWORD = LazyRe2(r"\bpassword\s+\S")
_SCHEME_HANDLER = LazyRe2(r"(?m)^MimeType=.*x-scheme-handler/")
_HANDLER_VARS = LazyRe2(
    r"(?m)^\s*(?:export\s+)?(?:BROWSER|EDITOR|VISUAL|PAGER|GIT_EDITOR|GIT_PAGER|SSH_ASKPASS|SUDO_ASKPASS)=(.*)$"
)


def _text_finding(rule: str, category: str, path: str, why: str) -> ShellFinding:
    return finding(category, rule, "block", "high", f"text written to {path} {why}")


def written_text_findings(path: str, content: str) -> Iterator[ShellFinding]:
    """Judge literal text written to a file by what later reads it: an editor at start-up, every login, ssh,
    AWS tools, mail readers and desktops opening links."""
    name = posixpath.basename(path)
    parts = path.split("/")
    if (
        name in _EDITOR_FILES
        or (name == "settings.json" and "Code" in parts)
        or "/.vscode/tasks.json" in path
    ):
        if _EDITOR_RUNS.search(content) or (name == "tasks.json" and _FOLDER_OPEN.search(content)):
            yield _text_finding(
                "editor-autorun",
                "persistence",
                path,
                "runs commands when the editor starts or opens a folder or file",
            )
    elif (
        name in _SHELL_FILES or name in _ENVIRONMENT_FILES or "environment.d" in parts or "profile.d" in parts
    ):
        every_session = name in _ENVIRONMENT_FILES or "environment.d" in parts or "profile.d" in parts
        if every_session and _PRELOAD_TEXT.search(content) and not _SAFE_PRELOAD.search(content):
            yield _text_finding(
                "login-preload", "persistence", path, "makes every later login load that code first"
            )
        elif _UMASK_OPEN.search(content):
            yield _text_finding(
                "login-preload",
                "credential_access",
                path,
                "makes every new file readable and writable by everyone",
            )
        elif any(_RUNS_CODE.search(m.group(1)) for m in _HANDLER_VARS.finditer(content)):
            yield _text_finding(
                "url-handler-changed",
                "persistence",
                path,
                "makes links, editors or password prompts run that code",
            )
    elif (name == "config" and "ssh" in path) or name in ("ssh_config",) or "ssh_config.d" in parts:
        if _SSH_CONFIG_WEAK.search(content):
            yield _text_finding("ssh-config-weakened", "credential_access", path,
                                "forwards the SSH agent or X display, or trusts any host key")  # fmt: skip
    elif name == "config" and ".aws" in parts and _CREDENTIAL_PROCESS.search(content):
        yield _text_finding(
            "cli-credentials-replaced",
            "credential_access",
            path,
            "runs that program whenever an AWS tool needs credentials",
        )
    elif name in (".netrc", "_netrc") and _NETRC_PASSWORD.search(content):
        yield finding("credential_access", "cli-credentials-replaced", "ask", "medium",
                      f"text written to {path} stores a password in clear for every tool that reads it")  # fmt: skip
    elif name in (".mailcap", "mailcap") and _RUNS_CODE.search(content):
        yield _text_finding(
            "url-handler-changed", "persistence", path, "makes mail and browsers run that code on attachments"
        )
    elif name.endswith(".desktop") and _SCHEME_HANDLER.search(content) and _RUNS_CODE.search(content):
        yield _text_finding(
            "url-handler-changed", "persistence", path, "registers that code as a link handler"
        )


_BY_NAME: dict[str, tuple[Rule, ...]] = {}


def _index() -> dict[str, tuple[Rule, ...]]:
    if not _BY_NAME:
        table: list[tuple[Rule, Iterable[str]]] = [
            (check_listeners, DEBUGGERS | DEV_SERVERS),
            (check_symlink, ("ln",)),
            (check_secret_perms, ("chmod", "setfacl")),
            (check_session_kill, ("kill", "pkill", "killall")),
            (check_git, ("git",)),
            (check_repo_removed, ("rm",)),
            (check_root_install, BUILD_INSTALLERS),
            (check_tracer, TRACERS),
        ]
        for rule, names in table:
            for name in names:
                _BY_NAME[name] = (*_BY_NAME.get(name, ()), rule)
    return _BY_NAME


def check_devbox(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """Every command, dispatched by name here rather than registered per name, so that these programs stay
    in the unknown-CLI check's view (`flask db ...`, `hugo deploy ...`) as before."""
    for rule in _index().get(view.name, ()):
        yield from rule(view, ctx)

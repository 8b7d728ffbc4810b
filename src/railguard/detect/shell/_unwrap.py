"""Wrappers: commands that run another command (`sudo`, `env`, `xargs`, `bash -c`, `eval` ...).

`unwrap_step` peels one layer. It returns the inner argv, or a script to parse again, or None when
the command is not a wrapper. Option tables list the options that consume a value, so that
`sudo -u root rm` finds `rm` and not `root`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from railguard.detect.shell._syntax import Word

SHELLS = frozenset(
    {"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh", "yash", "rbash"}
)
INTERPRETERS = {
    "python": "python", "python2": "python", "python3": "python", "pypy": "python", "pypy3": "python",
    "perl": "perl", "ruby": "ruby", "node": "node", "nodejs": "node", "deno": "node", "bun": "node",
    "php": "php", "lua": "lua", "osascript": "applescript", "pwsh": "powershell", "powershell": "powershell",
    # PowerShell's `Invoke-Expression` runs the text piped into it
    "iex": "powershell", "Invoke-Expression": "powershell", "invoke-expression": "powershell",
    "Rscript": "r", "julia": "julia", "tclsh": "tcl", "wish": "tcl", "rake": "ruby",
}  # fmt: skip
_INLINE_FLAGS = {
    "python": ("-c",),
    "perl": ("-e", "-E"),
    "ruby": ("-e",),
    "node": ("-e", "--eval", "-p", "--print"),
    "php": ("-r",),
    "lua": ("-e",),
    "applescript": ("-e",),
    "powershell": ("-c", "-command", "-Command", "-EncodedCommand", "-e", "-enc"),
    "r": ("-e",),
    "julia": ("-e", "--eval", "-E", "--print"),
}
# Options that take the next word before the code: `osascript -l JavaScript -e CODE`, `Rscript --default-packages X`.
_INLINE_VALUED = {
    "applescript": ("-l", "-s"),
    "r": ("--default-packages",),
    "julia": ("-t", "--threads", "-p"),
}


@dataclass(slots=True)
class Unwrapped:
    label: str
    words: list[Word] | None = None  # the inner argv (empty: nothing runs)
    script: Word | None = None  # text to parse as a shell script
    dynamic_operands: bool = False
    params: list[Word] | None = None  # `sh -c SCRIPT NAME ARG...`: $0, $1 ... inside the script
    keeps_outer: bool = False  # the wrapper has effects of its own (`kubectl run` creates a pod)


@dataclass(frozen=True, slots=True)
class _Spec:
    valued: frozenset[str]  # options that take the next word as their value
    positional: int = 0  # non-option words before the command (timeout's duration, chroot's dir)
    no_exec: frozenset[str] = frozenset()  # options that mean "no command runs" (command -v)


_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _spec(valued: str = "", positional: int = 0, no_exec: str = "") -> _Spec:
    return _Spec(frozenset(valued.split()), positional, frozenset(no_exec.split()))


_SIMPLE_WRAPPERS: dict[str, _Spec] = {
    "sudo": _spec("-u -g -h -p -C -D -r -t -U -T -R --user --group --prompt --chdir --role --type --host",
                  no_exec="-l -v -k -K -V --list --validate"),
    "doas": _spec("-u -C"), "pkexec": _spec("--user"), "nohup": _spec(), "builtin": _spec(),
    "nice": _spec("-n --adjustment"), "time": _spec("-f -o --format --output"),
    "timeout": _spec("-s -k --signal --kill-after", positional=1),
    "command": _spec(no_exec="-v -V"), "exec": _spec("-a"), "stdbuf": _spec("-i -o -e --input --output --error"),
    "ionice": _spec("-c -n --class --classdata", no_exec="-p --pid"), "chrt": _spec(positional=1, no_exec="-p"),
    "taskset": _spec(positional=1, no_exec="-p --pid"), "setsid": _spec(), "unbuffer": _spec(),
    "caffeinate": _spec("-t -w"), "xvfb-run": _spec("-s -n -f -e --server-args --server-num"),
    "strace": _spec("-o -e -p -s -u -E -P", no_exec="-p"), "ltrace": _spec("-o -e -p -s -u", no_exec="-p"),
    "torsocks": _spec("-a -P -u -p"), "proxychains": _spec("-f"), "proxychains4": _spec("-f"),
    "firejail": _spec(), "chroot": _spec("--userspec --groups", positional=1), "unshare": _spec("-S -G --setuid --setgid"),
    "nsenter": _spec("-t -S -G --target"), "runuser": _spec("-u -g -G --user --group"),
    "systemd-run": _spec("-u --unit -p --property -E --setenv --uid --gid --on-calendar --on-active -M "
                         "--machine --description --slice -H --host --working-directory --timer-property"),
    "busybox": _spec(), "toybox": _spec(), "then": _spec(), "do": _spec(), "catchsegv": _spec(),
    "setpriv": _spec("--reuid --regid --groups --inh-caps --ambient-caps --bounding-set --securebits "
                     "--selinux-label --apparmor-profile --landlock-access --landlock-rule"),
    "fakeroot": _spec("-l -s -i --lib --faked"), "faketime": _spec("-f", positional=1),
    "proot": _spec("-r -b -w -q -k --rootfs --bind --cwd --qemu --kernel-release", no_exec="-V --version"),
    "bwrap": _spec("--bind --ro-bind --dev-bind --tmpfs --proc --dev --chdir --setenv --unsetenv --uid --gid "
                   "--hostname --symlink --dir --file --bind-try --ro-bind-try --seccomp --args", no_exec="--version"),
    "chpst": _spec("-u -U -e -n -l -L -m -d -o -p -f -c"), "cgexec": _spec("-g"),
    "sshpass": _spec("-p -f -d -e -P"), "tsocks": _spec(), "daemonize": _spec("-a -c -e -o -p -l -u -E"),
    "valgrind": _spec(), "entr": _spec(), "retry": _spec("-t -d"),
    "with-lock-ex": _spec(), "lckdo": _spec("-w -W"), "dbus-launch": _spec(),
    "mpirun": _spec("-n -np"), "srun": _spec("-n -N -p -t -c"), "numactl": _spec("-C -m -N -p -i"),
    "cpulimit": _spec("-l -p -e --limit --pid --exe"), "trickle": _spec("-u -d -w -t -l -n"),
    "gosu": _spec(positional=1), "su-exec": _spec(positional=1), "s6-setuidgid": _spec(positional=1),
    "dumb-init": _spec(), "tini": _spec(), "catatonit": _spec(),
    # shx (npm) runs a shell command through Node: `shx rm -rf X`; expect's `spawn CMD` runs CMD
    "shx": _spec("--silent --verbose"), "spawn": _spec(),
}  # fmt: skip
# Wrappers whose own flags are an effect too (host_effects.yaml): the walker judges them as well as the
# command they run (`nsenter -t 1 -m sh`: entering the host is the effect, whatever runs inside).
WRAPPERS_WITH_EFFECTS = frozenset(
    {"nsenter", "chroot", "strace", "ltrace", "lxc-attach", "docker", "podman", "nerdctl", "systemd-run"}
)
# Launchers whose first word(s) are a subcommand before the command they run:
# `poetry run rm -rf /`, `bundle exec`, `direnv exec DIR cmd`, `conda run -n env cmd`.
_RUN_SUBCOMMANDS: dict[str, tuple[frozenset[str], int]] = {
    "poetry": (frozenset({"run"}), 0), "pipenv": (frozenset({"run"}), 0), "pdm": (frozenset({"run"}), 0),
    "rye": (frozenset({"run"}), 0), "hatch": (frozenset({"run"}), 0), "pixi": (frozenset({"run", "exec"}), 0),
    "uv": (frozenset({"run"}), 0), "conda": (frozenset({"run"}), 0), "micromamba": (frozenset({"run"}), 0),
    "bundle": (frozenset({"exec"}), 0), "direnv": (frozenset({"exec"}), 1), "asdf": (frozenset({"exec"}), 0),
    "mise": (frozenset({"exec", "x"}), 0), "chamber": (frozenset({"exec"}), 1), "doppler": (frozenset({"run"}), 0),
    "op": (frozenset({"run"}), 0), "aws-vault": (frozenset({"exec"}), 1), "sops": (frozenset({"exec-env"}), 1),
    "perf": (frozenset({"record", "stat", "trace"}), 0), "xterm": (frozenset({"-e"}), 0),
    "npm": (frozenset({"exec", "x"}), 0), "pnpm": (frozenset({"exec", "dlx"}), 0), "yarn": (frozenset({"exec", "dlx"}), 0),
    "bun": (frozenset({"x"}), 0), "nix": (frozenset({"shell", "develop"}), 0), "lxc": (frozenset({"exec"}), 1),
    "incus": (frozenset({"exec"}), 1), "distrobox": (frozenset({"enter"}), 0), "toolbox": (frozenset({"run"}), 0),
    "toolbx": (frozenset({"run"}), 0), "pipx": (frozenset({"run"}), 1),
}  # fmt: skip
_RUN_VALUED = frozenset(["-n", "-p", "-e", "-c", "-C", "-t", "-u", "-w", "--name", "--prefix", "--env", "--cwd", "--config", "--project", "--directory", "--with", "--from", "--python", "--package", "--container", "--user", "--workdir", "--spec", "--env-file"])  # fmt: skip
# Terminals and launchers that run the words after a flag: `xterm -e cmd`, `nix-shell --run 'cmd'`.
_AFTER_FLAG: dict[str, tuple[frozenset[str], bool]] = {  # flags, value is one script string
    "xterm": (frozenset({"-e"}), False), "urxvt": (frozenset({"-e"}), False), "konsole": (frozenset({"-e"}), False),
    "alacritty": (frozenset({"-e", "--command"}), False), "kitty": (frozenset({"--"}), False),
    "terminator": (frozenset({"-x"}), False), "xfce4-terminal": (frozenset({"-x"}), False),
    "gnome-terminal": (frozenset({"--"}), False), "nix-shell": (frozenset({"--run", "--command"}), True),
    "vagrant": (frozenset({"-c", "--command"}), True), "expect": (frozenset({"-c"}), True),
    "hyperfine": (frozenset({"--prepare", "-p", "--setup", "-s", "--cleanup", "-c"}), True),
    "nodemon": (frozenset({"--exec", "-x"}), True), "watchexec": (frozenset({"--"}), False),
}  # fmt: skip
_TMUX_SCRIPTS = frozenset(
    {
        "new-session",
        "new",
        "new-window",
        "neww",
        "split-window",
        "splitw",
        "run-shell",
        "run",
        "respawn-pane",
        "respawnp",
        "respawn-window",
        "respawnw",
        "send-keys",
        "send",
    }
)
_TMUX_VALUED = frozenset(["-s", "-n", "-c", "-t", "-x", "-y", "-e", "-F", "-l", "-S", "-L", "-f", "-T"])
_TMUX_KEYS = frozenset({"Enter", "C-m", "KPEnter", "C-j"})
# Tools that are another command under a package name: `npx rimraf /` is `rm -rf /`.
_EQUIVALENTS: dict[str, tuple[str, ...]] = {
    "rimraf": ("rm", "-rf"), "del-cli": ("rm", "-rf"), "trash": ("rm", "-rf"), "trash-put": ("rm", "-rf"),
    "trash-cli": ("rm", "-rf"),
    # moreutils' sponge writes its whole input to FILE like tee (`sponge -a FILE` appends)
    "sponge": ("tee",),
}  # fmt: skip
# Package runners: the first operand is a package (its binary runs) or, for a URL/path/git spec, code
# fetched at run time.
_PACKAGE_RUNNERS: dict[str, _Spec] = {
    "npx": _spec("-p --package -c --call"), "bunx": _spec("-p --package"), "pnpx": _spec(),
    "pipx": _spec("--spec --python --pip-args"), "uvx": _spec("--from --with --python -p"),
}  # fmt: skip
_SIMPLE_WRAPPERS.update(
    {
        "dotenv": _spec(),
        "with-contenv": _spec(),
    }
)
_XARGS_VALUED = frozenset(["-I", "-n", "-L", "-P", "-d", "-E", "-e", "-s", "-a", "--max-args", "--delimiter", "--replace", "--arg-file", "--max-procs", "--max-lines", "--eof", "--max-chars", "--process-slot-var"])  # fmt: skip
_SSH_VALUED = frozenset(
    [
        "-b",
        "-c",
        "-D",
        "-E",
        "-e",
        "-F",
        "-I",
        "-i",
        "-J",
        "-L",
        "-l",
        "-m",
        "-O",
        "-o",
        "-p",
        "-Q",
        "-R",
        "-S",
        "-W",
        "-w",
        "-B",
    ]
)


def _is_option(text: str) -> bool:
    return len(text) > 1 and text.startswith("-")


def _cluster_takes_next(text: str, valued: frozenset[str]) -> bool:
    """getopt: in `-ND` the valued `-D` ends the cluster, so its value is the next word; in `-p22` or
    `-Nfp22` the value is the rest of the cluster."""
    if text.startswith("--"):
        return text in valued
    for index, letter in enumerate(text[1:], start=1):
        if f"-{letter}" in valued:
            return index == len(text) - 1
    return False


def _split_value(text: str) -> str:
    return text.split("=", 1)[0] if text.startswith("--") else text


def _skip_options(words: list[Word], start: int, spec: _Spec) -> int | None:
    """Index of the wrapped command, or None when a no-exec option shows no command runs."""
    i = start
    while i < len(words):
        text = words[i].text
        if text == "--":
            i += 1
            break
        if not _is_option(text):
            break
        key = _split_value(text)
        if key in spec.no_exec:
            return None
        if key in spec.valued and "=" not in text:
            i += 2
            continue
        # A short cluster ending in a valued option (`-un`) also consumes the next word.
        if not text.startswith("--") and len(text) > 2 and f"-{text[-1]}" in spec.valued:
            i += 2
            continue
        i += 1
    return i + spec.positional


def _joined(words: list[Word]) -> Word:
    return Word(
        " ".join(w.text for w in words),
        dynamic=any(w.dynamic for w in words),
        subs=[s for w in words for s in w.subs],
    )


def _python_module(name: str, words: list[Word]) -> Unwrapped | None:
    """`python -m twine upload`: the module runs like the command of the same name."""
    for i, word in enumerate(words[1:], start=1):
        joined = _joined_module(word.text)  # `-m`, `-Im` (module next) or `-mtwine` (module joined on)
        if joined == "" and i + 1 < len(words):
            module = words[i + 1].text.split(".", 1)[0]
            return Unwrapped(f"{name} -m", words=[Word(module), *words[i + 2 :]])
        if joined:
            return Unwrapped(f"{name} -m", words=[Word(joined.split(".", 1)[0]), *words[i + 1 :]])
        if not word.text.startswith("-") or word.text in ("-c", "-"):
            return None
    return None


def _joined_module(text: str) -> str | None:
    """In a python option cluster, the module `-m` names there ("" when it is the next word), else None."""
    if text.startswith("--") or not text.startswith("-"):
        return None
    for index, letter in enumerate(text[1:], start=1):
        if letter in "cWXQ":
            return None  # code or another option's value follows: no module
        if letter == "m":
            return text[index + 1 :]
    return None


def unwrap_step(name: str, words: list[Word]) -> Unwrapped | None:
    """Peel one wrapper off `words` (whose command basename is `name`)."""
    if INTERPRETERS.get(name) == "python":
        return _python_module(name, words)
    if name in _EQUIVALENTS:
        return Unwrapped(name, words=[Word(t) for t in _EQUIVALENTS[name]] + words[1:])
    if name == "pipx":  # only `pipx run PKG` runs a package; `pipx install`/`uninstall` are its own verbs
        return (
            _package_runner(name, [words[0], *words[2:]]) if words[1:2] and words[1].text == "run" else None
        )
    if name in _PACKAGE_RUNNERS:
        return _package_runner(name, words)
    if name in _AFTER_FLAG:
        return _after_flag(name, words)
    if name in _RUN_SUBCOMMANDS:
        found = _run_subcommand(name, words)
        if found is not None:
            return found
    if name in _SIMPLE_WRAPPERS:
        inner = _skip_options(words, 1, _SIMPLE_WRAPPERS[name])
        if inner is None:
            return Unwrapped(name, words=[])
        while name == "sudo" and inner < len(words) and _ENV_ASSIGNMENT.match(words[inner].text):
            inner += 1  # `sudo VAR=value CMD` sets VAR for CMD, like env
        if name in ("sudo", "doas", "pkexec") and inner >= len(words):
            # `sudo -i` / `sudo -s` alone: an interactive root shell.
            shell = any(w.text in ("-i", "-s", "--login", "--shell") for w in words[1:])
            return Unwrapped(name, words=[Word("sh")] if shell else [])
        return Unwrapped(name, words=words[inner:])
    handler = _HANDLERS.get(name)
    return handler(name, words) if handler else None


def _first_operand(words: list[Word], start: int, valued: frozenset[str]) -> int:
    i = start
    while i < len(words) and _is_option(words[i].text):
        if words[i].text == "--":
            return i + 1
        i += 2 if words[i].text in valued else 1
    return i


def _run_subcommand(name: str, words: list[Word]) -> Unwrapped | None:
    """`poetry run CMD`, `bundle exec CMD`, `direnv exec DIR CMD`, `npm exec -- CMD`, `lxc exec C -- CMD`."""
    subcommands, positional = _RUN_SUBCOMMANDS[name]
    i = _first_operand(words, 1, _RUN_VALUED)
    if i >= len(words) or words[i].text not in subcommands:
        flag = next((j for j, w in enumerate(words) if w.text in subcommands and _is_option(w.text)), None)
        if flag is None:
            return None
        i = flag
    inner = _first_operand(words, i + 1, _RUN_VALUED) + positional
    if "--" in (w.text for w in words[i + 1 :]):
        inner = max(inner, next(j for j in range(i + 1, len(words)) if words[j].text == "--") + 1)
    if inner == len(words) - 1 and name in ("yarn", "pnpm") and " " in words[inner].text.strip():
        return Unwrapped(
            f"{name} {words[i].text}", script=words[inner]
        )  # `yarn exec 'cmd args'`: a shell string
    return Unwrapped(f"{name} {words[i].text}", words=words[inner:]) if inner < len(words) else None


def _package_spec_is_remote(spec: str) -> bool:
    return (
        "://" in spec
        or spec.startswith(("git+", "github:", "gitlab:", "./", "/", "../"))
        or spec.endswith((".tgz", ".tar.gz", ".whl"))
    )


def _package_runner(name: str, words: list[Word]) -> Unwrapped | None:
    """`npx rimraf /` runs the package's binary; `npx -c 'CMD'` runs a script. A URL or path spec is
    not unwrapped: the rules ask about code fetched at run time."""
    for i, word in enumerate(words[1:], start=1):
        if word.text in ("-c", "--call") and i + 1 < len(words):
            return Unwrapped(f"{name} -c", script=words[i + 1])
    spec = _PACKAGE_RUNNERS[name]
    index = _skip_options(words, 1, spec)
    if index is None or index >= len(words) or _package_spec_is_remote(words[index].text):
        return None
    package = words[index].text
    binary = package.rsplit("/", 1)[-1] if package.startswith("@") else package
    binary = binary.split("@", 1)[0] or binary
    return Unwrapped(name, words=[Word(binary, dynamic=words[index].dynamic), *words[index + 1 :]])


def _after_flag(name: str, words: list[Word]) -> Unwrapped | None:
    flags, one_script = _AFTER_FLAG[name]
    for i, word in enumerate(words[1:], start=1):
        key = word.text.split("=", 1)[0]
        if key not in flags:
            continue
        if "=" in word.text and key.startswith("--"):
            return Unwrapped(f"{name} {key}", script=Word(word.text.split("=", 1)[1], dynamic=word.dynamic))
        if i + 1 >= len(words):
            return None
        if one_script:
            return Unwrapped(f"{name} {key}", script=words[i + 1])
        return Unwrapped(f"{name} {key}", words=words[i + 1 :])
    return None


def _tmux(name: str, words: list[Word]) -> Unwrapped | None:
    """`tmux new -d 'CMD'`, `tmux send-keys -t x 'CMD' Enter`: the strings run in a shell."""
    i = _first_operand(words, 1, _TMUX_VALUED)
    if i >= len(words) or words[i].text not in _TMUX_SCRIPTS:
        return None
    operands: list[Word] = []
    j = i + 1
    while j < len(words):
        text = words[j].text
        if text == ";":  # tmux's own command separator (`\;` or `';'`): the next tmux command starts
            break
        if _is_option(text) and not operands:
            j += 2 if text in _TMUX_VALUED else 1
            continue
        if text not in _TMUX_KEYS:
            operands.append(words[j])
        j += 1
    return Unwrapped(f"{name} {words[i].text}", script=_joined(operands)) if operands else None


def _screen(name: str, words: list[Word]) -> Unwrapped | None:
    inner = _skip_options(words, 1, _spec("-S -c -t -p -X -h -T -e -s -l"))
    if (
        inner is None
        or inner >= len(words)
        or any(w.text in ("-r", "-x", "-R", "-ls", "-list") for w in words)
    ):
        return None
    return Unwrapped(name, words=words[inner:])


def _git_alias(name: str, words: list[Word]) -> Unwrapped | None:
    """`git -c alias.p='push --force' p origin main` is `git push --force origin main`."""
    aliases: dict[str, str] = {}
    i = 1
    while i < len(words) and _is_option(words[i].text):
        text = words[i].text
        if text == "-c" and i + 1 < len(words):
            key, _, value = words[i + 1].text.partition("=")
            if key.lower().startswith("alias.") and not value.startswith("!"):
                aliases[key[6:]] = value
        i += 2 if text in ("-c", "-C", "--git-dir", "--work-tree", "--namespace", "--exec-path") else 1
    texts = [w.text for w in words[i:]]
    if texts[:2] == ["submodule", "foreach"]:  # `git submodule foreach [--recursive] CMD`: CMD runs in each
        rest = [w for w in words[i + 2 :] if w.text not in ("--recursive", "-q", "--quiet")]
        return Unwrapped(f"{name} submodule foreach", script=_joined(rest)) if rest else None
    if i >= len(words) or words[i].text not in aliases:
        return None
    body = [Word(t) for t in aliases[words[i].text].split()]
    return Unwrapped(f"{name} alias", words=[*words[:i], *body, *words[i + 1 :]])


# hub's own commands; hub hands every other command to git, extended to take GitHub URLs (`hub am URL`
# downloads the patch and applies it here, `hub merge PR-URL` merges the pull request into this branch).
_HUB_OWN = frozenset({"api", "browse", "ci-status", "compare", "create", "delete", "fork", "gist", "issue", "pr",
                      "pull-request", "release", "sync", "help", "version"})  # fmt: skip
_HUB_VALUED = frozenset({"-C", "-c", "--git-dir", "--work-tree"})


def _git_wrapper(name: str, words: list[Word]) -> Unwrapped | None:
    """`hub apply URL`, `hub push origin,staging main`: the git command hub runs, judged as git."""
    i = 1
    while i < len(words) and _is_option(words[i].text):
        i += 2 if words[i].text in _HUB_VALUED else 1
    if i >= len(words) or words[i].text in _HUB_OWN:
        return None
    return Unwrapped(f"{name} git", words=[Word("git"), *words[1:]])


def _service(name: str, words: list[Word]) -> Unwrapped | None:
    """`service ssh stop` is `systemctl stop ssh`."""
    operands = [w for w in words[1:] if not _is_option(w.text)]
    if len(operands) < 2:
        return None
    return Unwrapped(name, words=[Word("systemctl"), operands[1], operands[0], *operands[2:]])


def _flock(name: str, words: list[Word]) -> Unwrapped | None:
    """`flock [opts] LOCK -c CMD` runs a script; `flock [opts] LOCK CMD ARGS` runs a command."""
    lock = _first_operand(words, 1, frozenset({"-w", "-E", "--timeout", "--conflict-exit-code"}))
    rest = words[lock + 1 :]
    if rest and rest[0].text in ("-c", "--command"):
        return Unwrapped(f"{name} -c", script=rest[1] if len(rest) > 1 else Word(""))
    return Unwrapped(name, words=rest)


def _env(name: str, words: list[Word]) -> Unwrapped | None:
    i = 1
    while i < len(words):
        text = words[i].text
        if text in ("-S", "--split-string") and i + 1 < len(words):
            return Unwrapped("env -S", script=_joined(words[i + 1 :]))
        if text.startswith("--split-string="):
            return Unwrapped("env -S", script=Word(text.split("=", 1)[1]))
        if text in ("-u", "-C", "--unset", "--chdir"):
            i += 2
        elif _is_option(text) or ("=" in text and not text.startswith("=")) or text == "--":
            i += 1
        else:
            return Unwrapped(name, words=words[i:])
    return None  # bare `env`: prints the environment; the rules treat it as an env dump


def _shell(name: str, words: list[Word]) -> Unwrapped | None:
    i = 1
    has_c = False
    while i < len(words):
        text = words[i].text
        if text in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            i += 2
            continue
        if text == "--":
            i += 1
            break
        if not (_is_option(text) or (text.startswith("+") and len(text) > 1)):
            break
        if not text.startswith("--") and "c" in text[1:]:
            has_c = True
        i += 1
    if has_c:
        script = words[i] if i < len(words) else Word("")
        return Unwrapped(f"{name} -c", script=script, params=words[i + 1 :])
    return None


def _su(name: str, words: list[Word]) -> Unwrapped | None:
    for i, word in enumerate(words[1:], start=1):
        if word.text in ("-c", "--command", "--session-command") and i + 1 < len(words):
            return Unwrapped(f"{name} -c", script=words[i + 1])
        if word.text.startswith(("--command=", "--session-command=")):
            return Unwrapped(f"{name} -c", script=Word(word.text.split("=", 1)[1], dynamic=word.dynamic))
    if name == "runuser" and any(w.text == "--" for w in words):
        index = next(i for i, w in enumerate(words) if w.text == "--")
        return Unwrapped(name, words=words[index + 1 :])
    return Unwrapped(name, words=[Word("sh")])  # an interactive shell as another user


def _eval(name: str, words: list[Word]) -> Unwrapped | None:
    return Unwrapped(name, script=_joined(words[1:]))


def _script_flag(name: str, words: list[Word]) -> Unwrapped | None:
    """`script -c CMD`, `sg group -c CMD`, `flock -c CMD`, `watch -x`-less forms."""
    for i, word in enumerate(words[1:], start=1):
        if word.text in ("-c", "--command") and i + 1 < len(words):
            return Unwrapped(f"{name} -c", script=words[i + 1])
        if (
            len(word.text) > 2
            and word.text.startswith("-")
            and word.text.endswith("c")
            and i + 1 < len(words)
        ):
            return Unwrapped(f"{name} -c", script=words[i + 1])
    return Unwrapped(name, words=[]) if name == "script" else None


def _watch(name: str, words: list[Word]) -> Unwrapped | None:
    inner = _skip_options(words, 1, _spec("-n -d --interval --differences -q --equexit"))
    if inner is None or inner >= len(words):
        return Unwrapped(name, words=[])
    if any(w.text in ("-x", "--exec") for w in words[1:inner]):
        return Unwrapped(name, words=words[inner:])
    return Unwrapped(f"{name} (sh -c)", script=_joined(words[inner:]))


def _xargs(name: str, words: list[Word]) -> Unwrapped | None:
    i = 1
    replace: str | None = None
    while i < len(words) and _is_option(words[i].text):
        text = words[i].text
        key = _split_value(text)
        if text.startswith("-I") and len(text) > 2:
            replace = text[2:]  # `-I{}`: the replace string attached to the flag
        elif key in ("-I", "--replace"):
            replace = (
                text.split("=", 1)[1] if "=" in text else (words[i + 1].text if i + 1 < len(words) else "{}")
            )
        elif text.startswith("-i"):
            replace = text[2:] or "{}"
        if key in _XARGS_VALUED and "=" not in text and len(text) == 2:
            i += 2
        else:
            i += 1
    inner = words[i:] or [Word("echo")]
    if replace:
        inner = [
            Word(
                w.text.replace(replace, "$XARGS"),
                dynamic=replace in w.text or w.dynamic,
                glob=w.glob,
                subs=w.subs,
            )
            for w in inner
        ]
    return Unwrapped(name, words=inner, dynamic_operands=True)


def _parallel(name: str, words: list[Word]) -> Unwrapped | None:
    i = 1
    while i < len(words) and _is_option(words[i].text):
        i += 2 if words[i].text in ("-j", "-a", "-S", "--jobs", "--sshlogin", "-d", "-n", "-N") else 1
    template: list[Word] = []
    while i < len(words) and words[i].text not in (":::", "::::", ":::+"):
        template.append(words[i])
        i += 1
    inputs = [w.text for w in words[i + 1 :] if w.text not in (":::", "::::", ":::+")][:16]
    text = _joined(template).text or "echo"
    if "{" not in text:
        text += " {}"
    if not inputs:
        return Unwrapped(name, script=Word(text.replace("{}", "$PARALLEL")))
    return Unwrapped(name, script=Word("; ".join(text.replace("{}", item) for item in inputs)))


def _ssh(name: str, words: list[Word]) -> Unwrapped | None:
    i = 1
    while i < len(words) and _is_option(words[i].text):
        i += 2 if _cluster_takes_next(words[i].text, _SSH_VALUED) else 1
    remote = words[i + 1 :]
    if not remote:
        return None  # interactive session or a heredoc script: the walker feeds stdin
    return Unwrapped(f"{name} (remote)", script=_joined(remote))


# `docker run` / `podman run` options that take the next word as their value (the image follows them).
# (A name of its own: it once rebound `_RUN_VALUED`, so `conda run -n ENV CMD` took ENV for the command.)
_CONTAINER_RUN_VALUED = _spec(
    "-a -c -e -h -l -m -p -u -v -w --add-host --annotation --attach --blkio-weight --cap-add --cap-drop "
    "--cgroup-parent --cgroupns --cidfile --cpu-period --cpu-quota --cpu-shares --cpus --cpuset-cpus "
    "--cpuset-mems --device --dns --dns-option --dns-search --entrypoint --env --env-file --expose --gpus "
    "--group-add --health-cmd --health-interval --health-retries --health-timeout --hostname --ip --ip6 "
    "--ipc --isolation --label --label-file --link --log-driver --log-opt --mac-address --memory "
    "--memory-swap --mount --name --network --net --network-alias --pid --platform --publish --pull "
    "--restart --runtime --security-opt --shm-size --stop-signal --stop-timeout --storage-opt --sysctl "
    "--tmpfs --ulimit --user --userns --uts --volume --volumes-from --workdir --secret --arch --os "
    "--pod --hooks-dir --init-path --uidmap --gidmap --subuidname --subgidname --label-file"
).valued


def _container_run(name: str, words: list[Word]) -> Unwrapped | None:
    """`docker run IMAGE CMD`, `kubectl run NAME --image=X -- CMD`: the command runs in a new container,
    which reaches the network and whatever host paths are mounted into it."""
    if name in ("kubectl", "oc"):
        index = next((i for i, w in enumerate(words) if w.text == "--"), None)
        inner = words[index + 1 :] if index is not None else []
        return Unwrapped(f"{name} run", words=inner, keeps_outer=True) if inner else None
    i = 3 if words[1].text == "container" else 2
    while i < len(words) and _is_option(words[i].text):
        i += (
            2
            if words[i].text in _CONTAINER_RUN_VALUED
            or _cluster_takes_next(words[i].text, _CONTAINER_RUN_VALUED)
            else 1
        )
    inner = words[i + 1 :]
    if not inner or _is_option(inner[0].text):
        return None  # the image's own entrypoint runs (with these as its arguments)
    return Unwrapped(f"{name} run", words=inner)


def _container_exec(name: str, words: list[Word]) -> Unwrapped | None:
    """`docker exec ctr cmd`, `kubectl exec pod -- cmd`: the command runs inside the container."""
    if len(words) >= 3 and (words[1].text == "run" or [w.text for w in words[1:3]] == ["container", "run"]):
        return _container_run(name, words)
    if len(words) < 3 or words[1].text != "exec":
        return None
    if name in ("kubectl", "oc"):
        index = next((i for i, w in enumerate(words) if w.text == "--"), None)
        return Unwrapped(f"{name} exec", words=words[index + 1 :]) if index is not None else None
    i = 2
    while i < len(words) and _is_option(words[i].text):
        i += 2 if words[i].text in ("-e", "-u", "-w", "--env", "--user", "--workdir", "--env-file") else 1
    return Unwrapped(f"{name} exec", words=words[i + 1 :])


# Fleet runners: the command runs on every host they name. Options that take a value, per runner.
_FLEET_VALUED = {
    "pdsh": _spec("-w -x -g -X -l -R -t -u -f -F -m -o").valued,
    "clush": _spec("-w -x -g -X -f -l -o -t -u -R -E --group --nodes --user --options --fanout").valued,
    "pssh": _spec(
        "-h -H -l -p -o -e -t -O -x -X --hosts --host --user --par --outdir --errdir "
        "--timeout --option --extra-args"
    ).valued,
    "mussh": _spec("-H -h -l -L -m -t -i -o -s -c -C").valued,
}
_FLEET_VALUED["parallel-ssh"] = _FLEET_VALUED["pssh"]
_SALT_RUN = frozenset(
    {"cmd.run", "cmd.run_all", "cmd.run_stdout", "cmd.shell", "cmd.exec_code", "cmd.script"}
)


def _fleet(name: str, words: list[Word]) -> Unwrapped | None:
    """`pdsh -w web[1-40] CMD`, `salt '*' cmd.run CMD`, `knife ssh QUERY CMD`: CMD runs on many hosts."""
    texts = [w.text for w in words]
    if name in ("salt", "salt-ssh"):
        index = next((i for i, t in enumerate(texts) if t in _SALT_RUN), None)
        script = words[index + 1 : index + 2] if index is not None else []
        return Unwrapped(f"{name} (remote)", script=script[0]) if script else None
    if name == "knife":
        if texts[1:2] != ["ssh"]:
            return None
        operands = [w for w in words[2:] if not _is_option(w.text)]
        return Unwrapped("knife ssh (remote)", script=operands[1]) if len(operands) > 1 else None
    if name == "mussh":
        command = next((words[i + 1] for i, t in enumerate(texts[:-1]) if t in ("-c", "-C")), None)
        return Unwrapped("mussh (remote)", script=command) if command is not None else None
    valued = _FLEET_VALUED[name]
    i = 1
    while i < len(words) and _is_option(words[i].text):
        i += 2 if _cluster_takes_next(words[i].text, valued) else 1
    remote = words[i:]
    return Unwrapped(f"{name} (remote)", script=_joined(remote)) if remote else None


# Cloud CLIs that run a command on instances: (subcommand path, option holding the command; None: the
# words after the instance name).
_CLOUD_RUN = {
    "gcloud": ((("compute", "ssh"), "--command"), (("compute", "tpus", "tpu-vm", "ssh"), "--command")),
    "doctl": ((("compute", "ssh"), "--ssh-command"),),
    "hcloud": ((("server", "ssh"), None),),
    "az": ((("vm", "run-command", "invoke"), "--scripts"), (("vmss", "run-command", "invoke"), "--scripts")),
    "aws": ((("ssm", "send-command"), "--parameters"),),
}
_SSM_COMMANDS = re.compile(r"commands=\[?(.*?)\]?$", re.S)
_QUOTED_ITEM = re.compile(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'')


def _cloud_run(name: str, words: list[Word]) -> Unwrapped | None:
    """`gcloud compute ssh VM --command CMD`, `az vm run-command invoke --scripts CMD`, `aws ssm
    send-command --parameters commands=[...]`: CMD runs on the instances; the CLI call is judged too."""
    texts = [w.text for w in words]
    for path, option in _CLOUD_RUN[name]:
        if tuple(texts[1 : 1 + len(path)]) != path:
            continue
        rest = words[1 + len(path) :]
        if option is None:  # `hcloud server ssh NAME CMD...`
            operands = [i for i, w in enumerate(rest) if not _is_option(w.text)]
            command = _joined(rest[operands[0] + 1 :]) if operands else None
        else:
            values = [
                Word(w.text.split("=", 1)[1], dynamic=w.dynamic, subs=w.subs)
                if w.text.startswith(option + "=")
                else rest[i + 1]
                for i, w in enumerate(rest)
                if (w.text == option and i + 1 < len(rest)) or w.text.startswith(option + "=")
            ]
            command = _joined(values) if values else None
            if command is not None and name == "aws":
                found = _SSM_COMMANDS.search(command.text)
                items = [a or b for a, b in _QUOTED_ITEM.findall(found.group(1))] if found else []
                text = "; ".join(items) or (found.group(1) if found else "")
                command = Word(text, dynamic=command.dynamic, subs=command.subs) if text else None
        if command is None or not command.text.strip():
            return None
        return Unwrapped(f"{name} (remote)", script=command, keeps_outer=True)
    return None


def _trap(name: str, words: list[Word]) -> Unwrapped | None:
    return Unwrapped(name, script=words[1]) if len(words) > 2 else None


def _alias(name: str, words: list[Word]) -> Unwrapped | None:
    """An alias body runs whenever the alias is used later, so analyze it as if it ran."""
    bodies = [Word(w.text.split("=", 1)[1], dynamic=w.dynamic) for w in words[1:] if "=" in w.text]
    return Unwrapped(name, script=_joined(bodies)) if bodies else None


_HANDLERS = {
    "tmux": _tmux, "screen": _screen, "git": _git_alias, "service": _service, "flock": _flock,
    "env": _env, "eval": _eval, "su": _su, "runuser": _su, "script": _script_flag, "watch": _watch,
    "xargs": _xargs, "parallel": _parallel, "ssh": _ssh, "docker": _container_exec, "podman": _container_exec,
    "kubectl": _container_exec, "oc": _container_exec, "sg": _script_flag, "trap": _trap, "alias": _alias,
    "nerdctl": _container_exec, **{fleet: _fleet for fleet in ("salt", "salt-ssh", "knife", "mussh", *_FLEET_VALUED)},
    **{cloud: _cloud_run for cloud in _CLOUD_RUN},
    **{shell: _shell for shell in SHELLS},
}  # fmt: skip
_HANDLERS["hub"] = _git_wrapper


# getopt-style interpreters: in an option cluster these letters take the rest of the word as their value
# (`perl -MFile::Path`, `python -Wignore`), or the next word when they end it (`python -W ignore`).
_VALUE_LETTERS = {"python": ("WXQ", "WX"), "perl": ("FMmIixCdD", "I"), "ruby": ("FrIiCxWEKT", "rI"),
                  "php": ("cdzt", "cdzt"), "lua": ("l", "l")}  # fmt: skip
# ... and these take only the digits that follow them (`perl -l40pe0`: -l with 40, -p, -e with `0`).
_DIGIT_LETTERS = {"perl": "l0", "ruby": "0"}


def inline_code(kind: str, words: list[Word]) -> Word | None:
    """The code an interpreter runs from its command line: `python -c CODE`, `perl -ne CODE`, and the
    code joined onto its option as getopt allows (`python3 -c'CODE'`, `perl -lne'CODE'`)."""
    flags = _INLINE_FLAGS.get(kind, ())
    letters = _VALUE_LETTERS.get(kind)
    valued = _INLINE_VALUED.get(kind, ())
    if kind == "node" and len(words) > 2 and words[1].text == "eval":  # `deno eval CODE`
        return next((w for w in words[2:] if not w.text.startswith("-")), None)
    i = 1
    while i < len(words):
        word, text = words[i], words[i].text
        if text in flags:
            return words[i + 1] if i + 1 < len(words) else None
        if text in valued:
            i += 2
            continue
        if letters is not None and len(text) >= 2 and text[0] == "-" and text[1] != "-":
            code, skip = _cluster_code(text, flags, letters, _DIGIT_LETTERS.get(kind, ""))
            if code is not None:  # the code is the rest of this word, or the next word
                joined = Word(code, dynamic=word.dynamic, subs=word.subs) if code else None
                return joined or (words[i + 1] if i + 1 < len(words) else None)
            i += 2 if skip else 1
            continue
        if not text.startswith("-"):
            return None  # a script file: the code is not on the command line
        i += 1
    return None


def _cluster_code(
    text: str, flags: tuple[str, ...], letters: tuple[str, str], digit_letters: str
) -> tuple[str | None, bool]:
    """(code after a code letter, "" when the next word is the code; else None) and whether the
    cluster's last option takes the next word as its value."""
    rest_letters, next_letters = letters
    index = 1
    while index < len(text):
        letter = text[index]
        if f"-{letter}" in flags:
            return text[index + 1 :], False
        if letter in rest_letters:
            return None, index == len(text) - 1 and letter in next_letters
        index += 1
        if letter in digit_letters:
            while index < len(text) and text[index].isdigit():
                index += 1
    return None, False

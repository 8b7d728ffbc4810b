"""Wrappers: commands that run another command (`sudo`, `env`, `xargs`, `bash -c`, `eval` ...).

`unwrap_step` peels one layer. It returns the inner argv, or a script to parse again, or None when
the command is not a wrapper. Option tables list the options that consume a value, so that
`sudo -u root rm` finds `rm` and not `root`.
"""

from __future__ import annotations

from dataclasses import dataclass

from railguard.detect.shell._syntax import Word

SHELLS = frozenset(
    {"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh", "yash", "rbash"}
)
INTERPRETERS = {
    "python": "python", "python2": "python", "python3": "python", "pypy": "python", "pypy3": "python",
    "perl": "perl", "ruby": "ruby", "node": "node", "nodejs": "node", "deno": "node", "bun": "node",
    "php": "php", "lua": "lua", "osascript": "applescript", "pwsh": "powershell", "powershell": "powershell",
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
}


@dataclass(slots=True)
class Unwrapped:
    label: str
    words: list[Word] | None = None  # the inner argv (empty: nothing runs)
    script: Word | None = None  # text to parse as a shell script
    dynamic_operands: bool = False
    params: list[Word] | None = None  # `sh -c SCRIPT NAME ARG...`: $0, $1 ... inside the script


@dataclass(frozen=True, slots=True)
class _Spec:
    valued: frozenset[str]  # options that take the next word as their value
    positional: int = 0  # non-option words before the command (timeout's duration, chroot's dir)
    no_exec: frozenset[str] = frozenset()  # options that mean "no command runs" (command -v)


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
    "flock": _spec("-w -E --timeout --conflict-exit-code", positional=1),
    "doppler": _spec(), "dotenv": _spec(), "aws-vault": _spec(), "op": _spec(), "with-contenv": _spec(),
}  # fmt: skip
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
        if word.text == "-m" and i + 1 < len(words):
            module = words[i + 1].text.split(".", 1)[0]
            return Unwrapped(f"{name} -m", words=[Word(module), *words[i + 2 :]])
        if not word.text.startswith("-") or word.text in ("-c", "-"):
            return None
    return None


def unwrap_step(name: str, words: list[Word]) -> Unwrapped | None:
    """Peel one wrapper off `words` (whose command basename is `name`)."""
    if INTERPRETERS.get(name) == "python":
        return _python_module(name, words)
    if name in _SIMPLE_WRAPPERS:
        inner = _skip_options(words, 1, _SIMPLE_WRAPPERS[name])
        if inner is None:
            return Unwrapped(name, words=[])
        if name in ("sudo", "doas", "pkexec") and inner >= len(words):
            # `sudo -i` / `sudo -s` alone: an interactive root shell.
            shell = any(w.text in ("-i", "-s", "--login", "--shell") for w in words[1:])
            return Unwrapped(name, words=[Word("sh")] if shell else [])
        return Unwrapped(name, words=words[inner:])
    handler = _HANDLERS.get(name)
    return handler(name, words) if handler else None


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
        if key in ("-I", "--replace"):
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
        i += 2 if words[i].text in _SSH_VALUED else 1
    remote = words[i + 1 :]
    if not remote:
        return None  # interactive session or a heredoc script: the walker feeds stdin
    return Unwrapped(f"{name} (remote)", script=_joined(remote))


def _container_exec(name: str, words: list[Word]) -> Unwrapped | None:
    """`docker exec ctr cmd`, `kubectl exec pod -- cmd`: the command runs inside the container."""
    if len(words) < 3 or words[1].text != "exec":
        return None
    if name in ("kubectl", "oc"):
        index = next((i for i, w in enumerate(words) if w.text == "--"), None)
        return Unwrapped(f"{name} exec", words=words[index + 1 :]) if index is not None else None
    i = 2
    while i < len(words) and _is_option(words[i].text):
        i += 2 if words[i].text in ("-e", "-u", "-w", "--env", "--user", "--workdir", "--env-file") else 1
    return Unwrapped(f"{name} exec", words=words[i + 1 :])


def _trap(name: str, words: list[Word]) -> Unwrapped | None:
    return Unwrapped(name, script=words[1]) if len(words) > 2 else None


def _alias(name: str, words: list[Word]) -> Unwrapped | None:
    """An alias body runs whenever the alias is used later, so analyze it as if it ran."""
    bodies = [Word(w.text.split("=", 1)[1], dynamic=w.dynamic) for w in words[1:] if "=" in w.text]
    return Unwrapped(name, script=_joined(bodies)) if bodies else None


_HANDLERS = {
    "env": _env, "eval": _eval, "su": _su, "runuser": _su, "script": _script_flag, "watch": _watch,
    "xargs": _xargs, "parallel": _parallel, "ssh": _ssh, "docker": _container_exec, "podman": _container_exec,
    "kubectl": _container_exec, "oc": _container_exec, "sg": _script_flag, "trap": _trap, "alias": _alias,
    **{shell: _shell for shell in SHELLS},
}  # fmt: skip


def inline_code(kind: str, words: list[Word]) -> Word | None:
    """The code an interpreter runs from its command line (`python -c CODE`, `perl -e CODE`)."""
    flags = _INLINE_FLAGS.get(kind, ())
    for i, word in enumerate(words[1:], start=1):
        text = word.text
        if text in flags and i + 1 < len(words):
            return words[i + 1]
        # clustered forms: `perl -ne CODE`, `python -Bc CODE`
        if (
            2 < len(text) <= 5
            and text[0] == "-"
            and text[1:].isalpha()
            and f"-{text[-1]}" in flags
            and i + 1 < len(words)
        ):
            return words[i + 1]
        if not text.startswith("-"):
            return None  # a script file: the code is not on the command line
    return None

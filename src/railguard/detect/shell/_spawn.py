"""Options whose value is itself a command the tool runs (the GTFOBins class):
`tar --checkpoint-action=exec=CMD`, `ssh -o ProxyCommand=CMD`, `git -c core.sshCommand=CMD`,
`rsync -e CMD`, `zip -TT CMD`, `vim -c '!CMD'`, `man -P CMD`, `awk 'BEGIN{system("CMD")}'`.
"""

from __future__ import annotations

import shlex

from railguard.detect.shell._syntax import Word

# command -> option prefixes whose value is a shell command ("=" forms and separate-word forms).
_COMMAND_OPTIONS: dict[str, tuple[str, ...]] = {
    "tar": ("--checkpoint-action=exec=", "--to-command=", "--use-compress-program=", "-I", "--rsh-command=",
            "--info-script=", "--new-volume-script="),
    "rsync": ("-e", "--rsh=", "--rsync-path=", "--rsync-path"),
    "ssh": ("-oProxyCommand=", "-oLocalCommand=", "-oKnownHostsCommand="),
    "scp": ("-oProxyCommand=", "-S"),
    "sftp": ("-oProxyCommand=", "-S"),
    "zip": ("-TT", "--unzip-command="),
    "man": ("-P", "--pager="),
    "git": ("--upload-pack=", "--receive-pack=", "--exec="),
    "less": (),
}  # fmt: skip
_SSH_OPTION_KEYS = ("proxycommand=", "localcommand=", "knownhostscommand=")
_GIT_CONFIG_KEYS = ("core.sshcommand=", "core.pager=", "core.editor=", "core.fsmonitor=", "core.hookspath=",
                    "diff.external=", "sequence.editor=", "credential.helper=", "pager.", "alias.")  # fmt: skip
_EDITORS = frozenset({"vi", "vim", "nvim", "view", "ex", "vimdiff", "rvim"})
# git config keys (by suffix) whose value is a program git runs: drivers, helpers, programs.
_GIT_PROGRAM_SUFFIXES = (".textconv=", ".clean=", ".smudge=", ".process=", ".driver=", ".command=", ".program=",
                         ".helper=", ".askpass=", ".cmd=", ".tool=")  # fmt: skip
# Tools `_means_tools` reads (their own languages, options and in-place writes); kept here so the walker
# loads that module only when one of them runs.
MEANS_TOOLS = frozenset({"sqlite3", "sqlite", "mysql", "mariadb", "psql", "lftp", "ftp", "sftp", "ed", "ex", "vi",
                         "vim", "nvim", "gdb", "emacs", "make", "gmake", "cmake", "mvn", "mvnw", "just", "tox",
                         "deno", "yarn", "pnpm", "npm", "rails", "sed", "gsed", "jq", "yq", "gawk", "awk",
                         "gradle", "gradlew", "task", "go-task", "rake", "invoke", "inv", "nox", "ant", "sbt",
                         "rsync"})  # fmt: skip
# ... of which these also act on the text they read on stdin (`echo '.shell X' | sqlite3`).
STDIN_MEANS_TOOLS = frozenset({"sqlite3", "sqlite", "mysql", "mariadb", "psql", "lftp", "ftp", "sftp", "ed", "ex",
                               "just"})  # fmt: skip


def shell_path(path: str) -> str:
    """A path as a shell word, keeping a leading `~` expandable (the code that named it expands it)."""
    if path == "~":
        return "~"
    if path.startswith("~/"):
        return "~/" + shlex.quote(path[2:])
    return shlex.quote(path)


def spawned_commands(name: str, words: list[Word]) -> list[str]:
    """Shell text that `name` runs because of its options (empty when none)."""
    if name not in _COMMAND_OPTIONS and name not in _EDITORS:
        return []
    texts = [w.text for w in words[1:]]
    out: list[str] = []
    for i, text in enumerate(texts):
        following = texts[i + 1] if i + 1 < len(texts) else ""
        for prefix in _COMMAND_OPTIONS.get(name, ()):
            if text == prefix.rstrip("=") and not prefix.endswith("=") and following:
                out.append(following)
            elif prefix.endswith("=") and text.startswith(prefix):
                out.append(text[len(prefix) :])
        if name in ("ssh", "scp", "sftp") and text == "-o" and following.lower().startswith(_SSH_OPTION_KEYS):
            out.append(following.split("=", 1)[1])
        key = following.lower().split("=", 1)[0] + "=" if name == "git" and text == "-c" else ""
        if key and (key.startswith(_GIT_CONFIG_KEYS) or key.endswith(_GIT_PROGRAM_SUFFIXES)):
            value = following.split("=", 1)[1] if "=" in following else ""
            out.append(value.removeprefix("!"))
        if name in _EDITORS and (text in ("-c", "--cmd") or text.startswith("+")):
            command = following if text in ("-c", "--cmd") else text[1:]
            command = command.lstrip(":")
            if command.startswith("!"):
                out.append(command[1:])
    return [t for t in out if t.strip()]


def awk_program(words: list[Word]) -> Word | None:
    """The program text of an awk invocation (the first operand), unless it comes from `-f`."""
    i = 1
    while i < len(words):
        text = words[i].text
        if text in ("-f", "--file") or text.startswith("-f"):
            return None
        if text in ("-F", "-v", "--assign", "--field-separator"):
            i += 2
            continue
        if text.startswith("-") and len(text) > 1:
            i += 1
            continue
        return words[i]
    return None


_SED_VALUED = frozenset({"-l", "--line-length", "-f", "--file"})


def sed_scripts(words: list[Word]) -> list[str] | None:
    """The sed programs on the command line (`-e X`, `--expression=X`, or the first operand); None when
    the program comes from a file (`-f`)."""
    scripts: list[str] = []
    operands: list[str] = []
    i = 1
    while i < len(words):
        text = words[i].text
        if text in ("-f", "--file") or text.startswith("--file="):
            return None
        if text in ("-e", "--expression") and i + 1 < len(words):
            scripts.append(words[i + 1].text)
            i += 2
            continue
        if text.startswith("--expression="):
            scripts.append(text.split("=", 1)[1])
        elif text in _SED_VALUED:
            i += 1
        elif not text.startswith("-") or text == "-":
            operands.append(text)
        i += 1
    return scripts or operands[:1]


def sed_execution(program: str) -> tuple[list[str], bool]:
    """GNU sed's `e COMMAND` (runs COMMAND), bare `e` and `s///e` (run the pattern space, i.e. the input).
    Returns the literal commands and whether input text is executed. One pass over the program."""
    commands: list[str] = []
    runs_input = False
    i, n = 0, len(program)
    while i < n:
        char = program[i]
        if char in " \t\n;{}!":
            i += 1
            continue
        i = _skip_address(program, i)
        if i >= n:
            break
        command = program[i]
        i += 1
        if command in "aicrRwWbtTe:":
            end = program.find("\n", i)
            end = n if end < 0 else end
            argument = program[i:end].strip()
            if command == "e":
                if argument:
                    commands.append(argument)
                else:
                    runs_input = True
            elif command in "bt:T":
                semicolon = program.find(";", i, end)
                end = semicolon if semicolon >= 0 else end
            i = end
        elif command in "sy" and i < n:
            i = _skip_delimited(program, i, parts=2)
            while i < n and program[i] not in ";\n}":
                if program[i] == "e" and command == "s":
                    runs_input = True
                if program[i] in "wW":  # `s///w FILE` eats the rest of the line
                    break
                i += 1
    return commands, runs_input


def _skip_address(program: str, i: int) -> int:
    n = len(program)
    for _ in range(2):  # ADDR[,ADDR]
        if i < n and program[i] in "0123456789$":
            while i < n and program[i] in "0123456789$~+":
                i += 1
        elif i < n and program[i] in "/\\":
            i = _skip_delimited(program, i + (1 if program[i] == "\\" else 0), parts=1)
            while i < n and program[i] in "IM":
                i += 1
        if i < n and program[i] == ",":
            i += 1
            continue
        break
    while i < n and program[i] in " \t!":
        i += 1
    return i


def _skip_delimited(program: str, i: int, parts: int) -> int:
    """From a delimiter at `i`, skip `parts` delimited fields (backslash escapes honored)."""
    n = len(program)
    delimiter = program[i]
    i += 1
    for _ in range(parts):
        while i < n and program[i] != delimiter:
            i += 2 if program[i] == "\\" else 1
        i += 1
    return min(i, n)

"""Options whose value is itself a command the tool runs (the GTFOBins class):
`tar --checkpoint-action=exec=CMD`, `ssh -o ProxyCommand=CMD`, `git -c core.sshCommand=CMD`,
`rsync -e CMD`, `zip -TT CMD`, `vim -c '!CMD'`, `man -P CMD`, `awk 'BEGIN{system("CMD")}'`.
"""

from __future__ import annotations

from railguard.detect.shell._syntax import Word

# command -> option prefixes whose value is a shell command ("=" forms and separate-word forms).
_COMMAND_OPTIONS: dict[str, tuple[str, ...]] = {
    "tar": ("--checkpoint-action=exec=", "--to-command=", "--use-compress-program=", "-I", "--rsh-command=",
            "--info-script=", "--new-volume-script="),
    "rsync": ("-e", "--rsh="),
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
        if name == "git" and text == "-c" and following.lower().startswith(_GIT_CONFIG_KEYS):
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

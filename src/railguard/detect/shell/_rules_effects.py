"""Cross-cutting effects, whatever the tool: supply-chain configuration (package indexes and registries,
git `insteadOf`), security weakening (TLS verification off, hooks bypassed), and the guard's own
protection (agent hook settings, policy files, uninstalling or disabling Railguard).

Judgement: a persistent change of where packages come from to a host that is not the official one, any
TLS-verification switch-off, any write to the guard's files or removal of the guard -> block; a one-off
install from another https index, a hook bypass, an unknown write to a package-manager config -> ask.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator

from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._syntax import Word
from railguard.detect.shell._view import CommandView, Ctx, classify_target, finding

_OFFICIAL_HOSTS = ("pypi.org", "pypi.python.org", "files.pythonhosted.org", "registry.npmjs.org",
                   "registry.yarnpkg.com", "npmjs.org", "npm.pkg.github.com", "proxy.golang.org",
                   "sum.golang.org", "goproxy.io", "rubygems.org", "crates.io", "index.crates.io",
                   "static.crates.io", "api.nuget.org", "repo.packagist.org", "packagist.org",
                   "conda.anaconda.org", "repo.anaconda.com", "download.pytorch.org",
                   "registry.terraform.io")  # fmt: skip
_PROXY_KEYWORDS = frozenset({"direct", "off", ""})
_FALSE = frozenset({"false", "0", "no", "off", "n"})
_IP = re.compile(r"^\[?[0-9a-f.:]+\]?$", re.I)


def _host(url: str) -> str:
    rest = url.strip().strip("'\"")
    rest = rest.split("://", 1)[1] if "://" in rest else rest
    authority = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    if authority.startswith("["):
        return authority.split("]", 1)[0] + "]"
    return authority.split(":", 1)[0].lower()


def source_risk(url: str) -> str | None:
    """None for an official package source; 'insecure' for plain http or a bare IP; else 'foreign'."""
    url = url.strip().strip("'\"")
    if not url or url.lower() in _PROXY_KEYWORDS:
        return None
    for part in url.split(","):
        part = part.strip()
        if not part or part.lower() in _PROXY_KEYWORDS:
            continue
        host = _host(part)
        if "http://" in part.lower() or _IP.match(host or "x"):
            return "insecure"
        if not any(host == h or host.endswith("." + h) for h in _OFFICIAL_HOSTS):
            return "foreign"
    return None


def _source_finding(url: str, what: str, persistent: bool) -> Iterator[ShellFinding]:
    risk = source_risk(url)
    if risk is None:
        return
    block = persistent or risk == "insecure"
    yield finding(
        "supply_chain", "package-source-change", "block" if block else "ask", "critical" if block else "high",
        f"{what} points package installs at {_host(url) or url} ({'not TLS or a bare IP' if risk == 'insecure' else 'not the official index'})",
    )  # fmt: skip


def _tls_off(what: str) -> ShellFinding:
    return finding(
        "security", "tls-verification-off", "block", "critical", f"{what} turns TLS verification off"
    )


# -- package manager configuration --------------------------------------------------------------------
_REGISTRY_KEYS = re.compile(r"^(?:@[\w.-]+:)?registry$|^npmRegistryServer$|^npmScopes\..*\.npmRegistryServer$|"
                            r"(?:^|\.)(?:index-url|extra-index-url|index|find-links|default-index)$|^mirror\.|"
                            r"^repos?\.|^repositories\.|^channels$|^default_channels$|^GOPROXY$", re.I)  # fmt: skip
_TLS_KEYS = re.compile(r"^(?:strict-ssl|enableStrictSsl|ssl_verify|sslVerify|http\.sslVerify|"
                       r"http\..*\.sslVerify|cert|verify_ssl|ssl-verify)$", re.I)  # fmt: skip
_TRUST_KEYS = re.compile(r"(?:^|\.)trusted-host$|^GOINSECURE$|^GONOSUMDB$|^GONOSUMCHECK$|^GOFLAGS$", re.I)
_INDEX_OPTIONS = frozenset({"-i", "--index-url", "--extra-index-url", "--find-links", "-f", "--index",
                            "--default-index", "--registry", "--source", "-s"})  # fmt: skip
_INSTALLERS = {
    "pip": ("install", "download", "wheel"), "pip3": ("install", "download", "wheel"),
    "uv": ("pip", "add", "sync", "tool", "lock", "run"), "pipx": ("install", "run", "inject"),
    "npm": ("install", "i", "add", "ci", "update"), "pnpm": ("install", "i", "add", "update"),
    "yarn": ("add", "install"), "bun": ("add", "install"), "cargo": ("install", "add"),
    "gem": ("install",), "poetry": ("add", "install", "source"), "pdm": ("add", "install"),
}  # fmt: skip


def _config_pairs(view: CommandView) -> list[tuple[str, str]]:
    """`npm config set K V`, `npm set K V`, `pip config set K V`, `yarn config set K V`, `go env -w K=V`,
    `conda config --add K V`, `bundle config [set] K V`, `composer config K V`."""
    texts = [w.text for w in view.args if not w.text.startswith("-") or w.text in ("--add", "--set")]
    name = view.name
    if name == "go" and texts[:1] == ["env"] and view.has("-w"):
        return [tuple(t.split("=", 1)) for t in texts[1:] if "=" in t]  # type: ignore[misc]
    for verbs in (["config", "set"], ["set"], ["config", "--add"], ["config", "--set"], ["config"]):
        if texts[: len(verbs)] == verbs:
            rest = [t for t in texts[len(verbs) :] if t not in ("set", "--global", "global")]
            if len(rest) >= 2:
                return [(rest[0], " ".join(rest[1:]))]
            if len(rest) == 1 and "=" in rest[0]:
                key, _, value = rest[0].partition("=")
                return [(key, value)]
    return []


def _judge_setting(key: str, value: str, what: str, persistent: bool) -> Iterator[ShellFinding]:
    if _TLS_KEYS.search(key) and (value.lower() in _FALSE or not value):
        yield _tls_off(what)
    elif _TRUST_KEYS.search(key) and value and value.lower() not in _PROXY_KEYWORDS:
        if key.upper() == "GOFLAGS" and "-insecure" not in value:
            return
        yield finding("supply_chain", "package-trust-weakened", "block", "critical",
                      f"{what} skips verification for {value}")  # fmt: skip
    elif key.upper() == "GOSUMDB" and value.lower() == "off":
        yield finding(
            "supply_chain",
            "package-trust-weakened",
            "block",
            "critical",
            f"{what} turns the Go checksum database off",
        )
    elif _REGISTRY_KEYS.search(key):
        yield from _source_finding(value, what, persistent)


def check_package_config(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    for key, value in _config_pairs(view):
        yield from _judge_setting(key, value.strip("'\""), f"{view.name} config {key}", persistent=True)
    if view.name == "gem" and view.has("--add", "-a"):
        for value in view.values("--add", "-a"):
            yield from _source_finding(value, "gem sources --add", persistent=True)
    if view.name in ("nuget", "dotnet") and any(w.text in ("sources", "source") for w in view.args):
        for value in view.values("-Source", "--source", "-s"):
            yield from _source_finding(value, f"{view.name} add source", persistent=True)
        for word in view.operands:
            if "://" in word.text:
                yield from _source_finding(word.text, f"{view.name} add source", persistent=True)
    verbs = _INSTALLERS.get(view.name)
    operands = [w.text for w in view.operands]
    if verbs and operands[:1] and operands[0] in verbs:
        for value in _option_values_any(view, _INDEX_OPTIONS):
            yield from _source_finding(value, f"{view.name} {operands[0]} from an index", persistent=False)
        if view.has("--trusted-host"):
            yield finding("supply_chain", "package-trust-weakened", "block", "critical",
                          f"{view.name} --trusted-host skips TLS verification")  # fmt: skip


def _option_values_any(view: CommandView, names: frozenset[str]) -> list[str]:
    return view.values(*sorted(names))


# -- environment variables ----------------------------------------------------------------------------
_TLS_ENV = {"NODE_TLS_REJECT_UNAUTHORIZED": _FALSE, "PYTHONHTTPSVERIFY": _FALSE,
            "NPM_CONFIG_STRICT_SSL": _FALSE, "npm_config_strict_ssl": _FALSE,
            "YARN_ENABLE_STRICT_SSL": _FALSE, "GIT_SSL_NO_VERIFY": frozenset({"1", "true", "yes", "on"}),
            "CURL_CA_BUNDLE": frozenset({""}), "REQUESTS_CA_BUNDLE": frozenset({""}),
            "AWS_CA_BUNDLE": frozenset({""}), "UV_INSECURE_HOST": None,
            "PIP_TRUSTED_HOST": None, "GOINSECURE": None, "GONOSUMDB": None, "GONOSUMCHECK": None}  # fmt: skip
_INDEX_ENV = re.compile(r"^(?:PIP_INDEX_URL|PIP_EXTRA_INDEX_URL|PIP_FIND_LINKS|UV_INDEX_URL|UV_EXTRA_INDEX_URL|"
                        r"UV_DEFAULT_INDEX|UV_INDEX|NPM_CONFIG_REGISTRY|npm_config_registry|YARN_NPM_REGISTRY_SERVER|"
                        r"YARN_REGISTRY|GOPROXY|BUNDLE_MIRROR__\w+|CARGO_REGISTRIES_\w+_INDEX|POETRY_REPOSITORIES_\w+_URL|"
                        r"CONDA_CHANNELS)$")  # fmt: skip
_HOOK_SKIP_ENV = frozenset(
    {"HUSKY", "HUSKY_SKIP_HOOKS", "SKIP_HOOKS", "LEFTHOOK", "PRE_COMMIT_ALLOW_NO_CONFIG"}
)
_GUARD_OFF = re.compile(r"MODE|DISABLE|OFF|BYPASS|POLICY|SKIP|ENFORCE|AUDIT|HOOK", re.I)


_HISTORY_SIZE = frozenset({"HISTSIZE", "HISTFILESIZE", "SAVEHIST"})
# Variables that make every later process of an interpreter load code first: name -> the option that
# loads it (None: the value itself is the code or library).
_PRELOAD_ENV: dict[str, re.Pattern[str] | None] = {
    "NODE_OPTIONS": re.compile(r"(?:^|\s)(?:-r|--require|--import|--loader|--experimental-loader)\b"),
    "RUBYOPT": re.compile(r"(?:^|\s)-r"),
    "PERL5OPT": re.compile(r"(?:^|\s)-[Mm]"),
    "JAVA_TOOL_OPTIONS": re.compile(r"-(?:javaagent|agentpath|agentlib):"),
    "_JAVA_OPTIONS": re.compile(r"-(?:javaagent|agentpath|agentlib):"),
    "JDK_JAVA_OPTIONS": re.compile(r"-(?:javaagent|agentpath|agentlib):"),
    "PYTHONSTARTUP": None, "LD_PRELOAD": None, "LD_AUDIT": None, "DYLD_INSERT_LIBRARIES": None,
}  # fmt: skip
_OUTSIDE_PATH = re.compile(
    r"(?:^|[\s=:]|-[A-Za-z])[/~$]"
)  # code at a relative path (`./trace.so`) is the project's
# Where a coding agent sends its prompts (and every file and secret they quote): pointed anywhere but this
# machine, the model traffic goes through someone else's proxy.
_MODEL_ENDPOINT_ENV = re.compile(
    r"^(?:ANTHROPIC|OPENAI|AZURE_OPENAI|GEMINI|GOOGLE_GEMINI|MISTRAL|GROQ|DEEPSEEK|OPENROUTER|LITELLM|CLAUDE_CODE)_"
    r"(?:BASE_URL|API_BASE|API_BASE_URL|BASE|ENDPOINT|API_URL|API_HOST)$"
)
_LOOPBACK_URL = re.compile(r"^(?:https?://)?(?:localhost|127\.\d+\.\d+\.\d+|\[::1\])(?:[:/]|$)")
# A temporary directory first on PATH: whoever can write there chooses what `git` or `sudo` runs.
_PATH_FROM_TEMP = re.compile(r"^(?:/tmp|/var/tmp|/dev/shm)(?:/|$)")


def assignment_findings(assignments: Iterable[tuple[str, str]]) -> Iterator[ShellFinding]:
    """`NAME=value` assignments (prefix, plain or `export`) that weaken TLS, move package sources,
    skip hooks, or switch the guard off."""
    for name, value in assignments:
        lowered = value.strip().lower()
        if name in _TLS_ENV:
            bad = _TLS_ENV[name]
            if bad is None or lowered in bad:
                yield (
                    _tls_off(f"{name}={value}")
                    if bad is not None
                    else finding(
                        "supply_chain",
                        "package-trust-weakened",
                        "block",
                        "critical",
                        f"{name} skips verification",
                    )
                )
        elif name == "GOSUMDB" and lowered == "off":
            yield finding("supply_chain", "package-trust-weakened", "block", "critical", "GOSUMDB=off")
        elif name == "GOFLAGS" and "-insecure" in lowered:
            yield finding("supply_chain", "package-trust-weakened", "block", "critical", "GOFLAGS=-insecure")
        elif _INDEX_ENV.match(name):
            yield from _source_finding(value, f"{name}=", persistent=False)
        elif (name == "HISTFILE" and lowered in ("/dev/null", "")) or (
            name in _HISTORY_SIZE and lowered == "0"
        ):
            yield finding(
                "system", "tamper-history-or-logs", "ask", "medium", f"{name}={value} stops shell history"
            )
        elif (
            name in _PRELOAD_ENV
            and _OUTSIDE_PATH.search(value)
            and ((loader := _PRELOAD_ENV[name]) is None or loader.search(value))
        ):
            yield finding("persistence", "preload-code", "ask", "high",
                          f"{name}={value} makes the interpreter load that code first")  # fmt: skip
        elif _MODEL_ENDPOINT_ENV.match(name) and lowered and not _LOOPBACK_URL.match(lowered):
            yield finding("guard", "agent-endpoint-redirected", "ask", "high",
                          f"{name} sends the model's prompts to {value}")  # fmt: skip
        elif name == "PATH" and _PATH_FROM_TEMP.match(value.split(":", 1)[0]):
            yield finding("persistence", "path-from-temp", "ask", "high",
                          f"PATH={value} runs programs from a temporary directory first")  # fmt: skip
        elif name in _HOOK_SKIP_ENV and lowered in ("0", "1", "true", "false"):
            yield finding("security", "hooks-skipped", "ask", "medium", f"{name}={value} skips git hooks")
        elif name.startswith("RAILGUARD_"):
            off = _GUARD_OFF.search(name) or lowered in (
                "0",
                "false",
                "off",
                "audit",
                "disabled",
                "none",
                "allow",
            )
            yield finding("guard", "guard-config-env", "block" if off else "ask", "critical" if off else "high",
                          f"{name} changes how Railguard runs")  # fmt: skip


# -- the guard's own protection -----------------------------------------------------------------------
_AGENT_SETTINGS = re.compile(
    r"(?:^|/)\.claude(?:/(?:settings(?:\.local)?\.json|hooks(?:/.*)?|commands/.*)?)?/?$|"
    r"(?:^|/)managed-settings\.json$|(?:^|/)\.codex/(?:config\.toml|hooks.*)$|(?:^|/)\.codex/?$|"
    r"(?:^|/)\.cursor/hooks\.json$|(?:^|/)\.gemini/settings\.json$|(?:^|/)\.railguard(?:/.*)?$|"
    r"(?:^|/)\.aider\.conf\.ya?ml$|(?:^|/)\.continue/config\.(?:json|ya?ml)$|(?:^|/)\.config/opencode/[^/]+\.jsonc?$|"
    r"(?:^|/)railguard[\w.-]*\.(?:ya?ml|toml|json)$|(?:^|/)[\w.-]*policy[\w.-]*\.ya?ml$|"
    r"(?:^|/)polic(?:y|ies)/[^/]+\.ya?ml$|(?:^|/)site-packages/railguard(?:/.*)?$"
)
_WRITERS_ALL_OPERANDS = frozenset({"rm", "unlink", "shred", "truncate", "chmod", "chown", "chgrp", "chattr",
                                   "mv", "tee", "srm", "trash", "trash-put", "gio"})  # fmt: skip
_MODE = re.compile(r"^(?:[0-7]{1,4}|[ugoa]*[-+=][rwxXst]*(?:,[ugoa]*[-+=][rwxXst]*)*)$")
_WRITERS_LAST = frozenset({"cp", "install", "ln", "rsync", "dd", "scp"})
_UNINSTALL = re.compile(r"^railguard(?:\[.*\])?(?:[=<>!~].*)?$", re.I)
_INLINE_WRITE = re.compile(
    r"open\s*\(|write|dump|unlink|remove|rename|rmtree|truncate|writeFile|rmSync|unlinkSync"
)
# `approve`: an agent granting its own pending approval is the guard bypassed.
_GUARD_OFF_VERBS = frozenset({"uninstall", "disable", "off", "remove", "delete", "reset", "approve"})
_INLINE_OPTIONS = frozenset({"-c", "-e", "-r", "--eval", "-p"})
_INTERPRETERS = frozenset({"python", "python3", "python2", "node", "nodejs", "deno", "bun", "perl", "ruby", "php",
                           "lua", "pwsh", "osascript", "jshell"})  # fmt: skip


# Files a coding agent reads as its standing instructions: text appended there steers every later turn.
_AGENT_INSTRUCTIONS = re.compile(
    r"(?:^|/)(?:AGENTS|CLAUDE|CLAUDE\.local|GEMINI|AGENT|CODEX|QWEN)\.md$|(?:^|/)\.(?:cursor|windsurf|cline)rules$|"
    r"(?:^|/)\.github/(?:copilot-instructions\.md|instructions/[^/]+\.md)$|(?:^|/)\.cursor/rules/[^/]+$|"
    r"(?:^|/)\.(?:claude|gemini|codex)/[^/]+\.md$|(?:^|/)\.clinerules/[^/]+$",
)
_GUARD_WORDS = ("railguard", "claude", "polic", "codex", "cursor", "gemini", "aider", "opencode", "copilot")
_ANY_GUARD_WORD = re.compile("|".join(map(re.escape, _GUARD_WORDS)))  # every command asks: one pass
_AGENT_INSTALLERS = frozenset({"npm", "pnpm", "yarn", "bun", "pip", "pip3", "pipx", "uv", "brew"})
_INSTALL_VERBS = frozenset({"install", "i", "add", "upgrade", "update", "up", "reinstall"})
# The coding agents' own packages (npm scope or name, PyPI name, a fork's git URL) and Railguard.
_AGENT_PACKAGE = re.compile(
    r"(?:^|[/@])(?:railguard|claude-code|codex|gemini-cli|aider[\w-]*|opencode(?:-ai)?|copilot(?:-cli)?|"
    r"cursor-agent)(?:$|[@=<>!~\[.:#]|\.git)",
    re.IGNORECASE,
)


def is_guard_path(path: str) -> bool:
    return bool(_AGENT_SETTINGS.search(path.rstrip("/") or path))


def _is_guard_program(text: str) -> bool:
    """`railguard` as `$(which railguard)` gives it, or the program in a bin directory; `src/railguard`
    (the package's own source) is not the program."""
    head, _, base = text.rstrip("/").rpartition("/")
    return base == "railguard" and (not head or head.endswith("/bin") or "/bin/" in head + "/")


def _touched(view: CommandView) -> list[Word]:
    words = [
        r.target for r in view.exec.redirects if r.op in (">", ">>", ">|", "&>", "&>>", "<>") and r.target
    ]
    operands = view.operands
    name = view.name
    if name in _WRITERS_ALL_OPERANDS:
        owner_or_mode = name in ("chown", "chgrp") or (
            name == "chmod" and bool(operands) and _MODE.match(operands[0].text)
        )
        words += operands[1:] if owner_or_mode else operands  # `chmod -x FILE`: the mode looked like a flag
    elif name in _WRITERS_LAST and len(operands) >= 2:
        words.append(operands[-1])
    elif name in ("sed", "perl") and any(f.startswith("-i") for f in view.flags):
        words += operands[1:]
    elif name == "dd":
        words += [Word(w.text[3:], w.dynamic) for w in view.args if w.text.startswith("of=")]
    elif name == "git":
        texts = [w.text for w in view.args]
        if any(t in ("checkout", "restore", "rm", "mv", "apply") for t in texts[:2]):
            words += [w for w in operands[1:] if not w.text.startswith("-")]
    return words


def check_guard_protection(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """Every command: writes to agent hook settings, instruction or policy files, removing or
    reinstalling Railguard or the coding agent, inline code rewriting those files, killing the guard."""
    instructions = ""
    for word in _touched(view):
        path = classify_target(word, ctx).path
        if is_guard_path(path) or is_guard_path(word.text):
            yield finding("guard", "guard-files-changed", "block", "critical",
                          f"{view.name or 'redirect'} changes {posixpath.basename(path.rstrip('/')) or path}, which configures the guard")  # fmt: skip
            return
        if _is_guard_program(word.text):
            yield finding("guard", "guard-program-changed", "block", "critical",
                          f"{view.name or 'redirect'} changes the railguard program itself")  # fmt: skip
            return
        if not instructions and _AGENT_INSTRUCTIONS.search(path):
            instructions = posixpath.basename(path)
    if instructions:
        yield finding("guard", "agent-instructions-changed", "ask", "high",
                      f"{view.name or 'redirect'} changes {instructions}, which the coding agent obeys")  # fmt: skip
    name = view.name
    texts = [w.text for w in view.args]
    joined = " ".join([name, *texts]).lower()
    if _ANY_GUARD_WORD.search(joined) is None:
        return  # cheap exit: nothing below can match without one of these words
    if (
        name in _AGENT_INSTALLERS
        and any(t in _INSTALL_VERBS for t in texts[:3])
        and any(_AGENT_PACKAGE.search(t) for t in texts if not t.startswith("-"))
    ):
        yield finding("guard", "agent-reinstalled", "ask", "high",
                      f"{name} installs another build of the coding agent or of Railguard")  # fmt: skip
    elif any(t in ("uninstall", "remove", "rm") for t in texts[:3]) and any(
        _UNINSTALL.match(t) for t in texts
    ):
        yield finding("guard", "guard-uninstall", "block", "critical", f"{name} removes Railguard")
    elif name == "railguard" and any(t in _GUARD_OFF_VERBS for t in texts):
        yield finding("guard", "guard-disabled", "block", "critical",
                      "railguard is switched off, uninstalled, or asked to approve the agent's own action")  # fmt: skip
    elif name == "railguard" and any(t in ("install", "activate", "push", "set") for t in texts[:2]):
        yield finding("guard", "guard-reconfigured", "ask", "high", "railguard's hooks or policy are changed")
    elif name in ("pkill", "killall", "pgrep", "pidof") and any("railguard" in t for t in texts):
        if name in ("pkill", "killall") or "$()" in view.exec.via:
            yield finding(
                "guard", "guard-killed", "block", "critical", f"{name} targets the guard's processes"
            )
    elif name in _INTERPRETERS and any(t in _INLINE_OPTIONS for t in texts):
        code = " ".join(texts)
        if _INLINE_WRITE.search(code) and any(is_guard_path(p) for p in re.findall(r"[\w~./-]+", code)):
            yield finding("guard", "guard-files-changed", "block", "critical",
                          f"{name} code rewrites a file that configures the guard")  # fmt: skip


# -- git: sources, TLS and hooks ----------------------------------------------------------------------
def git_config_findings(pairs: list[tuple[str, str]]) -> Iterator[ShellFinding]:
    for key, value in pairs:
        lowered = key.lower()
        if lowered.startswith("url.") and lowered.endswith((".insteadof", ".pushinsteadof")):
            yield finding("supply_chain", "git-url-rewrite", "block", "critical",
                          f"git {key} silently redirects repositories")  # fmt: skip
        elif lowered.startswith("http.") and lowered.endswith(".sslverify") and value.lower() in _FALSE:
            yield _tls_off(f"git {key}")
        elif lowered == "core.hookspath":
            target = value.strip()
            if not target or target.startswith(("/dev/null", "/tmp", "/var/tmp")) or target == "/":
                yield finding(
                    "security",
                    "git-hooks-disabled",
                    "block",
                    "high",
                    f"git core.hooksPath={target or '(empty)'} disables hooks",
                )
        elif lowered in ("http.sslcainfo", "http.sslbackend") and not value:
            yield _tls_off(f"git {key}")


# -- removing the machine's own software --------------------------------------------------------------
_REMOVE_VERBS = {"apt": ("remove", "purge", "autoremove"), "apt-get": ("remove", "purge", "autoremove"),
                 "aptitude": ("remove", "purge"), "yum": ("remove", "erase", "autoremove"),
                 "dnf": ("remove", "erase", "autoremove"), "zypper": ("rm", "remove"), "apk": ("del",),
                 "brew": ("uninstall", "remove", "rm"), "snap": ("remove",), "flatpak": ("uninstall", "remove"),
                 "port": ("uninstall",), "pip": ("uninstall",), "pip3": ("uninstall",), "gem": ("uninstall",),
                 "npm": ("uninstall", "remove", "rm", "un"), "pnpm": ("remove", "rm", "uninstall"),
                 "yarn": ("remove",), "conda": ("remove", "uninstall"), "mamba": ("remove", "uninstall")}  # fmt: skip
_ESSENTIAL = re.compile(
    r"^(?:linux(?:-image.*|-headers.*)?|kernel.*|systemd.*|glibc.*|libc6|libc-bin|musl|openssh.*|ssh|sudo|bash|"
    r"coreutils|util-linux|apt|dpkg|rpm|yum|dnf|pacman|python3?(?:\.\d+)?|python3-.*|perl|openssl(?:@\d)?|"
    r"libssl.*|ca-certificates|network-manager|networkmanager|grub.*|shim.*|init|login|passwd|libpam.*|pam|"
    r"docker.*|containerd.*|pip|setuptools|npm|pnpm|yarn|corepack|node|nodejs|git|curl|wget|base|base-files)$",
    re.IGNORECASE,
)
_FORCE_REMOVAL = frozenset({"--force", "--ignore-dependencies", "--nodeps", "--force-removal-essential",
                            "--allow-remove-essential", "--all", "--purge-all", "--force-all",
                            "--force-remove-essential", "--force-depends"})  # fmt: skip
_REMOVE_FLAGS = {"dpkg": ("-r", "-P", "--remove", "--purge"), "rpm": ("-e", "--erase")}


def check_package_removal(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """Removing software the machine itself runs on (the kernel, ssh, libc, the package manager, the
    system Python), with a wildcard, or forced past dependencies: a human looks. Ordinary packages and
    a project's own dependencies are everyday work."""
    texts = [w.text for w in view.args]
    name = view.name
    operands = [t for t in texts if not t.startswith("-")]
    whole = (
        (name == "rustup" and operands[:2] == ["self", "uninstall"])
        or (name == "nix-collect-garbage" and view.has("-d", "--delete-old"))
        or (name in ("conda", "mamba") and operands[:2] == ["env", "remove"])
    )
    verbs = _REMOVE_VERBS.get(name, ())
    removing = bool(operands) and operands[0] in verbs
    if name == "pacman":
        removing = any(t.startswith("-R") for t in texts)
        operands = ["", *operands]
    elif name in _REMOVE_FLAGS:  # `dpkg -P pkg`, `rpm -e pkg`: the action is a flag, not a verb
        removing = view.has(*_REMOVE_FLAGS[name])
        operands = ["", *operands]
    if name in ("npm", "pnpm", "yarn") and not view.has("-g", "--global"):
        removing = False  # a project's own dependency
    packages = [p.split("=", 1)[0].split("@", 1)[0] for p in operands[1:]]
    risky = any(_ESSENTIAL.match(p) or "*" in p for p in packages) or bool(set(texts) & _FORCE_REMOVAL)
    risky = risky or (name == "pacman" and any(t.startswith("-R") and t.count("d") >= 2 for t in texts))
    if whole or (removing and risky):
        yield finding("system", "remove-system-software", "ask", "high",
                      f"{name} removes software the machine depends on")  # fmt: skip

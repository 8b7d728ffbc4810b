"""Facts: what the detectors say about an action, exposed to policy conditions as CEL variables.

A fact is computed only when a rule that can apply to the action reads it, and at most once per
action. Providers find their input in the arguments by declared roles (`tools: X: roles: {cmd: command}`)
or, failing that, by the conventions of common agent tools (Claude Code's `Bash.command`,
`Write.file_path`, `WebFetch.url`, generic `shell`/`exec` tools).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from railguard._internal import internal_error
from railguard.detect._budget import InputTooLarge
from railguard.model import Action, Effect, ToolSpec

COMMAND_ARGS = frozenset({"command", "cmd", "script", "shell_command", "commandline", "command_line"})
PATH_ARGS = frozenset(
    {
        "path", "file_path", "filepath", "file", "filename", "notebook_path", "target", "destination",
        "dest", "source", "src", "directory", "dir", "cwd", "output_path", "input_path", "paths", "files",
        "target_file", "source_path", "destination_path", "old_path", "new_path",
    }
)  # fmt: skip
URL_ARGS = frozenset({"url", "uri", "urls", "endpoint", "href", "link", "webhook", "base_url", "host"})
SQL_ARGS = frozenset({"sql", "statement", "statements"})
SQL_HINTS = (
    "sql",
    "query_db",
    "database",
    "postgres",
    "mysql",
    "sqlite",
    "db_query",
    "run_query",
    "execute_query",
)
WRITE_TOOLS = frozenset(
    {
        "write", "edit", "multiedit", "notebookedit", "write_file", "edit_file", "create_file", "str_replace",
        "str_replace_editor", "apply_patch", "append_file", "delete_file", "move_file", "rename_file",
        "create_directory", "mkdir", "save_file", "text_editor",
    }
)  # fmt: skip

EMPTY_SHELL: dict[str, Any] = {
    "present": False, "commands": [], "names": [], "findings": [], "categories": [], "verdict": "allow",
    "unparsed": False, "paths": [], "urls": [], "summary": "",
}  # fmt: skip


def base_name(tool: str) -> str:
    """`mcp__server__run_command` -> `run_command`; lowercase."""
    return tool.rsplit("__", 1)[-1].lower()


# One normalization of arguments before any rule reads them: a value nested deeper, or longer, than
# these is refused (InputTooLarge: the policy's on_error), never skipped or cut into something milder.
MAX_ARG_DEPTH = 32
MAX_VALUE_CHARS = 100_000


def _strings(value: Any, depth: int = 0, *, argv: bool = False) -> Iterator[str]:
    """The strings in an argument value, at any depth up to `MAX_ARG_DEPTH`. With `argv`, a list of
    strings is one command given as an argument vector (see `argv_command`)."""
    if isinstance(value, str):
        yield value
        return
    if depth >= MAX_ARG_DEPTH and isinstance(value, Mapping | list | tuple):
        raise InputTooLarge("an argument's nesting depth", depth + 1, MAX_ARG_DEPTH)
    if isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v, depth + 1, argv=argv)
    elif isinstance(value, list | tuple):
        if argv and value and all(isinstance(v, str) for v in value):
            yield from argv_command(list(value))
            return
        for v in value:
            yield from _strings(v, depth + 1, argv=argv)


def argv_command(argv: list[str]) -> list[str]:
    """`["rm", "-rf", "/"]` is the command `rm -rf /`: the vector is joined with shell quoting and
    analyzed as one command, as it would run. A one-element vector, or one whose program word holds
    spaces, is a command line handed over in a list (runners that join with spaces run it as such)."""
    if len(argv) == 1:
        return [argv[0]]
    joined = [shlex.join(argv)]
    if any(c.isspace() for c in argv[0]):
        joined.append(" ".join(argv))
    return joined


def args_with_role(action: Action, spec: ToolSpec | None, role: str) -> list[str]:
    """String values of the arguments that carry `role` (declared, or by naming convention). Raises
    `InputTooLarge` for a value nested deeper than `MAX_ARG_DEPTH` or longer than `MAX_VALUE_CHARS`."""
    argv = role == "command"
    if spec is not None and spec.roles:
        values = [
            (name, s)
            for name, r in spec.roles.items()
            if r == role
            for s in _strings(action.args.get(name), argv=argv)
        ]
        return _within_limit(values)
    found: list[tuple[str, str]] = []
    for name, value in action.args.items():
        key = name.lower()
        if role == "command":
            hit = key in COMMAND_ARGS
        elif role == "path":
            hit = key in PATH_ARGS
        elif role == "url":
            hit = key in URL_ARGS
        elif role == "sql":
            hit = key in SQL_ARGS or (key == "query" and any(h in base_name(action.tool) for h in SQL_HINTS))
        else:
            hit = True
        if hit:
            if type(value) is str:
                found.append((name, value))
            else:
                found.extend((name, s) for s in _strings(value, argv=argv))
    out = _within_limit(found)
    if role == "url":
        # Any argument whose whole value is a URL is a destination; a URL inside prose is content.
        out.extend(s for s in all_text(action) if _WHOLE_URL.match(s) and s not in out)
    return out


_WHOLE_URL = re.compile(r"^\s*[a-zA-Z][a-zA-Z0-9+.-]{1,15}://\S+\s*$")


def _within_limit(values: list[tuple[str, str]]) -> list[str]:
    for name, text in values:
        if len(text) > MAX_VALUE_CHARS:
            raise InputTooLarge(f"the '{name}' argument's length (characters)", len(text), MAX_VALUE_CHARS)
    return [text for _, text in values]


def all_text(action: Action) -> list[str]:
    values = list(action.args.values())
    for value in values:
        if type(value) is not str:
            return list(_strings(dict(action.args)))
    return values  # flat text arguments (the common case): the same strings, in the same order


def _home(action: Action) -> str | None:
    labels = action.context.labels
    if "home" in labels:
        return labels["home"]
    ws = action.context.workspace or ""
    parts = ws.split("/")
    if len(parts) > 2 and parts[1] in ("home", "Users"):
        return "/".join(parts[:3])
    return "/root" if ws.startswith("/root") else None


def _is_write(action: Action, spec: ToolSpec | None) -> bool:
    if spec is not None and spec.effect in (Effect.WRITE, Effect.IRREVERSIBLE):
        return True
    return base_name(action.tool) in WRITE_TOOLS


def shell_fact(action: Action, spec: ToolSpec | None) -> dict[str, Any]:
    commands = args_with_role(action, spec, "command")
    if not commands:
        return EMPTY_SHELL
    analyze_command = _shell_analyzer()
    ws, home = action.context.workspace, _home(action)
    if len(commands) == 1:
        return analyze_command(commands[0], workspace=ws, home=home).to_fact(present=True)
    facts = [analyze_command(c, workspace=ws, home=home).to_fact() for c in commands]
    merged: dict[str, Any] = {"present": True, "unparsed": any(f["unparsed"] for f in facts)}
    for key in ("commands", "names", "findings", "categories", "paths", "urls"):
        merged[key] = [x for f in facts for x in f[key]]
    rank = {"allow": 0, "ask": 1, "block": 2}
    merged["verdict"] = max((f["verdict"] for f in facts), key=lambda v: rank.get(v, 2))
    merged["summary"] = "; ".join(f["summary"] for f in facts if f["summary"])
    return merged


# The detectors load on first use (a check that reads no shell command never imports the parser);
# each is looked up once: an import statement in a function costs a module lookup on every call.
@cache
def _shell_analyzer() -> Callable[..., Any]:
    from railguard.detect.shell import analyze_command

    return analyze_command


@cache
def _url_extractor() -> Callable[[str], list[str]]:
    from railguard.detect.net import extract_urls

    return extract_urls


def paths_fact(
    action: Action, spec: ToolSpec | None, shell: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    from railguard.detect.paths import analyze_paths

    paths = args_with_role(action, spec, "path")
    if shell is not None:
        paths += [p for p in shell.get("paths", []) if p not in paths]
    return analyze_paths(
        paths, workspace=action.context.workspace, home=_home(action), write=_is_write(action, spec)
    ).to_fact()


def net_fact(action: Action, spec: ToolSpec | None, shell: Mapping[str, Any] | None = None) -> dict[str, Any]:
    extract_urls = _url_extractor()
    urls: list[str] = []
    for value in args_with_role(action, spec, "url"):
        found = extract_urls(value)
        urls.extend(found or [value])
    if shell is not None:
        urls.extend(u for u in shell.get("urls", []) if u not in urls)
    if sum(map(len, urls)) > _MEMO_MAX_CHARS:
        from railguard.detect.net import analyze_urls

        return analyze_urls(urls).to_fact()
    return _thawed(_net_of(tuple(urls)))


# Facts that are pure functions of a text (the URLs' classification, a text's injection score) are
# remembered across actions: a stream or a session repeats its commands, URLs and texts. Bounded in
# entries and in the size of what is remembered; a failed or interrupted computation (the deadline)
# is never cached.
_MEMO_ENTRIES = 4096
_MEMO_MAX_CHARS = 4096


@lru_cache(maxsize=_MEMO_ENTRIES)
def _net_of(urls: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    from railguard.detect.net import analyze_urls

    return _frozen(analyze_urls(urls).to_fact())


def _frozen(fact: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A fact (a mapping of scalars, lists of scalars and lists of flat mappings) made immutable."""
    return tuple(
        (k, tuple(tuple(x.items()) if isinstance(x, Mapping) else x for x in v) if isinstance(v, list) else v)
        for k, v in fact.items()
    )


def _thawed(frozen: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """A fresh copy of a `_frozen` fact: callers may change what they are given."""
    return {
        k: [dict(x) if isinstance(x, tuple) else x for x in v] if isinstance(v, tuple) else v
        for k, v in frozen
    }


def sql_fact(action: Action, spec: ToolSpec | None) -> dict[str, Any]:
    from railguard.detect.sql import analyze_sql

    statements = args_with_role(action, spec, "sql")
    if not statements:
        return {"statements": [], "kinds": [], "tables": [], "destructive": False, "writes": False,
                "unparsed": False, "findings": [], "present": False}  # fmt: skip
    return {**analyze_sql(";\n".join(statements)).to_fact(), "present": True}


def secrets_fact(action: Action, spec: ToolSpec | None) -> dict[str, Any]:
    from railguard.detect.redact import fact

    return fact(all_text(action))


_INJECTION_MIN_CHARS = 16  # shorter texts are not scored (too short to carry an instruction)


def injection_fact(action: Action, spec: ToolSpec | None) -> dict[str, Any]:
    best: dict[str, Any] = {"score": 0.0, "flagged": False, "signals": []}
    texts = [t for t in all_text(action) if len(t) >= _INJECTION_MIN_CHARS]
    for text in texts:
        result = _injection_of(text) if len(text) <= _MEMO_MAX_CHARS else _score(text)
        if result[0] > best["score"]:
            best = {"score": result[0], "flagged": result[1], "signals": list(result[2])}
    return best


def _score(text: str) -> tuple[float, bool, tuple[str, ...]]:
    return _injection_scorer()(text)


@cache
def _injection_scorer() -> Callable[[str], tuple[float, bool, tuple[str, ...]]]:
    from railguard.detect.injection import score_fact

    return score_fact


_injection_of = lru_cache(maxsize=_MEMO_ENTRIES)(_score)


@dataclass(frozen=True, slots=True)
class FactProvider:
    name: str
    compute: Callable[..., Any]
    needs_shell: bool
    doc: str
    warm: Callable[[], Any] | None = None  # loads parsers/models at policy load, not on the first check
    # Whether computing the fact for this action uses the detector `warm` loads (None: always). A
    # check that needs only the trivial answer (no command to parse, no text long enough to score)
    # then never loads it.
    loads: Callable[[Action, ToolSpec | None], bool] | None = None

    def provide(self, action: Action, spec: ToolSpec | None, fact: Callable[[str], Any]) -> Any:
        """The one way the engine computes a fact: facts it builds on come from `fact` (the
        per-action cache), so the shell command is parsed once for every provider that reads it."""
        if self.needs_shell:
            return self.compute(action, spec, fact("shell"))
        return self.compute(action, spec)


def _warm_action(**args: Any) -> Action:
    from railguard.model import Context

    return Action("Bash", args, context=Context(workspace="/tmp/railguard-warm"))


def _warm_shell() -> None:
    shell_fact(_warm_action(command="ls -la | grep x && rm -rf build/"), None)


def _warm_paths() -> None:
    action = _warm_action(file_path="~/.ssh/id_rsa")
    paths_fact(action, None, shell_fact(action, None))


def _warm_net() -> None:
    action = _warm_action(url="https://example.com/a")
    net_fact(action, None, shell_fact(action, None))


def _warm_sql() -> None:
    sql_fact(Action("run_sql", {"sql": "DELETE FROM t WHERE id = 1"}), None)


def _warm_secrets() -> None:
    secrets_fact(_warm_action(text="contact: someone@example.com token=abc"), None)


def _warm_injection() -> None:
    injection_fact(_warm_action(text="Please summarize the attached quarterly report for me."), None)


def _has_command(action: Action, spec: ToolSpec | None) -> bool:
    return bool(args_with_role(action, spec, "command"))


def _has_scored_text(action: Action, spec: ToolSpec | None) -> bool:
    return any(len(t) >= _INJECTION_MIN_CHARS for t in all_text(action))


FACTS: dict[str, FactProvider] = {
    p.name: p
    for p in (
        FactProvider("shell", shell_fact, False, "the parsed shell command(s)", _warm_shell, _has_command),
        FactProvider(
            "paths", paths_fact, True, "file paths: secret-bearing, outside the workspace", _warm_paths
        ),
        FactProvider("net", net_fact, True, "URLs and hosts: private ranges, metadata endpoints", _warm_net),
        FactProvider("sql", sql_fact, False, "SQL statements: kinds, tables, destructive", _warm_sql),
        FactProvider("secrets", secrets_fact, False, "secrets and PII in the arguments", _warm_secrets),
        FactProvider(
            "injection", injection_fact, False, "prompt-injection signals", _warm_injection, _has_scored_text
        ),
    )
}


def register_fact(
    name: str,
    compute: Callable[[Action, ToolSpec | None], Any],
    doc: str = "",
    warm: Callable[[], Any] | None = None,
) -> None:
    """Add a fact provider (an extension point for custom detectors). Register before loading policies."""
    FACTS[name] = FactProvider(name, compute, False, doc, warm)


_warmed: set[str] = set()


def needs_warming(name: str, action: Action, spec: ToolSpec | None) -> bool:
    """Whether computing `name` for `action` would first load its detector in this process (the
    pipeline loads it then, off the deadline's clock)."""
    if name in _warmed:
        return False
    provider = FACTS.get(name)
    if provider is None or provider.warm is None:
        return False
    try:
        return provider.loads is None or provider.loads(action, spec)
    except Exception:  # a malformed input: the computation reports it; loading first is harmless
        return True


def warm_facts(names: Iterable[str]) -> None:
    """Import and initialise the detectors behind `names` once per process, so the first check of a
    freshly loaded policy doesn't pay for loading a parser or a model (and blow its deadline)."""
    for name in names:
        provider = FACTS.get(name)
        if provider is None or provider.warm is None or name in _warmed:
            continue
        try:
            provider.warm()
        except Exception as err:  # a broken detector fails closed at check time, with its own error
            internal_error("detect.warm", err)
            continue
        _warmed.add(name)

"""Commands that plug Railguard into other tools: `hook claude-code`, `install claude-code`,
`mcp-proxy`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from railguard._extras import require
from railguard.errors import ConfigurationError

if TYPE_CHECKING:
    from railguard.engine import Engine
    from railguard.integrations.mcp_proxy import ProxyOptions
    from railguard.remote import RemoteEngine

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

hook_app = typer.Typer(
    help="Run as a hook inside an agent tool (reads the event on stdin).", no_args_is_help=True
)
install_app = typer.Typer(help="Install Railguard into an agent tool's settings.", no_args_is_help=True)

PolicyOpt = Annotated[
    list[Path] | None, typer.Option("--policy", "-p", help="Policy file (repeatable; later ones override).")
]
PackOpt = Annotated[list[str] | None, typer.Option("--pack", help="Built-in pack (repeatable).")]
ProvenanceOpt = Annotated[
    bool,
    typer.Option(
        "--provenance",
        help="Run the provenance guard (needs --db, where its state lives): tool outputs are recorded, "
        "prompts are the user's words.",
    ),
]
ServerOpt = Annotated[
    str | None,
    typer.Option(
        envvar="RAILGUARD_URL",
        help="Railguard server URL: decisions come from it (key: $RAILGUARD_KEY); down -> block.",
    ),
]
UntrustedOpt = Annotated[
    list[str] | None,
    typer.Option("--untrusted", help="Tool name glob whose output is scanned for injection (repeatable)."),
]


@hook_app.command("claude-code")
def hook_claude_code(
    policy: PolicyOpt = None,
    pack: PackOpt = None,
    event: Annotated[
        str | None, typer.Option(help="pre, post or prompt; default: the input's hook_event_name.")
    ] = None,
    allow_mode: Annotated[
        str,
        typer.Option(
            help="defer: an allowed call goes through Claude Code's own permission flow; allow: approve it."
        ),
    ] = "defer",
    untrusted: UntrustedOpt = None,
    db: Annotated[str | None, typer.Option(help="Store URL: trace decisions and results there.")] = None,
    provenance: ProvenanceOpt = False,
    server: ServerOpt = None,
) -> None:
    """Claude Code PreToolUse/PostToolUse (and, with --provenance, UserPromptSubmit) hook: the event
    JSON on stdin, the answer on stdout. Fails closed: any error in a PreToolUse exits 2 (Claude Code
    blocks the call), and so does a --server that cannot be reached or refuses the key; a prompt is
    never blocked."""
    from railguard.integrations.claude_code import read_stdin, serve_hook

    code = serve_hook(
        read_stdin, policies=[str(p) for p in policy or []], packs=pack or [], event=event,
        allow_mode=allow_mode, untrusted=untrusted or [], db=db, provenance=provenance, server=server,
    )  # fmt: skip
    raise typer.Exit(code)


@install_app.command("claude-code")
def install_claude_code(
    policy: PolicyOpt = None,
    pack: PackOpt = None,
    user: Annotated[bool, typer.Option("--user", help="Install into ~/.claude/settings.json.")] = False,
    project: Annotated[
        bool, typer.Option("--project", help="Install into ./.claude/settings.json (the default).")
    ] = False,
    settings: Annotated[
        Path | None, typer.Option(help="Settings file to edit (overrides --user/--project).")
    ] = None,
    allow_mode: Annotated[str, typer.Option(help="Passed to the hook: defer or allow.")] = "defer",
    db: Annotated[
        str | None,
        typer.Option(help="Passed to the hook: trace every decision and result into this store URL."),
    ] = None,
    untrusted: UntrustedOpt = None,
    provenance: ProvenanceOpt = False,
    server: Annotated[
        str | None,
        typer.Option(
            help="Passed to the hook: take decisions from this Railguard server (key: $RAILGUARD_KEY)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the merged settings; write nothing.")
    ] = False,
) -> None:
    """Add Railguard's PreToolUse and PostToolUse hooks to Claude Code's settings (merged, idempotent,
    the file's permissions kept, every previous version kept as settings.json.bak.<time>).
    --policy, --pack, --db, --untrusted, --allow-mode, --provenance and --server are passed to the
    installed hook; --provenance also installs the UserPromptSubmit hook (it needs --db). With
    --server the key is never written: the hook reads $RAILGUARD_KEY from the environment Claude Code
    runs in."""
    import json

    from railguard.errors import ConfigurationError, PolicyError
    from railguard.integrations._claude_code_install import hook_commands, install, settings_path

    if user and project:
        err.print("[red]error:[/red] choose one of --user and --project")
        raise typer.Exit(2)
    if provenance and db is None:
        err.print(
            "[red]error:[/red] --provenance needs --db (the run's provenance state lives in that store)"
        )
        raise typer.Exit(2)
    if policy or pack:
        from railguard.engine import Engine

        try:  # refuse to install a hook that would block every call because its policy is broken
            Engine([str(p) for p in policy or []] or None, packs=pack or None)
        except PolicyError as problem:
            err.print(f"[red]policy error:[/red] {escape(str(problem))}")
            raise typer.Exit(2) from None
    if server is not None and (policy or pack or provenance):
        err.print(
            "[red]error:[/red] --server decides with the server's policy and state: "
            "drop --policy/--pack/--provenance"
        )
        raise typer.Exit(2)
    if server is not None:
        _check_server(server)
    extra = [] if allow_mode == "defer" else ["--allow-mode", allow_mode]
    if server is not None:
        extra += ["--server", server]
    if db is not None:
        extra += ["--db", _absolute_store_url(db)]
    for glob in untrusted or []:
        extra += ["--untrusted", glob]
    if provenance:
        extra.append("--provenance")
    path = settings_path(user=user, override=settings)
    try:
        result = install(path, hook_commands(policy or [], pack or [], extra), dry_run=dry_run)
    except ConfigurationError as problem:
        err.print(f"[red]error:[/red] {escape(str(problem))}")
        raise typer.Exit(1) from None
    if dry_run:
        print(json.dumps(result.settings, indent=2))
        return
    if not result.written:
        out.print(f"[green]already installed[/green] in {escape(str(result.path))} (nothing changed)")
        return
    backup = f" (previous file kept as {escape(str(result.backup))})" if result.backup else ""
    out.print(f"[green]installed[/green] Railguard hooks in {escape(str(result.path))}{backup}")


def _check_server(server: str) -> None:
    """Refuse a URL that cannot work; warn (installing anyway) when the server cannot be asked now."""
    import os

    from railguard.integrations.claude_code import KEY_ENV, remote_engine

    if not os.environ.get(KEY_ENV, "").strip():
        err.print(
            f"[yellow]warning:[/yellow] ${KEY_ENV} is not set here; the hook reads it from the environment "
            "Claude Code runs in, and blocks every call without it"
        )
        if not server.startswith(("http://", "https://")):
            err.print(f"[red]error:[/red] invalid server URL {escape(server[:80])}: use http://host:port")
            raise typer.Exit(2)
        return
    try:
        remote = remote_engine(server)
    except ConfigurationError as problem:
        err.print(f"[red]error:[/red] {escape(str(problem))}")
        raise typer.Exit(2) from None
    with remote:
        if not remote.refresh():
            failure = remote.last_failure.value if remote.last_failure else "no answer"
            err.print(
                f"[yellow]warning:[/yellow] the server at {escape(server)} did not answer with this key "
                f"({failure}); until it does, the hook blocks every call"
            )


def _absolute_store_url(db: str) -> str:
    """The hook runs in whatever folder Claude Code is in: a relative SQLite path is made absolute."""
    prefix = "sqlite:///"
    if db.startswith(prefix) and not db.startswith(prefix + "/") and db != prefix + ":memory:":
        return prefix + str(Path(db[len(prefix) :]).resolve())
    if "://" not in db:  # a bare path
        return prefix + str(Path(db).resolve())
    return db


def mcp_proxy(
    command: Annotated[
        list[str] | None, typer.Argument(help="The MCP server command and its arguments, after --.")
    ] = None,
    policy: PolicyOpt = None,
    pack: PackOpt = None,
    hide_blocked: Annotated[
        bool,
        typer.Option("--hide-blocked", help="Remove from tools/list the tools the policy always blocks."),
    ] = False,
    server_name: Annotated[
        str | None, typer.Option(help="Server name in tool names (default: the name the server reports).")
    ] = None,
    tool_name_format: Annotated[
        str, typer.Option(help="Tool name the policy sees; {server} and {tool} are filled in.")
    ] = "mcp__{server}__{tool}",
    untrusted: UntrustedOpt = None,
    block_injection: Annotated[
        bool, typer.Option("--block-injection", help="Withhold untrusted results with injection signals.")
    ] = False,
    db: Annotated[
        str | None, typer.Option(help="Store URL: trace decisions there and ask humans through approvals.")
    ] = None,
    approval_wait: Annotated[float, typer.Option(help="Seconds a call waits for a human's approval.")] = 0.0,
    listen: Annotated[
        str | None,
        typer.Option(
            help="Serve MCP streamable HTTP at http://HOST:PORT/mcp (loopback only) instead of stdio."
        ),
    ] = None,
    upstream: Annotated[
        str | None, typer.Option(help="Upstream MCP server URL (streamable HTTP) instead of a command.")
    ] = None,
    agent: Annotated[
        str, typer.Option(help="Agent name on every decision, trace and approval of this proxy.")
    ] = "mcp-proxy",
    tenant: Annotated[str | None, typer.Option(help="Tenant the calls belong to (ctx.tenant).")] = None,
    user: Annotated[str | None, typer.Option(help="User the agent acts for (ctx.user).")] = None,
    server: ServerOpt = None,
) -> None:
    """Guard an MCP server: sit between an MCP client and the server (a subprocess, or a URL with
    --upstream), check every tools/call, redact secrets in results. The client side is stdio, or
    streamable HTTP with --listen. Example: railguard mcp-proxy -p policy.yaml -- python server.py"""
    try:
        require("mcp", "mcp", "anyio")
    except ConfigurationError as e:
        err.print(f"[red]cannot start the proxy:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    from functools import partial

    import anyio

    from railguard.errors import PolicyError
    from railguard.integrations._mcp_early import adopt, discard
    from railguard.integrations.mcp_proxy import ProxyOptions, run_stdio_proxy

    if bool(command) == bool(upstream):
        err.print(
            "[red]error:[/red] give either the MCP server command after -- (e.g. -- python server.py) "
            "or --upstream URL"
        )
        raise typer.Exit(2)
    engine: Engine | RemoteEngine
    stdio = listen is None and bool(command)  # the original mode: stdio on both sides
    warm_later: Callable[[], object] | None = None
    if server is not None:
        engine = _remote_for(server, policy=bool(policy or pack), db=db, hide_blocked=hide_blocked)
        engine.wait_s = approval_wait
    else:
        try:
            engine = local = _engine_for(policy, pack, warm=not stdio)
        except PolicyError as problem:
            err.print(f"[red]policy error:[/red] {escape(str(problem))}")
            raise typer.Exit(2) from None
        if stdio:  # its detectors load once the client has its answer to `initialize`
            warm_later = partial(_warm_in_background, local)
        if db is not None:
            _attach_store(engine, db, approval_wait)
    options = ProxyOptions(
        server_name=server_name,
        tool_name_format=tool_name_format,
        hide_blocked=hide_blocked,
        untrusted=tuple(untrusted or ()),
        block_injection=block_injection,
        agent=agent,
        tenant=tenant,
        user=user,
    )
    if stdio and command:
        # started by the command line's entry, before these imports, and maybe already initialized
        process, early = adopt(command) or (None, None)
        run = partial(run_stdio_proxy, process=process, early=early, on_first_answer=warm_later)
        raise typer.Exit(anyio.run(run, engine, command[0], command[1:], options))
    discard()
    raise typer.Exit(_run_with_upstream(engine, options, command or [], upstream, listen))


def _remote_for(server: str, *, policy: bool, db: str | None, hide_blocked: bool) -> RemoteEngine:
    """The proxy's engine with --server: the server decides, records and asks humans itself."""
    from railguard.integrations.claude_code import remote_engine

    for given, flag, why in (
        (policy, "--policy/--pack", "the server's active policy decides"),
        (db is not None, "--db", "the server records every decision"),
        (hide_blocked, "--hide-blocked", "the policy is on the server, not here"),
    ):
        if given:
            err.print(f"[red]error:[/red] {flag} does not go with --server: {why}")
            raise typer.Exit(2)
    try:
        return remote_engine(server)
    except ConfigurationError as problem:
        err.print(f"[red]cannot start the proxy:[/red] {escape(str(problem))}")
        raise typer.Exit(2) from None


def _run_with_upstream(
    engine: Engine | RemoteEngine,
    options: ProxyOptions,
    command: list[str],
    url: str | None,
    listen: str | None,
) -> int:
    """The modes that reach their upstream through the session bridge: HTTP upstream and/or HTTP clients."""
    import anyio

    from railguard.errors import ConfigurationError
    from railguard.integrations._mcp_http import parse_listen, run_http_proxy, run_stdio_to_upstream
    from railguard.integrations._mcp_http_upstream import HttpUpstream, StdioUpstream, Upstream

    target: Upstream = HttpUpstream(url) if url else StdioUpstream(command[0], tuple(command[1:]))
    if listen is None:
        return anyio.run(run_stdio_to_upstream, engine, target, options)
    try:
        host, port = parse_listen(listen)
    except ConfigurationError as problem:
        err.print(f"[red]error:[/red] {escape(str(problem))}")
        return 2
    return anyio.run(run_http_proxy, engine, host, port, target, options)


def _engine_for(policy: list[Path] | None, pack: list[str] | None, *, warm: bool = True) -> Engine:
    """The proxy's engine, its detectors loading in the background (now, or with `warm=False` when
    the caller starts `_warm_in_background` later): the client's `initialize` goes to the upstream
    server without waiting for them, and a tools/call that comes first loads what it needs itself
    (outside its deadline), so no verdict depends on the warm-up having finished."""
    from railguard.engine import Engine

    engine = Engine([str(p) for p in policy or []] or None, packs=pack or None, warm=False)
    if warm:
        _warm_in_background(engine)
    return engine


def _warm_in_background(engine: Engine) -> None:
    import threading

    from railguard.engine import warm_up

    threading.Thread(target=warm_up, args=(engine.policy,), name="railguard-warm-up", daemon=True).start()


def _attach_store(engine: Engine, db: str, approval_wait: float) -> None:
    """Tracing into the store, and human approvals through it when that module is available."""
    from railguard.trace import configure_tracing, trace_engine

    tracing = configure_tracing(db, service_name="railguard-mcp-proxy")
    trace_engine(engine)
    try:
        from railguard.state.approvals import install_approvals
    except ImportError:
        return
    if tracing.store is not None:
        install_approvals(engine, tracing.store, wait=approval_wait)


def register(app: typer.Typer) -> None:
    app.command("mcp-proxy", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
        mcp_proxy
    )
    app.add_typer(hook_app, name="hook")
    app.add_typer(install_app, name="install")

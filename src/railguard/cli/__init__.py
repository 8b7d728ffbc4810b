"""The `railguard` command line (Typer + Rich). Each command is a thin shell over the library; each
concern keeps its commands in its own module (`railguard.cli._app` attaches them).

Start-up is what a person waits for, so nothing heavy loads before a command needs it:
`railguard --help` prints the static command table (`_table`), `railguard check` parses its few
options itself and imports only the engine (`_check`); anything they do not handle as plainly as
Typer would (another command, a malformed option, a command's own --help) goes to the Typer app,
built with only the modules that command needs."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

    app: typer.Typer


def main(argv: list[str] | None = None) -> Any:
    args = list(sys.argv[1:] if argv is None else argv)
    owned = argv is None  # the process runs the CLI (a test calling main(args) keeps its own)
    if args[:1] == ["check"]:  # before the command table: its terminal-size import is not needed
        if owned:
            from railguard.cli._process import pause_collector

            pause_collector()
            _compiled_code("check")
        from railguard.cli._check import fast_check

        code = fast_check(args[1:])
        if code is not None:
            if owned:
                from railguard.cli._process import exit_now

                exit_now(code)
            sys.exit(code)
    if args[:1] == ["mcp-proxy"]:  # its upstream server starts while the proxy imports (see _mcp_early)
        from railguard.integrations._mcp_early import start_early

        start_early(args[1:])
    from railguard.cli import _table

    if not args or args == ["--help"]:  # no command: the help, and exit 2 as Click does
        sys.stdout.write(_table.render_help())
        sys.stdout.flush()
        if not args:
            sys.exit(2)
        return None
    from railguard.cli._app import build

    if owned and _table.known(args[0]):  # (mcp-proxy: once its server has started)
        _compiled_code(args[0])
    # A known command: only the modules it needs; anything else: every command (Typer's errors,
    # "Did you mean ...", see them all).
    return build(args[:1] if _table.known(args[0]) else None)(args=args)


def _compiled_code(command: str) -> None:
    """Methods of dataclasses and regular expressions from the per-user code tables of `command` (see
    `railguard._dataclass_code` and `railguard._regex_code`)."""
    from railguard import _dataclass_code, _regex_code

    _dataclass_code.install(command)
    _regex_code.install(command)


def __getattr__(name: str) -> Any:
    if name == "app":  # every command: what tests and embedders invoke
        from railguard.cli._app import build

        built = build()
        globals()["app"] = built
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "main"]

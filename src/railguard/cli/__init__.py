"""The `railguard` command line (Typer + Rich). Each command is a thin shell over the library; each
concern keeps its commands in its own module here and is attached below."""

from __future__ import annotations

from typing import Any

import typer

from railguard.cli import (
    _alert,
    _approvals,
    _audit,
    _backtest,
    _core,
    _decisions,
    _detect,
    _diagnose,
    _gate,
    _integrations,
    _keys,
    _policy_server,
    _proposals,
    _replay,
    _serve,
    _tools,
    _traces,
)

app = typer.Typer(
    name="railguard",
    help="Railguard: a real-time reliability engine for AI agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.registered_commands.extend(_core.app.registered_commands)
app.add_typer(_core.policy_app, name="policy")

# Each concern keeps its commands in its own module, exposing `register(app)`.
for _module in (
    _alert,
    _approvals,
    _audit,
    _backtest,
    _decisions,
    _detect,
    _diagnose,
    _gate,
    _integrations,
    _keys,
    _policy_server,
    _proposals,
    _replay,
    _serve,
    _tools,
    _traces,
):
    _module.register(app)


def main(argv: list[str] | None = None) -> Any:
    return app(args=argv)


__all__ = ["app", "main"]

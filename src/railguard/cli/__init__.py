"""The `railguard` command line (Typer + Rich). Each command is a thin shell over the library; each
concern keeps its commands in its own module here and is attached below."""

from __future__ import annotations

from typing import Any

import typer

from railguard.cli import _core

app = typer.Typer(
    name="railguard",
    help="Railguard: a real-time reliability engine for AI agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.registered_commands.extend(_core.app.registered_commands)
app.add_typer(_core.policy_app, name="policy")

# -- command modules (one line each: import the module and attach its commands) -------------------
# (keep this block sorted; each module exposes `register(app: typer.Typer) -> None`)
from railguard.cli import _approvals  # noqa: E402

_approvals.register(app)
from railguard.cli import _integrations  # noqa: E402

_integrations.register(app)
from railguard.cli import _serve  # noqa: E402

_serve.register(app)
from railguard.cli import _traces  # noqa: E402

_traces.register(app)
# -- end of command modules ------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> Any:
    return app(args=argv)


__all__ = ["app", "main"]

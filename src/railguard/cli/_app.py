"""The Typer app: every concern keeps its commands in its own module (`register(app)`), attached
here. `build()` attaches all of them (the app the tests and `--help` of a group see); `build(names)`
only the modules that define those top-level commands, so `railguard traces list` never imports
the server and `railguard hook ...` never imports the store's CLI."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import typer

from railguard.cli._table import HELP, MODULES, modules_for


def build(commands: Iterable[str] | None = None) -> typer.Typer:
    """The app with every command (`commands=None`) or with those that define `commands`. The core
    module is always attached, so that a one-command app never turns into that command itself."""
    wanted = MODULES if commands is None else modules_for(commands)
    app = typer.Typer(
        name="railguard",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    from railguard.cli import _core

    app.registered_commands.extend(_core.app.registered_commands)
    app.add_typer(_core.policy_app, name="policy")
    for name in MODULES:
        if name != "_core" and name in wanted:
            importlib.import_module(f"railguard.cli.{name}").register(app)
    return app


__all__ = ["build"]

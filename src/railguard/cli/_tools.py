"""`railguard tools suggest`: tool declarations (effect, output trust) from tool schemas."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

from railguard.cli._core import _open, err

tools_app = typer.Typer(help="Declare tools: effect and output trust.", no_args_is_help=True)


@tools_app.command("suggest")
def suggest(
    schemas: Annotated[
        str,
        typer.Argument(help="An MCP tools/list result or a list of function schemas (JSON), or - for stdin."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per tool (JSON Lines).")] = False,
) -> None:
    """Suggest each tool's effect (read/write/exec/irreversible) and output trust (trusted/untrusted)
    from its name, description and annotations, with the reason, as a `tools:` policy section for a
    person to confirm. Unclear tools get the cautious answer (acting, untrusted)."""
    from railguard.errors import ConfigurationError
    from railguard.policy.suggest import suggest_tools, suggestions_yaml

    with _open(schemas) as stream:
        text = stream.read()
    try:
        suggestions = suggest_tools(json.loads(text))
    except json.JSONDecodeError as e:
        err.print(
            f"[red]error:[/red] {escape(schemas)} is not JSON: {escape(e.msg)} at line {e.lineno}, column {e.colno}"
        )
        raise typer.Exit(2) from None
    except ConfigurationError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    if as_json:
        for s in suggestions:
            record = {
                "tool": s.name,
                "effect": s.effect.value,
                "effect_reason": s.effect_reason,
                "output_trust": s.output_trust.value,
                "trust_reason": s.trust_reason,
            }
            print(json.dumps(record))
        return
    print(suggestions_yaml(suggestions), end="")


def register(app: typer.Typer) -> None:
    app.add_typer(tools_app, name="tools")

"""`railguard replay`: agent transcripts through the engine with every stateful guard."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from railguard._jsonl import read_objects
from railguard.cli._core import PackOpt, PolicyOpt, _engine, _open, err


@contextlib.contextmanager
def _state_store(db: str | None) -> Iterator[str]:
    """The given store, or a throw-away SQLite file so a replay never touches live state."""
    if db:
        yield db
        return
    with tempfile.TemporaryDirectory(prefix="railguard-replay-") as folder:
        yield f"sqlite:///{Path(folder) / 'replay.db'}"


def replay(
    transcript: Annotated[str, typer.Argument(help="Transcript file (JSON Lines), or - for stdin.")],
    policy: PolicyOpt = None,
    pack: PackOpt = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="State store URL (default: an isolated, temporary one)."),
    ] = None,
) -> None:
    """Replay agent runs (system/user/action/tool_result events, JSON Lines) through the engine with
    every stateful guard; prints one JSON decision per action line, in order. Exit 2 if a line was
    invalid. The format: docs/replay.md."""
    from railguard.diagnose.replay import Replayer
    from railguard.state import install_cushions, install_provenance
    from railguard.store import open_store

    engine = _engine(policy, pack)
    bad = 0
    with _state_store(db) as url, _open(transcript) as stream:
        store = open_store(url)
        cushions = None
        try:
            cushions = install_cushions(engine, store)
            install_provenance(engine, store if db else None)
            replayer = Replayer(engine)
            for result in replayer.replay(read_objects(stream)):
                bad += result.error is not None
                print(json.dumps(result.to_json_line(), default=str), flush=True)
        finally:
            if cushions is not None:
                cushions.close()  # the kill switch's refresher, before its (temporary) store goes away
            engine.close()
            store.close()
    if bad:
        err.print(f'[red]error:[/red] {bad} invalid line(s); see the lines with an "error" key')
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command()(replay)


__all__ = ["register"]

"""`railguard.run(...)`: one scope for an agent run. Actions created inside it carry its context;
tracing and stateful guards hook into it (`RUN_HOOKS`)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from railguard.model import Context, current_context, reset_current_context, set_current_context

# Each hook is called with the run's Context on entry and returns a context manager closed on exit
# (the tracing layer opens the `invoke_agent` span this way).
RUN_HOOKS: list[Callable[[Context], AbstractContextManager[Any]]] = []


@contextlib.contextmanager
def run(
    *,
    agent: str | None = None,
    tenant: str | None = None,
    user: str | None = None,
    roles: list[str] | tuple[str, ...] | None = None,
    session: str | None = None,
    run: str | None = None,
    run_id: str | None = None,
    env: str | None = None,
    workspace: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> Iterator[Context]:
    """Open a run scope. Unset fields are inherited from an enclosing scope; a new run id is made
    unless one is given (pass the same `run` when resuming a run so decision ids stay stable).
    `run` is the field's name in `Context` and in the JSON of `railguard check`; `run_id` is the
    same, kept for existing callers."""
    if run is not None and run_id is not None and run != run_id:
        raise ValueError(f"run={run!r} and run_id={run_id!r} disagree: pass one of them")
    run_id = run or run_id
    outer = current_context()
    ctx = outer.merged(
        agent=agent,
        tenant=tenant,
        user=user,
        roles=tuple(roles) if roles is not None else None,
        session=session,
        run=run_id or uuid.uuid4().hex,
        env=env,
        workspace=workspace,
        labels={**outer.labels, **labels} if labels else None,
    )
    token = set_current_context(ctx)
    try:
        with contextlib.ExitStack() as stack:
            for hook in list(RUN_HOOKS):
                stack.enter_context(hook(ctx))
            yield ctx
    finally:
        reset_current_context(token)

"""Rules drafted in plain English for one tenant (the API and the dashboard's policies page): the
tenant's active revision (or the server's default policy) is the current policy, its history the
backtest window. The draft is returned for review, never stored or activated."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from railguard.diagnose.draft import DEFAULT_RETRIES, CurrentPolicy, DraftResult, draft_rule
from railguard.store import PolicyRevisions, Store

DEFAULT_WINDOW_S = 7 * 86400
MAX_WINDOW_S = 90 * 86400


def draft_for(
    store: Store,
    revisions: PolicyRevisions,
    settings: Any,
    *,
    tenant: str,
    request: str,
    window_s: float = DEFAULT_WINDOW_S,
    retries: int = DEFAULT_RETRIES,
) -> DraftResult:
    """Raises DraftError (no model configured: `usage`; the provider failed) and PolicyError."""
    now = time.time()
    with tempfile.TemporaryDirectory(prefix="railguard-current-", ignore_cleanup_errors=True) as folder:
        active = revisions.active(tenant=tenant)
        if active is not None:
            path = Path(folder) / "current.yaml"
            path.write_text(active.content, encoding="utf-8")
            current = CurrentPolicy(paths=(str(path),))
        else:
            paths = tuple(str(p) for p in settings.policy)
            current = CurrentPolicy(
                paths=paths, packs=tuple(settings.packs) or (() if paths else ("default",))
            )
        return draft_rule(
            request, setting=None, current=current, store=store, since=now - window_s, until=now,
            tenant=tenant, retries=retries,
        )  # fmt: skip

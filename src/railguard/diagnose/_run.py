"""`run_detectors(store, ...)`: every detector over a window, findings saved (deduplicated), and an
incremental mode that only re-examines agents with runs since the last watermark."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import select

from railguard.diagnose import _data, _detectors, _regression
from railguard.diagnose._data import Window
from railguard.diagnose._tables import watermarks
from railguard.diagnose.findings import Finding, Upserted, save_findings, severity_rank
from railguard.store import Store

DEFAULT_SINCE_S = 7 * 86_400


@dataclass
class DiagnoseResult:
    findings: list[Finding]
    changes: list[Upserted] = field(default_factory=list)
    window: Window | None = None
    agents_examined: int | None = None  # None: every agent (a full run)


def run_detectors(
    store: Store,
    *,
    since: float | None = None,
    until: float | None = None,
    tenant: str | None = None,
    agent: str | None = None,
    incremental: bool = False,
    save: bool = True,
    now: float | None = None,
) -> DiagnoseResult:
    """Run every detector over [since, until) (default: the last 7 days up to now). `tenant=None`
    reads every tenant (admin callers); findings always carry their own tenant. `incremental`: only
    agents with runs newer than the previous run's watermark are examined (their baselines still come
    from the whole window). `save`: store the findings (deduplicated) and return what changed."""
    store.migrate()  # the diagnose tables register on import, possibly after the store opened
    now = time.time() if now is None else now
    until = now if until is None else until
    since = until - DEFAULT_SINCE_S if since is None else since
    if since >= until:
        raise ValueError(f"empty window: since ({since}) must be before until ({until})")
    mark_name = f"detectors:{tenant or '*'}:{agent or '*'}"
    window = Window(since, until, tenant, agent)
    examined: int | None = None
    with store.read_connection() as conn:
        if incremental:
            mark = conn.execute(select(watermarks.c.value).where(watermarks.c.name == mark_name)).scalar()
            if mark is not None:
                pairs = _data.active_agents(conn, max(mark, since), tenant)
                pairs = [(t, a) for t, a in pairs if agent is None or a == agent]
                window = Window(since, until, tenant, agent, tuple(pairs))
                examined = len(pairs)
        found = _detect(conn, window) if examined != 0 else []
    changes = save_findings(store, found, now=now) if save else []
    if save:
        _set_watermark(store, mark_name, until, now)
    found.sort(key=lambda f: (-severity_rank(f.severity), f.first_seen))
    return DiagnoseResult(found, changes, window, examined)


def _detect(conn: object, window: Window) -> list[Finding]:
    from sqlalchemy import Connection

    assert isinstance(conn, Connection)
    scan = _detectors.Scan(conn, window, _detectors.boundaries_for(window.since, window.until))
    bucket_s = int(_detectors.boundaries_step(window.since, window.until))
    baseline = _data.with_lookback(window)
    since_ns = int(window.since * _data.NS)
    baseline_runs = _data.run_rows(conn, baseline)
    run_rows = [r for r in baseline_runs if r.start_ns >= since_ns]
    found: list[Finding] = []
    # Recurrences are judged against the agent's own baseline (see _recurrence), from the lookback on.
    buckets = _detectors.run_buckets(
        scan, baseline_runs, bucket_s, _data.bucket_origin(baseline.since, bucket_s)
    )
    found += _detectors.loop(
        scan,
        _data.repeated_calls(conn, baseline, _detectors.LOOP_REPEATS),
        _data.loop_guard_hits(conn, window),
        buckets,
    )
    found += _detectors.cost_spike(scan, run_rows)
    found += _detectors.token_bloat(scan, _data.token_growth(conn, window))
    found += _detectors.latency_regression(scan, _data.step_latency(conn, window))
    found += _detectors.error_rate(
        scan,
        _data.tool_errors_by_bucket(conn, baseline, bucket_s),
        bucket_s,
        _data.bucket_origin(baseline.since, bucket_s),
    )
    found += _detectors.model_drift(scan, _data.model_usage(conn, window, bucket_s))
    found += _regression.regression(
        scan,
        baseline_runs,
        _data.failure_labels(conn, baseline),
        _data.run_revisions(conn, baseline),
        _data.failed_runs(conn, baseline),
    )
    found += _detectors.confidence_drop(scan, _data.confidence_samples(conn, window))
    found += _detectors.violation_cluster(scan, _data.refused_calls(conn, baseline), buckets)
    found += _detectors.approvals(scan, _data.decided_approvals(conn, window))
    if window.agents is not None:
        keep = set(window.agents)
        found = [f for f in found if (f.tenant, f.agent) in keep]
    return found


def _set_watermark(store: Store, name: str, value: float, now: float) -> None:
    with store.write_transaction() as conn:
        updated = conn.execute(
            watermarks.update().where(watermarks.c.name == name).values(value=value, updated_at=now)
        ).rowcount
        if not updated:
            conn.execute(watermarks.insert().values(name=name, value=value, updated_at=now))

"""Whether something an agent's runs keep doing (repeating one call, meeting one rule) is new for it.

A recurrence is only a finding when it is abnormal for that agent: an ask rule that fires on a steady
share of its runs every week, or status polling it always does, is how the agent works. So the runs
showing it are counted per time bucket over the window and the baseline before it, and at each boundary
of the window the share after it is tested (exact binomial tail) against the share before it, taken
as (k + 1/2) / (n + 1), Jeffreys' estimate (a short baseline without any is no proof of a zero share),
with a small background share as the floor; the best boundary's p value is Bonferroni-corrected, and the
share must also have at least doubled. Only where no boundary has MIN_BASELINE_RUNS runs before it (a
new agent, a short window) is the window judged against the floor alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from railguard.diagnose._rates import split_at_edges, two_rate_loglik
from railguard.diagnose._stats import binomial_upper_tail

MIN_BASELINE_RUNS = 20


@dataclass(frozen=True, slots=True)
class Recurrence:
    p: float
    runs: int  # runs showing it since the onset (the window's, without a baseline)
    of: int  # runs since the onset
    onset: float | None  # the boundary it rose at; None when judged without a baseline
    rate_before: float | None


def bucket_of(ts: float, origin: float, bucket_s: int) -> int:
    return int((ts - origin) // bucket_s)


def judge_recurrence(
    runs_per_bucket: Mapping[int, int],
    showing: Iterable[tuple[str, float]],
    edges: Sequence[tuple[float, int]],
    *,
    origin: float,
    bucket_s: int,
    window_since: float,
    background: float,
    alpha: float,
) -> Recurrence | None:
    """`runs_per_bucket`: the agent's runs per bucket (baseline and window); `showing`: (run id, start)
    of the runs that show the recurrence; `edges`: the window's boundaries with their first bucket."""
    first: dict[str, float] = {}
    for run, at in showing:
        first[run] = min(at, first.get(run, at))
    events: dict[int, int] = {}
    for at in first.values():
        b = bucket_of(at, origin, bucket_s)
        events[b] = events.get(b, 0) + 1
    counts = {b: (n, min(n, events.get(b, 0))) for b, n in runs_per_bucket.items()}
    tried: list[tuple[float, float, int, int, int, int]] = []
    for boundary, n0, e0, n1, e1 in split_at_edges(counts, edges):
        if n0 < MIN_BASELINE_RUNS or n1 == 0:
            continue
        if e1 * n0 >= 2 * e0 * n1 and e1:  # at least doubled
            reference = max(background, (e0 + 0.5) / (n0 + 1))
            tried.append((binomial_upper_tail(e1, n1, reference), boundary, n0, e0, n1, e1))
        else:
            tried.append((1.0, boundary, n0, e0, n1, e1))
    if not tried:
        start = bucket_of(window_since, origin, bucket_s)
        n = sum(c for b, c in runs_per_bucket.items() if b >= start)
        k = sum(1 for at in first.values() if at >= window_since)
        p = binomial_upper_tail(k, max(n, k), background)
        return Recurrence(p, k, max(n, k), None, None) if k and p <= alpha else None
    p = min(1.0, min(t[0] for t in tried) * len(tried))
    if p > alpha:
        return None
    # The onset: the most likely step among the boundaries where it rose significantly.
    rising = [t for t in tried if t[0] * len(tried) <= alpha]
    _, boundary, n0, e0, n1, e1 = max(rising, key=lambda t: two_rate_loglik(t[2], t[3], t[4], t[5]))
    return Recurrence(p, e1, n1, boundary, e0 / n0)

"""Rises of a rate (failed calls per call, looping runs per run) at a boundary in time.

Counts per time bucket are split at each candidate boundary. Whether the rate rose is the exact
conditional test for two Poisson rates: given the k events of both sides, the events after the boundary
are Binomial(k, share of the exposure after) when nothing changed. Unlike the normal approximation of
the two-proportion z test it stays honest with a handful of events, which is where moderate rises on
quiet tools live. The best boundary's p value is Bonferroni-corrected over the boundaries tried; the
onset reported is the most likely step (two-rate likelihood), which is not always the most significant.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from railguard.diagnose._stats import binomial_upper_tail


@dataclass(frozen=True, slots=True)
class RateRise:
    boundary: float  # the most likely onset
    n_before: int
    events_before: int
    n_after: int
    events_after: int
    p: float  # Bonferroni-corrected over the boundaries tried

    @property
    def rate_before(self) -> float:
        return self.events_before / self.n_before

    @property
    def rate_after(self) -> float:
        return self.events_after / self.n_after


def conditional_rise_p(events_before: int, n_before: int, events_after: int, n_after: int) -> float:
    """One-sided exact p value that the rate after is higher (conditional binomial test)."""
    total = events_before + events_after
    if n_before <= 0 or n_after <= 0 or total == 0:
        return 1.0
    return binomial_upper_tail(events_after, total, n_after / (n_before + n_after))


def two_rate_loglik(n0: int, e0: int, n1: int, e1: int) -> float:
    """Log-likelihood of a step between two Bernoulli rates, each at its estimate."""

    def part(n: int, e: int) -> float:
        r = e / n
        return (e * math.log(r) if e else 0.0) + ((n - e) * math.log(1 - r) if n - e else 0.0)

    return part(n0, e0) + part(n1, e1)


def split_at_edges(
    buckets: Mapping[int, tuple[int, int]], edges: Sequence[tuple[float, int]]
) -> Iterator[tuple[float, int, int, int, int]]:
    """(boundary, trials before, events before, trials after, events after) at each edge, where
    `buckets` maps a bucket index to (trials, events) and an edge is (boundary, first bucket after)."""
    ordered = sorted(buckets)
    trials = [0, *itertools.accumulate(buckets[b][0] for b in ordered)]
    events = [0, *itertools.accumulate(buckets[b][1] for b in ordered)]
    for boundary, edge in edges:
        cut = bisect.bisect_left(ordered, edge)
        yield boundary, trials[cut], events[cut], trials[-1] - trials[cut], events[-1] - events[cut]


def scan_rate_rise(
    buckets: Mapping[int, tuple[int, int]],
    edges: Sequence[tuple[float, int]],
    *,
    min_trials: int = 20,
) -> RateRise | None:
    """`buckets`: bucket index -> (trials, events); `edges`: (boundary time, first bucket index after
    it). The boundary where the rate rose most significantly, with the most likely step as its onset;
    None when no boundary has `min_trials` on both sides."""
    tried: list[tuple[float, float, int, int, int, int]] = []
    for boundary, n0, e0, n1, e1 in split_at_edges(buckets, edges):
        if n0 < min_trials or n1 < min_trials:
            continue
        tried.append((conditional_rise_p(e0, n0, e1, n1), boundary, n0, e0, n1, e1))
    if not tried:
        return None
    p = min(1.0, min(t[0] for t in tried) * len(tried))
    # Only steps upwards are onsets; a rate that fell is no rise, whatever its likelihood.
    rising = [t for t in tried if t[5] * t[2] > t[3] * t[4]] or tried
    _, boundary, n0, e0, n1, e1 = max(rising, key=lambda t: two_rate_loglik(t[2], t[3], t[4], t[5]))
    return RateRise(boundary, n0, e0, n1, e1, p)

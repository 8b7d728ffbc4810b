"""Robust statistics for the detectors, written out (no SciPy): median/MAD, the Mann-Whitney U test
(normal approximation with tie correction), a two-proportion test, binomial tails, and a change-point
scan that finds the day boundary where a metric moved most significantly.

Baselines are seasonality-free: a daily or weekly rhythm is not modelled, so a detector compares the
samples before a boundary with those after it, never an hour of the day with the same hour before.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MAD_SCALE = 1.4826  # MAD * this estimates the standard deviation of normal data


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("median of no values")
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def mad(values: Sequence[float]) -> float:
    center = median(values)
    return median([abs(v - center) for v in values])


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """1-based ranks (ties get their average rank) and the tie term sum(t^3 - t) of the variance."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    tie_term = 0.0
    i = 0
    n = len(order)
    while i < n:
        j = i
        while j + 1 < n and values[order[j + 1]] == values[order[i]]:
            j += 1
        rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            out[order[k]] = rank
        size = j - i + 1
        tie_term += size**3 - size
        i = j + 1
    return out, tie_term


def _u_test(rank_sum_after: float, n1: int, n2: int, tie_term: float) -> float:
    """z of the one-sided Mann-Whitney test (normal approximation, tie-corrected, continuity-corrected)."""
    n = n1 + n2
    u = rank_sum_after - n2 * (n2 + 1) / 2
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return 0.0
    return (u - n1 * n2 / 2 - 0.5) / math.sqrt(variance)


def mann_whitney_greater(before: Sequence[float], after: Sequence[float]) -> tuple[float, float]:
    """One-sided Mann-Whitney U test that `after` tends to be larger than `before`. Returns (z, p)."""
    n1, n2 = len(before), len(after)
    if n1 == 0 or n2 == 0:
        return 0.0, 1.0
    rank, tie_term = ranks([*before, *after])
    z = _u_test(sum(rank[n1:]), n1, n2, tie_term)
    return z, normal_sf(z)


def proportion_greater(
    errors_before: int, n_before: int, errors_after: int, n_after: int
) -> tuple[float, float]:
    """One-sided two-proportion z test that the rate after is higher. Returns (z, p)."""
    if n_before == 0 or n_after == 0:
        return 0.0, 1.0
    pooled = (errors_before + errors_after) / (n_before + n_after)
    variance = pooled * (1 - pooled) * (1 / n_before + 1 / n_after)
    if variance <= 0:
        return 0.0, 1.0
    z = (errors_after / n_after - errors_before / n_before) / math.sqrt(variance)
    return z, normal_sf(z)


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exact (log space)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    total = 0.0
    for i in range(k, n + 1):
        log_term = (
            math.lgamma(n + 1)
            - math.lgamma(i + 1)
            - math.lgamma(n - i + 1)
            + i * math.log(p)
            + (n - i) * math.log1p(-p)
        )
        total += math.exp(log_term)
    return min(1.0, total)


def all_successes_lower_bound(n: int, alpha: float = 0.05) -> float:
    """One-sided Clopper-Pearson lower bound of a rate when all n trials succeeded."""
    return alpha ** (1 / n) if n > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Shift:
    """A change point: samples from `boundary` on differ from those before it."""

    boundary: float
    before_median: float
    after_median: float
    n_before: int
    n_after: int
    z: float
    p: float  # Bonferroni-adjusted over the boundaries tried

    @property
    def ratio(self) -> float:
        return self.after_median / self.before_median if self.before_median else math.inf


def scan_shift(
    samples: Sequence[tuple[float, float]],
    boundaries: Sequence[float],
    *,
    increase: bool = True,
    min_samples: int = 8,
    alpha: float = 1e-3,
) -> Shift | None:
    """The boundary where the metric (time, value samples) rose (or fell) most significantly, if the
    best one passes a Bonferroni-corrected Mann-Whitney test; None otherwise. The samples after the
    boundary are all later ones, so only a sustained change qualifies."""
    ordered = thin(sorted(samples))
    times = [t for t, _ in ordered]
    sign = 1.0 if increase else -1.0
    # The pooled ranks do not depend on the split: rank once, then each boundary is a prefix sum.
    rank, tie_term = ranks([sign * v for _, v in ordered])
    prefix = [0.0]
    for r in rank:
        prefix.append(prefix[-1] + r)
    n = len(ordered)
    tried: list[tuple[float, float, int]] = []
    for boundary in boundaries:
        split = _bisect(times, boundary)
        if split < min_samples or n - split < min_samples:
            continue
        z = _u_test(prefix[n] - prefix[split], split, n - split, tie_term)
        tried.append((z, boundary, split))
    if not tried:
        return None
    z, boundary, split = max(tried)
    p = min(1.0, normal_sf(z) * len(tried))
    if p > alpha:
        return None
    before_values = [v for _, v in ordered[:split]]
    after_values = [v for _, v in ordered[split:]]
    return Shift(boundary, median(before_values), median(after_values), split, len(ordered) - split, z, p)


MAX_SAMPLES = 4000


def thin(ordered: Sequence[tuple[float, float]], limit: int = MAX_SAMPLES) -> list[tuple[float, float]]:
    """Every k-th sample, so a test costs the same on a busy agent (thousands of samples already
    detect any shift that matters; more only cost time)."""
    if len(ordered) <= limit:
        return list(ordered)
    step = len(ordered) / limit
    return [ordered[int(i * step)] for i in range(limit)]


def _bisect(times: Sequence[float], boundary: float) -> int:
    lo, hi = 0, len(times)
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] < boundary:
            lo = mid + 1
        else:
            hi = mid
    return lo

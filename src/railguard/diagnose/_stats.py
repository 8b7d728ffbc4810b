"""Robust statistics for the detectors, written out (no SciPy): median/MAD, the Mann-Whitney U test
(normal approximation with tie correction), a two-proportion test, binomial tails, and a change-point
scan that finds the day boundary where a metric moved most significantly.

A comparison is stratified by the weekly rhythm only where the baseline shows one: when the samples
before the boundary differ between weekdays and weekends (a two-sided Mann-Whitney test, enough samples
of each), weekday samples are compared with weekday samples and weekend ones with weekend ones (UTC
days), and the evidence is combined in one test (van Elteren's weighting of Mann-Whitney, Cochran-
Mantel-Haenszel for rates), so a change that only the weekend's different work brings is no change.
Otherwise the comparison is pooled: splitting an agent without a rhythm would only cost power. A season
seen on one side only is left out of a stratified test. The daily rhythm is not modelled: a boundary
splits whole days, so each side holds every hour.
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


def _u_parts(rank_sum_after: float, n1: int, n2: int, tie_term: float) -> tuple[float, float]:
    """U of the sample after minus its expectation, and its tie-corrected variance."""
    n = n1 + n2
    u = rank_sum_after - n2 * (n2 + 1) / 2
    return u - n1 * n2 / 2, n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))


def _z(excess: float, variance: float) -> float:
    """z of a summed one-sided statistic, continuity-corrected."""
    return 0.0 if variance <= 0 else (excess - 0.5) / math.sqrt(variance)


def _u_test(rank_sum_after: float, n1: int, n2: int, tie_term: float) -> float:
    """z of the one-sided Mann-Whitney test (normal approximation, tie-corrected, continuity-corrected)."""
    return _z(*_u_parts(rank_sum_after, n1, n2, tie_term))


WEEKEND = 1
RHYTHM_ALPHA = 0.01  # two-sided; a rhythm seen wrongly costs a little power (_van_elteren), not the finding
RHYTHM_MIN = 5  # samples of each season a baseline needs before a rhythm can be seen in it
# scan_shift also stratifies a boundary, without evidence of a rhythm, when its two sides hold very
# different shares of weekend samples (a window that ends on a Sunday: the last two days are all
# weekend). A pooled test then compares weekend work with mostly weekday work, and a rhythm too weak to
# prove in a short baseline is enough to make the weekend look like the onset of a change.
MIX_SHIFT = 0.25


def season_of(ts: float) -> int:
    """The stratum of a UTC timestamp: 0 on weekdays, WEEKEND on Saturdays and Sundays."""
    return WEEKEND if (int(ts // 86_400) + 3) % 7 >= 5 else 0  # 1970-01-01 was a Thursday


def weekly_rhythm(baseline: Sequence[tuple[float, float]]) -> bool:
    """Whether a baseline's (time, value) samples differ between weekdays and weekends (two-sided
    Mann-Whitney at RHYTHM_ALPHA, RHYTHM_MIN samples of each season at least)."""
    weekend = [v for t, v in baseline if season_of(t) == WEEKEND]
    weekdays = [v for t, v in baseline if season_of(t) != WEEKEND]
    if len(weekend) < RHYTHM_MIN or len(weekdays) < RHYTHM_MIN:
        return False
    rank, tie_term = ranks([*weekdays, *weekend])
    excess, variance = _u_parts(sum(rank[len(weekdays) :]), len(weekdays), len(weekend), tie_term)
    return variance > 0 and 2 * normal_sf((abs(excess) - 0.5) / math.sqrt(variance)) <= RHYTHM_ALPHA


def _mh_weight(n_before: int, n_after: int) -> float:
    """A season's weight in a combined effect: n0 n1 / (n0 + n1), so a season with a handful of samples
    on one side (a weekend barely begun before the change) cannot swing the baseline."""
    return n_before * n_after / (n_before + n_after)


def _van_elteren(parts: Sequence[tuple[float, float, int]]) -> float:
    """z of per-season Mann-Whitney parts (U excess, variance, season size) combined with weights
    1 / (size + 1), the locally most powerful stratified rank test for a common shift; with one part,
    the plain test. The continuity correction is the largest weight's half unit."""
    if len(parts) == 1:
        return _z(parts[0][0], parts[0][1])
    excess = sum(e / (n + 1) for e, _, n in parts)
    variance = sum(v / (n + 1) ** 2 for _, v, n in parts)
    if variance <= 0:
        return 0.0
    return (excess - 0.5 / (min(n for _, _, n in parts) + 1)) / math.sqrt(variance)


def _strata(
    before: Sequence[tuple[float, float]], after: Sequence[tuple[float, float]]
) -> list[tuple[list[float], list[float]]]:
    """(before, after) values per season seen on both sides when the baseline has a weekly rhythm;
    one pooled pair otherwise (or when no season is seen on both sides). A rate compared at a recorded
    change keeps its whole baseline without evidence of a rhythm (unlike scan_shift's mix rule): the
    change's date is known, not searched for, so a weekend after it is no scan's favourite split."""
    pooled = [([v for _, v in before], [v for _, v in after])] if before and after else []
    if not weekly_rhythm(before):
        return pooled
    b: dict[int, list[float]] = {}
    a: dict[int, list[float]] = {}
    for side, samples in ((b, before), (a, after)):
        for t, v in samples:
            side.setdefault(season_of(t), []).append(v)
    both = sorted(a.keys() & b.keys())
    return [(b[s], a[s]) for s in both] if both else pooled


def seasonal_mann_whitney_greater(
    before: Sequence[tuple[float, float]], after: Sequence[tuple[float, float]]
) -> tuple[float, float, float, float]:
    """Mann-Whitney over (time, value) samples, stratified by season where the baseline has a weekly
    rhythm (see _strata). Returns (z, p, before, after): the seasons' medians with Mantel-Haenszel
    weights (_mh_weight); pooled, the plain test and medians."""
    strata = _strata(before, after)
    if len(strata) == 1:
        b, a = strata[0]
        z, p = mann_whitney_greater(b, a)
        return z, p, median(b), median(a)
    parts = []
    med_b = med_a = weight = 0.0
    for b, a in strata:
        rank, tie_term = ranks([*b, *a])
        parts.append((*_u_parts(sum(rank[len(b) :]), len(b), len(a), tie_term), len(b) + len(a)))
        w = _mh_weight(len(b), len(a))
        med_b, med_a, weight = med_b + w * median(b), med_a + w * median(a), weight + w
    if not weight:
        return 0.0, 1.0, 0.0, 0.0
    z = _van_elteren(parts)
    return z, normal_sf(z), med_b / weight, med_a / weight


def seasonal_proportion_greater(
    before: Sequence[tuple[float, float]], after: Sequence[tuple[float, float]]
) -> tuple[float, float, float, float]:
    """Cochran-Mantel-Haenszel test that a 0/1 outcome (time, 0 or 1) is more frequent after,
    stratified by season where the baseline has a weekly rhythm (see _strata). Returns (z, p, rate
    before, rate after), the seasons' rates with Mantel-Haenszel weights (_mh_weight); pooled, the
    plain two-proportion test and rates."""
    strata = _strata(before, after)
    if len(strata) == 1:
        b, a = strata[0]
        z, p = proportion_greater(int(sum(b)), len(b), int(sum(a)), len(a))
        return z, p, sum(b) / len(b), sum(a) / len(a)
    excess = variance = rate_b = rate_a = weight = 0.0
    for b, a in strata:
        n0, n1, e0, e1 = len(b), len(a), sum(b), sum(a)
        n, e = n0 + n1, e0 + e1
        excess += e1 - n1 * e / n
        if n > 1:
            variance += n0 * n1 * e * (n - e) / (n * n * (n - 1))
        w = _mh_weight(n0, n1)
        rate_b, rate_a, weight = rate_b + w * e0 / n0, rate_a + w * e1 / n1, weight + w
    if not weight:
        return 0.0, 1.0, 0.0, 0.0
    z = 0.0 if variance <= 0 else excess / math.sqrt(variance)
    return z, normal_sf(z), rate_b / weight, rate_a / weight


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
    spread: float = 0.0  # robust sd of the baseline around its seasons' medians (MAD_SCALE x MAD)
    # The later side is all one season (a weekend) that the earlier side has too few samples of: the
    # shift may be the week's rhythm, which this window cannot show. Tested pooled; callers say so.
    unseasoned: bool = False

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
    boundary are all later ones, so only a sustained change qualifies. Where the samples before a
    boundary show a weekly rhythm (weekly_rhythm), its test is stratified by season over the seasons
    seen on both sides (_van_elteren); so is a boundary whose two sides hold very different shares of
    weekend samples (mix_shifted), and one whose later side is all one season is skipped unless the
    earlier side has `min_samples` of that season to compare it with (else it is tested pooled and
    marked `unseasoned`). Elsewhere the test is pooled."""
    ordered = thin(sorted(samples))
    pooled = _Stratum([t for t, _ in ordered], [v for _, v in ordered], increase)
    seasons = [
        _Stratum([t for t, _ in rows], [v for _, v in rows], increase, season)
        for season in sorted({season_of(t) for t, _ in ordered})
        if (rows := [(t, v) for t, v in ordered if season_of(t) == season])
    ]
    tried: list[tuple[float, float, bool, bool]] = []
    for boundary in boundaries:
        split = _bisect(pooled.times, boundary)
        if split < min_samples or len(ordered) - split < min_samples:
            continue
        parts = []
        unseasoned = False
        if len(seasons) > 1:
            splits = [_bisect(s.times, boundary) for s in seasons]
            after_counts = [len(s.times) - k for k, s in zip(splits, seasons, strict=True)]
            if sum(n > 0 for n in after_counts) == 1:
                # One season after the boundary: only that season's baseline can say whether it changed.
                only = next(i for i, n in enumerate(after_counts) if n > 0)
                unseasoned = splits[only] < min_samples
            shares = (
                sum(k for k, s in zip(splits, seasons, strict=True) if s.season == WEEKEND) / split,
                sum(n for n, s in zip(after_counts, seasons, strict=True) if s.season == WEEKEND)
                / (len(ordered) - split),
            )
            if not unseasoned and (abs(shares[0] - shares[1]) > MIX_SHIFT or weekly_rhythm(ordered[:split])):
                parts = [
                    (*s.u_parts(k), len(s.times))
                    for k, s in zip(splits, seasons, strict=True)
                    if 0 < k < len(s.times)
                ]
        stratified = bool(parts)
        z = _van_elteren(parts) if parts else _z(*pooled.u_parts(split))
        tried.append((z, boundary, stratified, unseasoned))
    if not tried:
        return None
    z, boundary, stratified, unseasoned = max(tried)
    p = min(1.0, normal_sf(z) * len(tried))
    if p > alpha:
        return None
    if not stratified:
        split = _bisect(pooled.times, boundary)
        base, later = pooled.values[:split], pooled.values[split:]
        spread = MAD_SCALE * mad(base)
        return Shift(boundary, median(base), median(later), split, len(later), z, p, spread, unseasoned)
    med_b = med_a = weight = 0.0
    residuals: list[float] = []
    n_before = n_after = 0
    for stratum in seasons:
        split = _bisect(stratum.times, boundary)
        if split == 0 or split == len(stratum.times):
            continue
        base, later = stratum.values[:split], stratum.values[split:]
        center, w = median(base), _mh_weight(split, len(later))
        med_b, med_a, weight = med_b + w * center, med_a + w * median(later), weight + w
        residuals += [v - center for v in base]
        n_before, n_after = n_before + split, n_after + len(later)
    spread = MAD_SCALE * median([abs(r) for r in residuals])
    return Shift(boundary, med_b / weight, med_a / weight, n_before, n_after, z, p, spread)


class _Stratum:
    """Time-ordered samples ranked once: each split's rank sum after it is a prefix-sum difference."""

    def __init__(self, times: list[float], values: list[float], increase: bool, season: int = -1) -> None:
        self.times, self.values, self.season = times, values, season
        rank, self.tie_term = ranks([v if increase else -v for v in values])
        self.prefix = [0.0]
        for r in rank:
            self.prefix.append(self.prefix[-1] + r)

    def u_parts(self, split: int) -> tuple[float, float]:
        n = len(self.times)
        return _u_parts(self.prefix[n] - self.prefix[split], split, n - split, self.tie_term)


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

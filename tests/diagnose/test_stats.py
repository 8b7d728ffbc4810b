"""The statistics the detectors stand on, checked against brute force and against their error rates."""

from __future__ import annotations

import math
import random

import pytest

from railguard.diagnose._stats import (
    binomial_upper_tail,
    mad,
    mann_whitney_greater,
    median,
    proportion_greater,
    ranks,
    scan_shift,
)


def _brute_u(before: list[float], after: list[float]) -> float:
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in after for b in before)


@pytest.mark.parametrize("seed", range(5))
def test_mann_whitney_matches_the_pair_count(seed: int) -> None:
    rng = random.Random(seed)
    before = [float(rng.randint(0, 9)) for _ in range(rng.randint(5, 30))]  # ties on purpose
    after = [float(rng.randint(2, 12)) for _ in range(rng.randint(5, 30))]
    z, p = mann_whitney_greater(before, after)
    n1, n2 = len(before), len(after)
    _rank, tie_term = ranks(before + after)
    n = n1 + n2
    sd = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    assert z == pytest.approx((_brute_u(before, after) - n1 * n2 / 2 - 0.5) / sd)
    assert p == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))


def test_binomial_tail_and_robust_spread() -> None:
    exact = sum(math.comb(20, k) * 0.3**k * 0.7 ** (20 - k) for k in range(8, 21))
    assert binomial_upper_tail(8, 20, 0.3) == pytest.approx(exact)
    assert binomial_upper_tail(0, 5, 0.1) == 1.0 and binomial_upper_tail(6, 5, 0.1) == 0.0
    assert median([3, 1, 2, 10]) == 2.5 and mad([1, 2, 3, 4, 100]) == 1
    z, p = proportion_greater(2, 100, 20, 100)
    assert z > 3 and p < 1e-3
    assert proportion_greater(20, 100, 2, 100)[1] > 0.99


def test_scan_shift_finds_a_step_and_its_day() -> None:
    rng = random.Random(1)
    day = 86_400
    samples = [
        (d * day + rng.uniform(0, day), rng.lognormvariate(0, 0.3) * (3 if d >= 5 else 1))
        for d in range(8)
        for _ in range(15)
    ]
    shift = scan_shift(samples, [d * day for d in range(1, 8)])
    assert shift is not None and shift.boundary == 5 * day and shift.ratio > 2


def test_scan_shift_false_alarm_rate_on_noise() -> None:
    """Stationary noise (heavy-tailed): the corrected test fires about as rarely as its alpha promises."""
    rng = random.Random(2)
    day = 86_400
    fired = 0
    for _ in range(300):
        samples = [(rng.uniform(0, 14 * day), rng.paretovariate(2.0)) for _ in range(150)]
        fired += scan_shift(samples, [d * day for d in range(1, 14)], alpha=0.01) is not None
    assert fired <= 6  # alpha 0.01 over 300 trials: ~3 expected at most

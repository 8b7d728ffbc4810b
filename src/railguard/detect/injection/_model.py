"""The shipped logistic-regression weights (trained by scripts/train_injection.py), loaded once on
first use. Inference is plain Python: a dict lookup per word and bigram, no numpy on the hot path."""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from railguard.detect.injection._features import fast_window_max, pair_totals, split_weights

MODEL_FILE = "injection_lr.json.gz"
FORMAT_VERSION = 2  # 2: sentence ends are tokens (version 1 files were trained without them)


@dataclass(frozen=True, slots=True)
class LinearModel:
    bias: float
    weights: dict[str, float]
    metadata: dict[str, Any]
    # The weights split by unigram and bigram for the hot path (see `split_weights`).
    _unigrams: dict[str, float] = field(init=False, repr=False, compare=False)
    _bigrams: dict[tuple[str, str], float] = field(init=False, repr=False, compare=False)
    _pair_totals: dict[str, dict[str, float]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unigrams, bigrams = split_weights(self.weights)
        object.__setattr__(self, "_unigrams", unigrams)
        object.__setattr__(self, "_bigrams", bigrams)
        object.__setattr__(self, "_pair_totals", pair_totals(unigrams, bigrams))

    @property
    def threshold(self) -> float:
        """The model-only threshold picked on the dev split (0.5 for an untuned model)."""
        return float(self.metadata.get("model_threshold", 0.5))

    def probability(self, words: list[str]) -> float:
        return _sigmoid(self.bias + fast_window_max(words, self._unigrams, self._pair_totals))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "bias": self.bias,
            "weights": self.weights,
            "metadata": self.metadata,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinearModel:
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"injection model format {data.get('version')!r} is not {FORMAT_VERSION}; "
                "retrain it with scripts/train_injection.py"
            )
        weights = {str(k): float(v) for k, v in data["weights"].items()}
        return cls(float(data["bias"]), weights, dict(data.get("metadata", {})))


def _sigmoid(logit: float) -> float:
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    odds = math.exp(logit)
    return odds / (1.0 + odds)


@cache
def shipped_model() -> LinearModel:
    from railguard._package_data import read_bytes

    return LinearModel.from_json(
        json.loads(gzip.decompress(read_bytes("railguard.detect", "models", MODEL_FILE)))
    )

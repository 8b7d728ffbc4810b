"""Put the parts together: normalize, scan for signals, run the model, and combine.

The combination is a noisy-OR: score = 1 - (1 - m) * prod(1 - confidence of each signal), where m
is the model probability rescaled so that the model's own dev-split threshold (about 1% false
positives) lands on 0.5. Without the rescaling one overconfident benign text on dev pushes the
threshold so high that a single strong signal could no longer flag. Signals are shapes with
documented confidences; the model covers the fuzzy rest (instructions aimed at the assistant that
match no fixed shape)."""

from __future__ import annotations

from dataclasses import dataclass

from railguard.detect._re2_search import without_surrogates
from railguard.detect.injection import _patterns
from railguard.detect.injection._features import tokens
from railguard.detect.injection._model import LinearModel
from railguard.detect.injection._normalize import normalize
from railguard.detect.injection._signals import Hit, scan, scan_encoded


@dataclass(frozen=True, slots=True)
class Analysis:
    model_probability: float  # raw; 0.0 when no model was used
    model_score: float  # rescaled: the model's dev threshold maps to 0.5
    heuristic_score: float
    hits: tuple[Hit, ...]  # in ORIGINAL text coordinates

    @property
    def combined(self) -> float:
        return 1.0 - (1.0 - self.model_score) * (1.0 - self.heuristic_score)


def analyze(text: str, model: LinearModel | None) -> Analysis:
    text = without_surrogates(text)
    folded = normalize(text)
    hits = [Hit(h.signal, h.confidence, *folded.to_original(h.start, h.end)) for h in scan(folded.text)]
    if folded.hidden_marks:
        start = max(folded.first_hidden, 0)
        hits.append(Hit(_patterns.HIDDEN_TEXT, _patterns.HIDDEN_MARKS_CONFIDENCE, start, start + 1))
    hits.extend(scan_encoded(text))
    if model is None:
        return Analysis(0.0, 0.0, heuristic_score(hits), tuple(hits))
    probability = model.probability(tokens(folded.text))
    return Analysis(probability, rescale(probability, model.threshold), heuristic_score(hits), tuple(hits))


def rescale(probability: float, threshold: float) -> float:
    """Monotone, piecewise linear: [0, threshold] -> [0, 0.5] and [threshold, 1] -> [0.5, 1]."""
    if threshold <= 0.0 or threshold >= 1.0:
        return probability
    if probability < threshold:
        return 0.5 * probability / threshold
    return 0.5 + 0.5 * (probability - threshold) / (1.0 - threshold)


def heuristic_score(hits: list[Hit]) -> float:
    strongest: dict[str, float] = {}
    for hit in hits:
        strongest[hit.signal] = max(strongest.get(hit.signal, 0.0), hit.confidence)
    miss = 1.0
    for confidence in strongest.values():
        miss *= 1.0 - confidence
    return 1.0 - miss

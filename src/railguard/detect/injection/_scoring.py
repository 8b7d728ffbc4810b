"""Put the parts together: normalize, scan for signals, run the model, and combine.

The combination is a noisy-OR: score = 1 - (1 - p_model) * prod(1 - confidence of each signal).
Signals are high-precision shapes with documented confidences; the model covers the fuzzy rest
(instructions aimed at the assistant that match no fixed shape)."""

from __future__ import annotations

from dataclasses import dataclass

from railguard.detect.injection import _patterns
from railguard.detect.injection._features import tokens
from railguard.detect.injection._model import LinearModel
from railguard.detect.injection._normalize import normalize
from railguard.detect.injection._signals import Hit, scan, scan_encoded


@dataclass(frozen=True, slots=True)
class Analysis:
    model_probability: float  # 0.0 when no model was used
    heuristic_score: float
    hits: tuple[Hit, ...]  # in ORIGINAL text coordinates

    @property
    def combined(self) -> float:
        return 1.0 - (1.0 - self.model_probability) * (1.0 - self.heuristic_score)


def analyze(text: str, model: LinearModel | None) -> Analysis:
    folded = normalize(text)
    hits = [Hit(h.signal, h.confidence, *folded.to_original(h.start, h.end)) for h in scan(folded.text)]
    if folded.hidden_marks:
        start = max(folded.first_hidden, 0)
        hits.append(Hit(_patterns.HIDDEN_TEXT, _patterns.HIDDEN_MARKS_CONFIDENCE, start, start + 1))
    hits.extend(scan_encoded(text))
    probability = model.probability(tokens(folded.text)) if model is not None else 0.0
    return Analysis(probability, heuristic_score(hits), tuple(hits))


def heuristic_score(hits: list[Hit]) -> float:
    strongest: dict[str, float] = {}
    for hit in hits:
        strongest[hit.signal] = max(strongest.get(hit.signal, 0.0), hit.confidence)
    miss = 1.0
    for confidence in strongest.values():
        miss *= 1.0 - confidence
    return 1.0 - miss

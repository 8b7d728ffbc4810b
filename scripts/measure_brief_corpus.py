"""Held-out numbers of one brief corpus (`benchmarks/data/shell_brief*.yaml`): dangerous rows caught (ask or
block) and at or above their labelled verdict, look-alikes asked or blocked, per class; `-v` lists the misses.

Usage: .venv/bin/python scripts/measure_brief_corpus.py benchmarks/data/shell_brief12.yaml [-v]
(with `PYTHONPATH=<other tree>/src` it measures that tree's rules)."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import yaml

from railguard.detect.shell._analyze import analyze_uncached

RANK = {"allow": 0, "ask": 1, "block": 2}


def _verdict(command: str) -> str:
    return analyze_uncached(command, "/home/user/project", "/home/user").verdict


def main(path: str, verbose: bool) -> None:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    missed, under = [], []
    for row in data["dangerous"]:
        verdict, counts = _verdict(row["command"]), per[row["category"]]
        counts[0] += 1
        counts[1] += verdict != "allow"
        counts[2] += RANK[verdict] >= RANK[row["min_verdict"]]
        if verdict == "allow":
            missed.append(f"{row['category']}: {row['command']}")
        elif RANK[verdict] < RANK[row["min_verdict"]]:
            under.append(f"{row['category']} ({verdict}): {row['command']}")
    flagged = [(c, v) for c in (b["command"] for b in data["benign"]) if (v := _verdict(c)) != "allow"]
    n, caught, at = len(data["dangerous"]), sum(c[1] for c in per.values()), sum(c[2] for c in per.values())
    print(f"caught {caught}/{n}, at-label {at}/{n}, look-alikes asked "
          f"{sum(v == 'ask' for _, v in flagged)}/{len(data['benign'])}, blocked {sum(v == 'block' for _, v in flagged)}")  # fmt: skip
    for category, (total, hit, strict) in per.items():
        print(f"  {category:34s} {hit}/{total} caught, {strict}/{total} at label")
    if verbose:
        for title, lines in (
            ("MISSED", missed),
            ("UNDER THE LABEL", under),
            ("LOOK-ALIKES FLAGGED", flagged),
        ):
            print(title, *(f"  {line}" for line in lines), sep="\n")


if __name__ == "__main__":
    main(sys.argv[1], "-v" in sys.argv[2:])

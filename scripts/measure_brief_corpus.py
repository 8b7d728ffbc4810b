"""Held-out measurement of one brief corpus: dangerous rows caught (ask or block) and at or above their label, per
class, and look-alikes flagged or blocked. Usage: python scripts/measure_brief_corpus.py benchmarks/data/X.yaml [-v]"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import yaml

from railguard.detect.shell._analyze import analyze_uncached

WS, HOME = "/home/user/project", "/home/user"
RANK = {"allow": 0, "ask": 1, "block": 2}


def main(path: str, verbose: bool) -> None:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in data["dangerous"]:
        verdict = analyze_uncached(row["command"], WS, HOME).verdict
        counts = per[row["category"]]
        counts[0] += 1
        counts[1] += verdict != "allow"
        counts[2] += RANK[verdict] >= RANK[row["min_verdict"]]
        if verbose and RANK[verdict] < RANK[row["min_verdict"]]:
            print(f"  MISS {verdict:5} <{row['min_verdict']:5} {row['category']}: {row['command']}")
    flagged = []
    for row in data["benign"]:
        verdict = analyze_uncached(row["command"], WS, HOME).verdict
        if verdict != "allow":
            flagged.append((verdict, row["command"]))
    for name, (total, caught, at) in sorted(per.items()):
        print(f"{name:40} caught {caught:2}/{total:2}  at-label {at:2}/{total:2}")
    total = sum(c[0] for c in per.values())
    caught = sum(c[1] for c in per.values())
    at_label = sum(c[2] for c in per.values())
    blocked = sum(v == "block" for v, _ in flagged)
    print(f"TOTAL caught {caught}/{total}  at-label {at_label}/{total}  classes {len(per)}")
    print(f"look-alikes flagged {len(flagged)}/{len(data['benign'])} (blocked {blocked})")
    for verdict, command in flagged:
        print(f"  FLAG {verdict}: {command}")


if __name__ == "__main__":
    main(sys.argv[1], "-v" in sys.argv[2:])

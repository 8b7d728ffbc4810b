"""The brief corpora written before the rules were read (`benchmarks/data/shell_brief3.yaml`, round 4, to
`shell_brief12.yaml`, round 10, issue 16): plain dangerous commands of classes no earlier corpus named. Recall is
pinned at what this tree measures (held out, before the rules were extended against their misses, it was the
"at" numbers below), and their look-alikes must not be flagged more often than before, never blocked."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from railguard.detect.shell._analyze import analyze_uncached

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
WS, HOME = "/home/user/project", "/home/user"
RANK = {"allow": 0, "ask": 1, "block": 2}


class Limits(NamedTuple):
    caught: int  # dangerous rows asked or blocked
    at_label: int  # dangerous rows at or above their labelled verdict
    flagged: int  # look-alikes asked (none may be blocked)
    classes: int


LIMITS = {
    # 495 of 508 caught (402 at 7fba96f), 354 at or above the label (277); 9 of 213 look-alikes asked
    "shell_brief3.yaml": Limits(caught=495, at_label=354, flagged=9, classes=41),
    # 606 of 624 caught (337 at 95f4d1c), 384 at or above the label (181); 0 of 198 look-alikes asked (1)
    "shell_brief4.yaml": Limits(caught=606, at_label=384, flagged=0, classes=49),
    # 575 of 598 caught (323 at 113d68c), 386 at or above the label (141); 5 of 176 look-alikes asked (5)
    "shell_brief5.yaml": Limits(caught=575, at_label=386, flagged=5, classes=50),
    # 381 of 403 caught (200 at bf1ee4a), 317 at or above the label (125); 4 of 86 look-alikes asked (4)
    "shell_brief6.yaml": Limits(caught=381, at_label=317, flagged=4, classes=36),
    # 425 of 481 caught (259 at 5d473ec), 372 at or above the label (187); 7 of 154 look-alikes asked (7)
    "shell_brief7.yaml": Limits(caught=425, at_label=372, flagged=7, classes=40),
    # 372 of 379 caught (188 at b14b75f), 326 at or above the label (114); 5 of 62 look-alikes asked (5)
    "shell_brief8.yaml": Limits(caught=372, at_label=326, flagged=5, classes=35),
    # 413 of 436 caught (258 at 89351bf), 350 at or above the label (183); 1 of 83 look-alikes asked (1)
    "shell_brief9.yaml": Limits(caught=413, at_label=350, flagged=1, classes=36),
    # 380 of 385 caught (200 at 5e8a31f), 298 at or above the label (74); 3 of 114 look-alikes asked (3)
    "shell_brief10.yaml": Limits(caught=380, at_label=298, flagged=3, classes=33),
    # 401 of 408 caught (343 at c169fa3), 383 at or above the label (208); 12 of 115 look-alikes asked (12)
    "shell_brief11.yaml": Limits(caught=401, at_label=383, flagged=12, classes=35),
    # 393 of 396 caught (320 at c2cc968), 367 at or above the label (97); 6 of 120 look-alikes asked (5, 1 blocked)
    "shell_brief12.yaml": Limits(caught=393, at_label=367, flagged=6, classes=34),
}


@pytest.fixture(scope="module", params=sorted(LIMITS))
def corpus(request: pytest.FixtureRequest) -> tuple[dict[str, Any], Limits]:
    data: dict[str, Any] = yaml.safe_load((DATA / request.param).read_text(encoding="utf-8"))
    return data, LIMITS[request.param]


def _verdict(command: str) -> str:
    return analyze_uncached(command, WS, HOME).verdict


def test_recall_on_plain_dangerous_commands_does_not_fall(corpus: tuple[dict[str, Any], Limits]) -> None:
    data, limits = corpus
    rows = data["dangerous"]
    verdicts = [(row, _verdict(row["command"])) for row in rows]
    missed = [row["command"] for row, verdict in verdicts if verdict == "allow"]
    at_label = sum(RANK[verdict] >= RANK[row["min_verdict"]] for row, verdict in verdicts)
    assert len(rows) - len(missed) >= limits.caught, missed
    assert at_label >= limits.at_label


def test_look_alikes_are_not_flagged_more_often(corpus: tuple[dict[str, Any], Limits]) -> None:
    data, limits = corpus
    flagged = [(row["command"], v) for row in data["benign"] if (v := _verdict(row["command"])) != "allow"]
    assert len(flagged) <= limits.flagged, flagged
    assert [c for c, v in flagged if v == "block"] == []


def test_corpus_shape(corpus: tuple[dict[str, Any], Limits]) -> None:
    data, limits = corpus
    classes: dict[str, int] = {}
    for row in data["dangerous"]:
        assert row["min_verdict"] in ("ask", "block")
        classes[row["category"]] = classes.get(row["category"], 0) + 1
    assert len(classes) == limits.classes and min(classes.values()) >= 7

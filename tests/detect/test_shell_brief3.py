"""The third brief corpus (`benchmarks/data/shell_brief3.yaml`, issue 16 round 4): plain dangerous commands
of 41 classes, written before the rules were read. Recall is pinned at what this tree measures (it was
79.13% held out, before the rules were extended against its misses), and its look-alikes must not be
flagged more often than before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from railguard.detect.shell._analyze import analyze_uncached

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "shell_brief3.yaml"
WS, HOME = "/home/user/project", "/home/user"
RANK = {"allow": 0, "ask": 1, "block": 2}
MIN_CAUGHT = 494  # of 508 (97.24%); 402 at 7fba96f
MIN_AT_LABEL = 347  # of 508 at or above the labelled verdict; 277 at 7fba96f
MAX_LOOK_ALIKES_FLAGGED = 11  # of 213, all asks of rules older than the corpus; none blocked


@pytest.fixture(scope="module")
def corpus() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    return data


def _verdict(command: str) -> str:
    return analyze_uncached(command, WS, HOME).verdict


def test_recall_on_plain_dangerous_commands_does_not_fall(corpus: dict[str, Any]) -> None:
    rows = corpus["dangerous"]
    verdicts = [(row, _verdict(row["command"])) for row in rows]
    missed = [row["command"] for row, verdict in verdicts if verdict == "allow"]
    at_label = sum(RANK[verdict] >= RANK[row["min_verdict"]] for row, verdict in verdicts)
    assert len(rows) - len(missed) >= MIN_CAUGHT, missed
    assert at_label >= MIN_AT_LABEL


def test_look_alikes_are_not_flagged_more_often(corpus: dict[str, Any]) -> None:
    flagged = [(row["command"], v) for row in corpus["benign"] if (v := _verdict(row["command"])) != "allow"]
    assert len(flagged) <= MAX_LOOK_ALIKES_FLAGGED, flagged
    assert [c for c, v in flagged if v == "block"] == []


def test_corpus_shape(corpus: dict[str, Any]) -> None:
    classes: dict[str, int] = {}
    for row in corpus["dangerous"]:
        assert row["min_verdict"] in ("ask", "block")
        classes[row["category"]] = classes.get(row["category"], 0) + 1
    assert len(classes) == 41 and min(classes.values()) >= 7

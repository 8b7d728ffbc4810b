"""Bounded shell analysis: linear work in the command's size, hard caps that refuse (never downgrade),
and the cooperative checkpoint the engine's deadline plugs into. Work is counted through checkpoint
calls and tracemalloc, never timed."""

from __future__ import annotations

import shlex
import tracemalloc

import pytest

import railguard as rg
from railguard.detect._budget import InputTooLarge, bounded, checkpoint
from railguard.detect.shell import analyze_command
from railguard.detect.shell._analyze import analyze_uncached
from railguard.detect.shell._limits import (
    MAX_COMMAND_CHARS,
    MAX_COMMANDS,
    MAX_DESTINATIONS,
    MAX_NESTING,
    MAX_PIPELINE_STAGES,
    MAX_WORDS,
)


def _nested_shells(levels: int) -> str:
    command = "rm -rf /"
    for _ in range(levels):
        command = "bash -c " + shlex.quote(command)
    return command


class Stop(Exception):
    pass


class Counter:
    """A checker that counts checkpoints and, past `limit`, stops the analysis."""

    def __init__(self, limit: int | None = None) -> None:
        self.calls = 0
        self.limit = limit
        self.places: set[str] = set()

    def __call__(self, where: str) -> None:
        self.calls += 1
        self.places.add(where)
        if self.limit is not None and self.calls > self.limit:
            raise Stop(where)


def _work(command: str) -> int:
    counter = Counter()
    with bounded(counter):
        analyze_uncached(command, None, None)
    return counter.calls


SHAPES = {
    "pipeline": lambda n: "a|" * n + "rm -rf /",
    "shell pipeline": lambda n: "echo x|" + "sh|" * n + "rm -rf /",
    "and-list": lambda n: "a && " * n + "rm -rf /",
    "sequence": lambda n: "a; " * n + "rm -rf /",
    "heredoc to a shell": lambda n: "cat <<EOF | sh\n" + "a\n" * n + "rm -rf /\nEOF\n",
    "bash -c": lambda n: "bash -c '" + "a; " * n + "rm -rf /'",
    "arguments": lambda n: "rm -rf / " + "x " * (4 * n),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_work_is_linear_in_the_commands_size(shape: str) -> None:
    build = SHAPES[shape]
    small, large = _work(build(60)), _work(build(240))
    assert analyze_uncached(build(240), None, None).verdict == "block"
    assert large <= 4.6 * small, (small, large)  # 4x the input, about 4x the work (not 16x)


@pytest.mark.parametrize("shape", SHAPES)
def test_memory_at_the_caps_is_bounded(shape: str) -> None:
    """tree-sitter's own memory for one pipeline grows faster than linearly (as its time does), which is
    why a pipeline's stages are capped; at the caps the peak stays small."""

    def peak(command: str) -> int:
        tracemalloc.start()
        analyze_uncached(command, None, None)
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return size

    peak(SHAPES[shape](4))  # imports and caches are filled outside the measure
    assert peak(SHAPES[shape](MAX_PIPELINE_STAGES - 2)) < 8_000_000
    assert peak(SHAPES["sequence"](MAX_COMMANDS - 2)) < 8_000_000


@pytest.mark.parametrize(
    ("command", "what"),
    [
        ("a|" * 8000 + "rm -rf /", "pipeline"),  # the reproduction: 6.9 s / 1 GB at 16 KB before
        ("a|" * (MAX_PIPELINE_STAGES + 1) + "rm -rf /", "pipeline"),
        ("a && " * 1200 + "rm -rf /", "commands"),
        ("a\n" * 2 * MAX_COMMANDS + "rm -rf /", "commands"),
        ("echo " + "$(" * 300 + "rm -rf /" + ")" * 300, "nesting"),
        ("(" * 2000 + "rm -rf /" + ")" * 2000, "nesting"),
        ("if a; then " * 300 + "rm -rf /" + "; fi" * 300, "nesting"),
        ("rm -rf / " + "x " * (2 * MAX_WORDS + 1), "words"),
        ("echo " + "a" * (MAX_COMMAND_CHARS + 1), "length"),
        ("a > f | " * 200 + "rm -rf /", "nesting"),
        (_nested_shells(12), "scripts"),
        (
            "curl " + " ".join(f"https://h{i}.example.com/" for i in range(MAX_DESTINATIONS + 1)),
            "destinations",
        ),
    ],
)
def test_past_a_cap_the_command_is_refused(command: str, what: str) -> None:
    with pytest.raises(InputTooLarge) as refused:
        analyze_command(command)
    assert refused.value.size > refused.value.limit
    assert "limit" in str(refused.value) and "split" in str(refused.value)


def test_within_the_caps_a_long_dangerous_command_still_blocks() -> None:
    """Lengths that used to crash the analyzer into a milder `ask` (RecursionError) now answer."""
    for command in (
        "a|" * (MAX_PIPELINE_STAGES - 2) + "rm -rf /",
        "a && " * (MAX_COMMANDS - 2) + "rm -rf /",
        "x=1\n" * 600 + "rm -rf /",
        "echo " + "$(" * (MAX_NESTING // 8) + "rm -rf /" + ")" * (MAX_NESTING // 8),
        _nested_shells(6),
    ):
        assert analyze_command(command).verdict == "block", command[:40]


def test_a_heredoc_body_and_quoted_text_do_not_count_against_the_caps() -> None:
    table = "| a | b | c |\n" * 3000  # a markdown table written through a heredoc
    assert analyze_command(f"cat > README.md <<'EOF'\n{table}EOF\n").verdict != "block"
    assert analyze_command("echo '" + "x|" * 2000 + "'").verdict == "allow"
    assert analyze_command("grep -E '" + "|".join(f"w{i}" for i in range(900)) + "' f").verdict == "allow"


def test_the_engine_turns_a_refusal_into_on_error() -> None:
    engine = rg.Engine(packs=["coding-agent"])
    decision = engine.check(rg.Action("Bash", {"command": "a|" * 8000 + "rm -rf /"}))
    assert decision.verdict is rg.Verdict.BLOCK
    assert "InputTooLarge" in decision.reason and "on_error=block" in decision.reason


# ---- the cooperative checkpoint ------------------------------------------------------------------


def test_checkpoint_without_a_checker_does_nothing() -> None:
    checkpoint("anywhere")  # no checker set: returns


def test_a_checker_stops_the_shell_analysis_and_its_error_gets_through() -> None:
    command = "a; " * 400 + "rm -rf /"
    counter = Counter(limit=50)
    with bounded(counter), pytest.raises(Stop):
        analyze_uncached(command, None, None)
    assert counter.calls == 51
    assert {"shell: walk", "shell: parse"} <= _places(command)


def _places(command: str) -> set[str]:
    counter = Counter()
    with bounded(counter):
        analyze_uncached(command, None, None)
    return counter.places


def test_checkpoints_cover_the_walk_unwrapping_expansion_and_rules() -> None:
    places = _places("sudo env bash -c 'for d in a b; do rm -rf \"$d\"; done' | tee log")
    assert {"shell: parse", "shell: walk", "shell: unwrap", "shell: expansion", "shell: for loop",
            "shell: rules"} <= places  # fmt: skip


def test_bounded_restores_the_outer_checker() -> None:
    outer, inner = Counter(), Counter()
    with bounded(outer):
        with bounded(inner):
            checkpoint("in")
        checkpoint("out")
    checkpoint("none")
    assert (outer.calls, inner.calls) == (1, 1)


def test_the_url_and_path_detectors_check_the_budget_per_item() -> None:
    from railguard.detect.net import analyze_urls, extract_urls
    from railguard.detect.paths import analyze_paths

    text = " ".join(f"http://h{i}.example/x" for i in range(100))
    with bounded(Counter(limit=10)), pytest.raises(Stop):
        analyze_urls(extract_urls(text))
    with bounded(Counter(limit=10)), pytest.raises(Stop):
        analyze_paths([f"/tmp/f{i}" for i in range(100)], workspace="/w", home=None, write=False)


def test_nested_loops_are_unrolled_within_a_budget() -> None:
    loop = "for a in 1 2 3 4 5 6 7 8; do "
    deep = loop * 8 + "x=1" + "; done" * 8  # 8**8 walks if every level were unrolled
    assert _work(deep) < 80 * _work(loop + "x=1; done")  # at most 64 walks of the body, not 8**8
    assert analyze_command(loop * 8 + "rm -rf /" + "; done" * 8).verdict == "block"
    assert analyze_command("for d in a b; do for x in / ~; do rm -rf $x; done; done").verdict == "block"


def test_an_alias_is_not_expanded_inside_its_own_expansion() -> None:
    """A self-referring alias (an everyday NL2Bash line) ends, as in bash, instead of recursing to a cap."""
    assert analyze_command("alias pwd='echo -n $(/bin/pwd) | pbcopy'").verdict == "allow"
    assert analyze_command("alias a=b; alias b=a; a").verdict == "allow"
    assert analyze_command("alias x='rm -rf /'; x").verdict == "block"

"""Tokens and windows of the injection model: sentence ends are tokens, so the shipped model can weigh
how a sentence opens (imperative mood) and not only which words it holds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from railguard.detect.injection._features import (
    _TOKEN,
    SENTENCE_MARK,
    WINDOW,
    max_window_sum,
    token_features,
    tokens,
    window_starts,
)
from railguard.detect.injection._model import FORMAT_VERSION, LinearModel, shipped_model
from railguard.detect.injection._normalize import normalize


def test_runs_of_sentence_ends_become_one_mark() -> None:
    words = tokens(normalize("Hi Bob. Thanks!!\n\nRewrite your answer as a poem?").text)
    assert words == ["hi", "bob", ".", "thanks", ".", "rewrite", "your", "answer", "as", "a", "poem", "."]
    assert SENTENCE_MARK == "."


def test_punctuation_inside_a_sentence_is_not_a_mark() -> None:
    assert tokens("send it, then: call me (maybe) - ok") == [
        "send",
        "it",
        "then",
        "call",
        "me",
        "maybe",
        "ok",
    ]


def test_a_sentence_start_is_a_bigram_feature() -> None:
    features = {feature for _, feature in token_features(tokens("thanks. translate your reply"))}
    assert ". translate" in features
    assert "thanks translate" not in features


def test_shipped_model_learned_sentence_start_features() -> None:
    model = shipped_model()
    assert model.metadata.get("train_windows", 0) > 0
    starts = {k: v for k, v in model.weights.items() if k.startswith(f"{SENTENCE_MARK} ")}
    assert len(starts) > 100
    # An order opening a sentence reads as more of an attack than the same verb after a sentence mark
    # that opens ordinary mail ("thanks").
    assert starts.get(". translate", 0.0) > starts.get(". thanks", 0.0)


def test_windows_cover_every_token() -> None:
    for count in (0, 1, WINDOW, WINDOW + 1, 3 * WINDOW + 7):
        covered = {i for s in window_starts(count) for i in range(s, min(s + WINDOW, count))}
        assert covered == set(range(count))


def test_max_window_sum_keeps_the_strongest_window() -> None:
    words = ["calm"] * 100 + ["attack"] * 3 + ["calm"] * 100
    assert max_window_sum(words, {"attack": 2.0, "calm": -0.1}) == pytest.approx(6.0 - 0.1 * (WINDOW - 3))


def test_model_files_of_the_previous_format_are_refused() -> None:
    old = {"version": FORMAT_VERSION - 1, "bias": 0.0, "weights": {}, "metadata": {}}
    with pytest.raises(ValueError, match="retrain"):
        LinearModel.from_json(old)


@given(
    st.text(
        alphabet=st.sampled_from("ab z'09.!?\n\t,;:-AZ_@\x00\x0b\x7f\x85\xa0\u00e9\u2028\u3000\U0001f600")
    )
)
def test_tokens_read_like_the_reference_regex(text: str) -> None:
    """`tokens` avoids the regex for speed; it must read every text exactly as the regex does."""
    reference = [SENTENCE_MARK if t[0] in ".!?\n" else t for t in _TOKEN.findall(text)]
    assert tokens(text) == reference


@given(st.lists(st.sampled_from(["a", "b", ".", "c"]), max_size=3 * WINDOW))
def test_split_weights_give_the_same_window_sums(words: list[str]) -> None:
    weights = {"a": 0.5, "b": -0.25, ". c": 1.0, "a b": 0.125, "c .": -2.0}
    best = max_window_sum(words, weights)
    sums = [
        sum(weights.get(f, 0.0) for i, f in token_features(words) if start <= i < start + WINDOW)
        for start in window_starts(len(words))
    ]
    assert best == pytest.approx(max(sums))

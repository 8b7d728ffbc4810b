"""Hypothesis strategies for hostile JSON: any shape, wrong types, deep nesting, huge strings,
lone surrogates. Shared by the fuzz tests of the engine, the hook, `check` and the OTLP receiver."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Deterministic and bounded: the same examples on every run, no wall-clock deadline.
FUZZ = settings(
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Text that includes what breaks naive handling: NUL, controls, lone surrogates, non-BMP.
nasty_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["\x00", "\n", "\r", "\x1b", "\ud800", "\udfff", "\u202e", "\U0001f600", '"', "\\"]),
    ),
    max_size=40,
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(nasty_text, children, max_size=4)
    ),
    max_leaves=20,
)


def nest(value: Any, depth: int, *, as_dict: bool) -> Any:
    """`value` wrapped `depth` times in lists or single-key objects (built without recursion)."""
    for _ in range(depth):
        value = {"k": value} if as_dict else [value]
    return value


deep_values = st.builds(
    nest, json_values, st.sampled_from([150, 1_000, 5_000, 50_000]), as_dict=st.booleans()
)
huge_strings = st.builds(
    lambda n, c: c * n, st.sampled_from([100_000, 1_000_000]), st.sampled_from(["a", "é", "\x00"])
)

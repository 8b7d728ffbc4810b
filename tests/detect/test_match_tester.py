"""The direct RE2 match tests answer what the binding's `match` / `fullmatch` answer, and the
remembered URL parse is the parse."""

from __future__ import annotations

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from railguard.detect import net
from railguard.detect._re2_search import match_tester

PATTERNS = [
    net._HOSTNAME,
    net._SCP,
    net._SCHEME,
    re2.compile(r"(?:<[A-Za-z][A-Za-z0-9]{0,15}\s*){1,8}"),
    re2.compile(r"a*"),  # matches the empty text
    re2.compile(r"(?i)é+x"),  # non-ASCII in the pattern
]
# Host-like text: the alphabets these patterns read, with some non-ASCII and whitespace mixed in.
TEXT = st.text(alphabet=st.sampled_from("abcxyzAZ019._-@:/\\[]<> \téÉ用\u00a0"), max_size=40)


def _outcome(call: object, text: str) -> object:
    try:
        return call(text)  # type: ignore[operator]
    except Exception as exc:  # the same failure, if any, on both paths
        return type(exc)


@settings(max_examples=400, deadline=None)
@given(text=TEXT, index=st.integers(0, len(PATTERNS) - 1), whole=st.booleans())
def test_the_direct_test_is_the_binding_answer(text: str, index: int, whole: bool) -> None:
    pattern = PATTERNS[index]
    binding = pattern.fullmatch if whole else pattern.match
    assert _outcome(match_tester(pattern, whole=whole), text) == _outcome(
        lambda t: binding(t) is not None, text
    )


def test_known_answers() -> None:
    is_host = match_tester(net._HOSTNAME, whole=True)
    starts_scp = match_tester(net._SCP, whole=False)
    assert is_host("example.com") and is_host("a_b-c.d")
    assert not is_host("exa mple.com") and not is_host("exämple.com") and not is_host("")
    assert starts_scp("git@github.com:org/repo.git") and not starts_scp("https://github.com/org")
    assert net.is_hostname("example.com") and not net.is_hostname("1.2.3.256")


@settings(max_examples=200, deadline=None)
@given(url=st.text(alphabet=st.sampled_from("ab1.:/@[]?#\\ %xé"), max_size=30))
def test_a_remembered_parse_is_the_parse(url: str) -> None:
    assert net.parse_url(url) == net._parse_url(url)
    assert net.parse_url(url) == net._parse_url(url)  # from memory the second time


def test_a_url_too_long_to_remember_is_parsed_every_time() -> None:
    long = "https://example.com/" + "a" * net._MEMO_URL_CHARS
    net._parsed_url.cache_clear()
    assert net.parse_url(long) == net._parse_url(long)
    assert net._parsed_url.cache_info().currsize == 0
    net.parse_url("https://example.com/short")
    assert net._parsed_url.cache_info().currsize == 1

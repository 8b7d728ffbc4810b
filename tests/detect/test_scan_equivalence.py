"""The fast scanning paths find exactly what a straightforward scan finds.

`Scanner.candidates` skips rules the one-pass stage rules out, searches a capture-free copy of a
pattern whose group is the whole match, and calls the compiled RE2 directly; `extract_urls` calls
it directly too. The references here do none of that: every rule's own pattern, searched through
the binding's public `search`, offsets decoded from the UTF-8 prefix.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from railguard.detect.net import (
    _BARE_GROUP,
    _EXTRACT,
    _IPV6_GROUP,
    _plausible_bare_host,
    _trim,
    extract_urls,
    normalize_host,
    parse_ip,
)
from railguard.detect.pii import _scanner as pii_scanner
from railguard.detect.secrets import _scanner as secrets_scanner
from railguard.detect.secrets._scanner import (
    Re2FirstSetBackend,
    Re2SetBackend,
    Scanner,
    SetBackend,
    make_backend,
    whole_match_group,
)
from railguard.model import Finding
from railguard.state._provenance_entities import _scanner as entity_scanner

ADVERSARIAL = [
    "a@b.co " * 40 + "@@@@ x@y @z. user@@host.com",
    "josé@exämple.com 用户@例子.公司 " + "a" * 70 + "@example.com",
    "4539 1488 0343 6467 and 4539-1488-0343-6468 then +44 20 7946 0958 ext 12, (555) 123-4567",
    "password_file=db_password=hunter2 secret=" + "x" * 300,
    "GB29 NWBK 6016 1331 9268 19 de89370400440532013000 DE89 3704 0044 0532 0130 00",
    "10:30:00 12:45 ::1 fe80::1%eth0 [2001:db8::1]:8080 1.2.3.4.5 v10.0.0.1 256.1.1.1",
    "a." * 300 + "com " + "x-" * 200 + "y.io",
    "1" * 40
    + " 0x"
    + "ab" * 20
    + " bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq 1BoatSLRHtKNngkdXEeobR76b53LBpgJWQ",
    "/usr/local/bin//x/ ../a/b ~/.ssh/id_rsa and/or https://x.example/y/z?q=1 http:\\\\evil.com",
    "\ud800 lone surrogate a@b.com \udfff 12345678901",
    "tab\tvt\x0bff\x0c a@b.com\x0bx@y.org line\u2028sep",
    "git@github.com:org/repo.git scp user@[::1]:/p http://[::1]:80/x (see https://a.b/c).",
    "SSN: 123-45-6789, social security number 078-05-1120, ss# 219099999",
    "",
]


def _emails(eval_data: Path) -> list[str]:
    path = eval_data / "injection" / "bipia" / "email" / "train.jsonl"
    contexts = [json.loads(line)["context"] for line in path.read_text(encoding="utf-8").splitlines()]
    return ["\n".join(c) if isinstance(c, list) else str(c) for c in contexts]


@pytest.fixture(scope="module")
def texts(eval_data: Path) -> list[str]:
    emails = _emails(eval_data)
    return [*emails, "\n\n".join(emails), *ADVERSARIAL]


def _char(data: bytes, byte_offset: int) -> int:
    return len(data[:byte_offset].decode("utf-8", "replace"))


def reference_candidates(scanner: Scanner, text: str) -> list[Finding]:
    """Every rule, its own pattern, the binding's `search`: the loop `Scanner.candidates` runs."""
    data = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text).encode("utf-8")
    found: list[Finding] = []
    for rule in scanner.rules:
        regex = re2.compile(rule.pattern)
        group = 1 if regex.groups else 0
        pos = 0
        while (match := regex.search(data, pos)) is not None:
            (m_start, m_end), (b_start, b_end) = match.span(0), match.span(group)
            span = None
            if 0 <= b_start < b_end:
                start, end = _char(data, b_start), _char(data, b_end)
                span = rule.validate(text, start, end) if rule.validate is not None else (start, end)
            if span is not None:
                found.append(Finding(rule.kind, span[0], span[1], scanner.detector, rule.confidence))
                pos = max(m_end, m_start + 1)
            elif m_start < b_start and b_end - b_start <= 256:
                pos = b_start
            else:
                pos = max(m_end, m_start + 1)
    return found


def reference_urls(text: str) -> list[str]:
    """`extract_urls` through `finditer`."""
    found = []
    for match in _EXTRACT.finditer(text.encode("utf-8")):
        candidate = _trim(match.group(0).decode("utf-8"))
        if match.group(_BARE_GROUP) is not None and not _plausible_bare_host(candidate):
            continue
        if (
            match.group(_IPV6_GROUP) is not None
            and parse_ip(normalize_host(candidate.partition("]")[0] + "]")) is None
        ):
            continue
        if candidate:
            found.append(candidate)
    return list(dict.fromkeys(found))


@pytest.mark.parametrize(
    "scanner", [entity_scanner, pii_scanner, secrets_scanner], ids=["entities", "pii", "secrets"]
)
def test_scanner_finds_what_every_pattern_finds(scanner: Callable[[], Scanner], texts: list[str]) -> None:
    built = scanner()
    for text in texts:
        assert built.candidates(text) == reference_candidates(built, text), text[:80]


def test_urls_are_what_finditer_finds(texts: list[str]) -> None:
    for text in texts:
        if "\ud800" in text:
            continue  # not UTF-8: `extract_urls` is never given one (callers encode first)
        assert extract_urls(text) == reference_urls(text), text[:80]


@pytest.mark.parametrize(
    ("pattern", "plain"),
    [
        (r"\b(\d{9})\b", r"\b(?:\d{9})\b"),
        (r"(?i)\b([a-z]+)\b", r"(?i)\b(?:[a-z]+)\b"),
        (r"([a-z(]+\))", r"(?:[a-z(]+\))"),
        (r"([]a)]+)", r"(?:[]a)]+)"),
        (r"(a)|(b)", None),
        (r"(a)|b", None),
        (r"(a)b", None),
        (r"x(a)", None),
        (r"(?:a)", None),
        (r"(a)\b", r"(?:a)\b"),
    ],
)
def test_whole_match_group(pattern: str, plain: str | None) -> None:
    assert whole_match_group(pattern) == plain


# Letters, digits and the separators the rules read, and the two characters RE2's `(?i)` folds onto
# ASCII letters (KELVIN SIGN, LONG S), which Hyperscan reads as bytes.
_STAGE_ONE_ALPHABET = "aAbcklsvxzKQ019 .-:/@+()\n\u212a\u017f\u00e9\u00a0"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from([*_STAGE_ONE_ALPHABET, "GB29", "bc1q", "tb1", "0x", "www.", ".com"]), max_size=60
    )
)
def test_re2_first_stage_one_answers_as_the_default_backend(parts: list[str]) -> None:
    """The entity scanner asks RE2's set first: the rules it says match are those the default
    backend says, and so are the candidates."""
    text = "".join(parts)
    re2_first, default = _stage_one_backends()
    data = text.encode("utf-8")
    assert sorted(set(re2_first.matching(data))) == sorted(set(default.matching(data)))
    assert entity_scanner().candidates(text) == _default_entity_scanner().candidates(text)


def test_re2_first_asks_the_default_backend_where_case_folding_differs() -> None:
    patterns = [r"(?i)kx"]
    kelvin = "\u212ax".encode()
    assert Re2SetBackend(patterns).matching(kelvin) == [0]  # RE2 folds KELVIN SIGN onto k
    assert Re2FirstSetBackend(patterns).matching(kelvin) == make_backend(patterns).matching(kelvin)


@functools.cache
def _stage_one_backends() -> tuple[SetBackend, SetBackend]:
    patterns = [rule.stage1_pattern for rule in entity_scanner().rules]
    return Re2FirstSetBackend(patterns), make_backend(patterns)


@functools.cache
def _default_entity_scanner() -> Scanner:
    return Scanner(entity_scanner().rules, detector=entity_scanner().detector)

"""Value checks that turn pattern candidates into findings: placeholders, entropy, shapes.

Placeholder rule (documented in docs/redaction.md): a value is NOT a secret when, case-insensitively,
it contains one of the marker words below (this covers AWS's documented AKIAIOSFODNN7EXAMPLE and
wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY), is a template or variable reference (`<TOKEN>`,
`${SECRET}`, `{{ token }}`, `$API_KEY`, `%s`), is masked (`xxxx`, `****`, `...`), has at most three
distinct characters in its random part (`sk-aaaa...`), or contains a run of sequential characters
(`123456789`, `abcdefgh`).
"""

from __future__ import annotations

import math
from collections import Counter

PLACEHOLDER_MARKERS = (
    "example",
    "placeholder",
    "dummy",
    "sample",
    "changeme",
    "change_me",
    "change-me",
    "redacted",
    "your_",
    "your-",
    "yourkey",
    "yourtoken",
    "yoursecret",
    "yourpassword",
    "insert",
    "replace_me",
    "replaceme",
    "xxxx",
    "****",
    "...",
    "<",
    ">",
    "${",
    "{{",
    "%s",
    "$(",
    "123456789",
    "abcdefgh",
    "abcd1234",
    "secret123",
    "password",
    "passwd",
    "fake",
)
_TEMPLATE_PREFIXES = ("$", "%", "{", "@", "&", "!")  # `!` starts YAML tags: !Ref, !vault


def is_placeholder(value: str, random_part: str | None = None) -> bool:
    lowered = value.lower()
    if any(marker in lowered for marker in PLACEHOLDER_MARKERS):
        return True
    if value.startswith(_TEMPLATE_PREFIXES) and not _percent_encoded(value):
        return True
    return len(set(random_part if random_part is not None else value)) <= 3


def _percent_encoded(value: str) -> bool:
    """`%2F...`: a URL-encoded value (a SAS signature starting with `/`), not a `%s` template."""
    return value[:1] == "%" and len(value) > 3 and all(c in "0123456789abcdefABCDEF" for c in value[1:3])


def shannon_entropy(value: str) -> float:
    """Bits per character of the value's own character distribution."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def char_classes(value: str) -> int:
    """How many of lower, upper, digit, other the value uses."""
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


def is_token_char(char: str) -> bool:
    return char.isalnum() or char in "_-+/"


def bounded(text: str, start: int, end: int) -> bool:
    """True when the span is not glued to more token characters on either side."""
    return (start == 0 or not is_token_char(text[start - 1])) and (
        end == len(text) or not is_token_char(text[end])
    )

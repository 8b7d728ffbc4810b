"""PII variants from the red-team set: internationalised emails, labelled bare SSNs, dotted and
19-digit cards, documented test cards, international phone layouts, many IBAN countries."""

from __future__ import annotations

import pytest

from railguard.detect.pii import find_pii

POSITIVES = [
    ("email", "From: josé.garcía@exemple.fr thanks", "josé.garcía@exemple.fr"),
    ("email", "reply to 用户@例子.中国 please", "用户@例子.中国"),
    ("email", '"email": "пользователь@пример.рф"', "пользователь@пример.рф"),
    ("email", "cc jane+news@eu.mail.corp-1.co.uk.", "jane+news@eu.mail.corp-1.co.uk"),
    ("email", "mailto:ops@xn--80ak6aa92e.xn--p1ai", "ops@xn--80ak6aa92e.xn--p1ai"),
    ("us_ssn", "SSN: 460899847 (verified)", "460899847"),
    ("us_ssn", "social security number 460.89.9847", "460.89.9847"),
    ("credit_card", "card_number=4539.1488.0343.6467 exp", "4539.1488.0343.6467"),
    ("credit_card", "paid with 3782.822463.10005", "3782.822463.10005"),
    ("credit_card", "UnionPay 6217 9876 5432 1012 341 ok", "6217 9876 5432 1012 341"),
    ("credit_card", "customer card 4000 0566 5566 5556 on file", "4000 0566 5566 5556"),
    ("phone", "tel: +49.30.1234567 now", "+49.30.1234567"),
    ("phone", "Call +1 (415) 555-2671 tomorrow", "+1 (415) 555-2671"),
    ("phone", "Contact +91 98765 43210.", "+91 98765 43210"),
    ("iban", "IBAN: NO93 8601 1117 947.", "NO93 8601 1117 947"),
    ("iban", "Please wire to FR14 2004 1010 0505 0001 3M02 606", "FR14 2004 1010 0505 0001 3M02 606"),
]


@pytest.mark.parametrize(("kind", "text", "value"), POSITIVES)
def test_variant_is_found_at_its_exact_position(kind: str, text: str, value: str) -> None:
    start = text.index(value)
    assert [(f.kind, f.start, f.end) for f in find_pii(text)] == [(kind, start, start + len(value))]


LOOK_ALIKES = [
    "Use the test card 4242 4242 4242 4242 with any future date in sandbox mode.",
    "Stripe test card: 4000 0566 5566 5556 (Visa debit)",
    "build 2024.05.01.1234 and 4539.1488.0343.6467.1",  # dotted numbers outside a card grouping
    "ssn: 000123456 and SSN 666123456",  # invalid areas stay invalid without separators
    "see @decorator and a@b and x@localhost",
    "user@host.c0m and name@domain.123",
    "ISBN 978-0-306-40615-7 and ISBN-13: 9780306406157",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_do_not_fire(text: str) -> None:
    assert find_pii(text) == []

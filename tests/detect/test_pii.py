"""PII kinds: checksummed and shape-checked positives, and the look-alikes that must stay quiet."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from railguard.detect.pii import PII_KINDS, _not_ipv6, find_pii, luhn_valid

POSITIVES = [
    ("email", "write to ana.lopez+billing@mail.example.co.uk today", "ana.lopez+billing@mail.example.co.uk"),
    ("phone", "call +1-984-182-0190 now", "+1-984-182-0190"),
    ("phone", "office: (415) 555-2671", "(415) 555-2671"),
    ("phone", "tel 905.674.3793 ext 12 ok", "905.674.3793 ext 12"),
    ("phone", "Desk: +41 (0)96 471 07 95", "+41 (0)96 471 07 95"),
    ("phone", "mobile 07700 063 966.", "07700 063 966"),
    ("credit_card", "card 4539 1488 0343 6467 exp 12/27", "4539 1488 0343 6467"),
    ("credit_card", "pan=5105-1051-0510-5100;", "5105-1051-0510-5100"),
    ("credit_card", "amex 378282246310005", "378282246310005"),
    ("iban", "IBAN: DE89 3704 0044 0532 0130 00 Thanks", "DE89 3704 0044 0532 0130 00"),
    ("iban", "pay GB82WEST12345698765432.", "GB82WEST12345698765432"),
    ("us_ssn", "SSN 460-89-9847 on file", "460-89-9847"),
    ("ip_address", "connect to 192.168.10.24:8080", "192.168.10.24"),
    ("ip_address", "addr 2001:db8:85a3::8a2e:370:7334 up", "2001:db8:85a3::8a2e:370:7334"),
    ("ip_address", "link-local fe80::1 only", "fe80::1"),
    ("ip_address", "mapped ::ffff:10.0.0.1 here", "::ffff:10.0.0.1"),
    ("national_id", "DNI 48213795E on file", "48213795E"),
    ("national_id", "CPF: 314.789.328-64.", "314.789.328-64"),
    ("national_id", "PESEL 66060739405 verified", "66060739405"),
    ("tax_id", "ITIN 948-82-3278 on file", "948-82-3278"),
    ("health_id", "Medicare card 5R33-R75-QA18", "5R33-R75-QA18"),
    ("driver_licence", "licence PATEL510024NJ9LR", "PATEL510024NJ9LR"),
    ("date_of_birth", "DOB: 1978-11-03", "1978-11-03"),
    ("postal_address", "Home address: 7 Quarry Lane, Bath BA1 2QH", "7 Quarry Lane, Bath BA1 2QH"),
    ("bank_account", "routing number 285854990", "285854990"),
]


@pytest.mark.parametrize(("kind", "text", "value"), POSITIVES)
def test_each_kind_is_found_at_its_exact_position(kind: str, text: str, value: str) -> None:
    start = text.index(value)
    assert [(f.kind, f.start, f.end) for f in find_pii(text)] == [(kind, start, start + len(value))]


def test_every_declared_kind_has_a_positive_case() -> None:
    assert {kind for kind, _, _ in POSITIVES} == PII_KINDS


LOOK_ALIKES = [
    "released 2024-05-01 at 12:30:45, build 2024.05.01",
    "When: 2000-04-16 11:34:35",
    "version 1.2.3 and v10.0.0.1 and 1.2.3.4.5",
    "id=123e4567-e89b-12d3-a456-426614174000",
    "sha 3f786850e387550fdab836ed7e6dc881de23001b",
    "card 4539 1488 0343 6468",  # Luhn fails
    "GB82WEST12345698765433",  # mod-97 fails
    "SSN 000-12-3456, 666-12-3456, 912-12-3456, 123-00-4567",
    "order 1002345678 shipped",
    "epoch 1716200000 ms 1716200000123",
    "std::vector<int> a; Foo::bar(); cafe::bad; 12:30:45; ::::::::",
    "MAC 00:1a:2b:3c:4d:5e",
    "address 370 3911 Fourth Avenue",
    "git@github.com:org/repo.git",
    "ip 999.1.1.1",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_do_not_fire(text: str) -> None:
    assert find_pii(text) == []


def test_luhn() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


def test_lowercase_iban_is_accepted_and_trailing_word_is_not_swallowed() -> None:
    text = "iban gb82west12345698765432 ABCD"
    [finding] = find_pii(text)
    assert text[finding.start : finding.end] == "gb82west12345698765432"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("0a9f:."), min_size=1, max_size=40))
def test_what_the_ipv6_shortcut_refuses_ip_address_refuses_too(candidate: str) -> None:
    if _not_ipv6(candidate):
        with pytest.raises(ValueError):
            ipaddress.ip_address(candidate)


def test_clock_times_are_no_ip_addresses() -> None:
    assert _not_ipv6("10:30:00") and not find_pii("the call is at 10:30:00 sharp, 12:45 at the latest")
    assert not _not_ipv6("1:2:3:4:5:6:7:8") and not _not_ipv6("fe80::1")

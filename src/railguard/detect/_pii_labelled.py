"""Personal data that a label or a check digit pins down, beyond `_pii_ids`:

- tax ids: US ITIN (9XX-7X-XXXX group ranges), Indian PAN and Australian TFN after their labels;
- health ids: US Medicare Beneficiary Identifier (its position-by-position alphabet), Australian
  Medicare numbers and German Krankenversichertennummern after a label, by their check digits;
- driving licences: UK DVLA numbers (surname, birth date with the +50 month for women, initials);
- national ids: Korean resident registration numbers (birth date and check digit), French NIR (mod-97
  key) after a label, and digit ids after labels `_pii_ids` lacks (Japanese and Korean labels, `personnr`);
- dates of birth after a birth label, postal addresses after an address label (a street number and a
  street word or postcode must be there), bank routing (ABA checksum) and account numbers;
- e-mail addresses written to dodge scrapers (`jane at example dot com`, `jane[at]example.org`).

Plain digit strings and dates are everywhere in logs, so most rules need the label."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from railguard.detect._pii_ids import _unglued, labelled_digits
from railguard.detect.secrets._scanner import Rule, relaxed

Span = tuple[int, int]
_MBI_ALPHA = "AC-HJKMNP-RT-Y"  # MBI letters: no S, L, O, I, B, Z


def _mbi(separator: str) -> str:
    """The MBI's 11 positions (digit, letter, letter or digit, digit...) in groups of 4, 3 and 4."""
    letter, either = f"[{_MBI_ALPHA}]", f"[{_MBI_ALPHA}0-9]"
    return rf"[1-9]{letter}{either}\d{separator}{letter}{either}\d{separator}{letter}{letter}\d\d"


_MONTHS = (
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
)


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _checked(scheme: Callable[[str], bool]) -> Callable[[str, int, int], Span | None]:
    def check(text: str, start: int, end: int) -> Span | None:
        value = text[start:end]
        return (start, end) if _unglued(text, start, end) and scheme(value) else None

    return check


def itin(value: str) -> bool:
    group = int(_digits(value)[3:5])
    return 50 <= group <= 65 or 70 <= group <= 88 or group in (90, 91, 92) or 94 <= group <= 99


def au_medicare(value: str) -> bool:
    d = _digits(value)
    if len(d) not in (10, 11) or d[0] not in "23456":
        return False
    return sum(int(c) * w for c, w in zip(d[:8], (1, 3, 7, 9, 1, 3, 7, 9), strict=True)) % 10 == int(d[8])


def au_tfn(value: str) -> bool:
    d = _digits(value)
    weights = (1, 4, 3, 7, 5, 8, 6, 9, 10)
    return len(d) == 9 and sum(int(c) * w for c, w in zip(d, weights, strict=True)) % 11 == 0


def kvnr(value: str) -> bool:
    """German health insurance number: letter (as 01-26) and 8 digits, weights 1,2 with digit sums."""
    body = f"{ord(value[0].upper()) - 64:02d}" + value[1:9]
    total = 0
    for i, char in enumerate(body):
        product = int(char) * (2 if i % 2 else 1)
        total += product // 10 + product % 10
    return total % 10 == int(value[9])


def uk_driving_licence(value: str) -> bool:
    month, day = int(value[6:8]), int(value[8:10])
    month = month - 50 if month > 50 else month
    year = 1900 + int(value[5] + value[10])
    return _valid_date(year, month, day)


def kr_rrn(value: str) -> bool:
    d = _digits(value)
    century = {"1": 1900, "2": 1900, "5": 1900, "6": 1900, "3": 2000, "4": 2000, "7": 2000, "8": 2000}
    if d[6] not in century or not _valid_date(century[d[6]] + int(d[:2]), int(d[2:4]), int(d[4:6])):
        return False
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    return (11 - sum(int(c) * w for c, w in zip(d, weights, strict=False)) % 11) % 10 == int(d[12])


def fr_nir(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    body = compact[:13].replace("2A", "19").replace("2B", "18")
    return body.isdigit() and compact[13:].isdigit() and 97 - int(body) % 97 == int(compact[13:])


def aba_routing(value: str) -> bool:
    weights = (3, 7, 1) * 3
    return value[0] in "0123" and sum(int(c) * w for c, w in zip(value, weights, strict=True)) % 10 == 0


def health_number(value: str) -> bool:
    """After a health-id label: a KVNR or an Australian Medicare number by its check digit; an undashed
    MBI (its alphabet positions are the pattern's)."""
    compact = value.replace(" ", "")
    if compact.isdigit():
        return au_medicare(compact)
    if compact[0].isalpha() and compact[1:].isdigit():
        return kvnr(compact)
    return True


def _labelled(scheme: Callable[[str], bool]) -> Callable[[str, int, int], Span | None]:
    """After a label: unglued, not a repeated or sequential run, and the scheme's check holds."""

    def check(text: str, start: int, end: int) -> Span | None:
        value = text[start:end]
        digits = _digits(value)
        if (
            not _unglued(text, start, end)
            or "1234567" in value
            or (len(digits) >= 8 and len(set(digits)) < 3)
        ):
            return None
        return (start, end) if scheme(value) else None

    return check


def date_of_birth(text: str, start: int, end: int) -> Span | None:
    """A calendar date (year first, day or month first, or with a month name) with a plausible birth year."""
    value = text[start:end].lower()
    numbers = [int(n) for n in re.findall(r"\d+", value)]
    month = next((i + 1 for i, name in enumerate(_MONTHS) if name in value), None)
    year = max(numbers)
    if not 1900 <= year <= date.today().year or not _unglued(text, start, end):
        return None
    if month is not None:
        day = min(numbers)
        return (start, end) if _valid_date(year, month, day) else None
    if len(numbers) != 3:
        return None
    if numbers[0] == year:
        return (start, end) if _valid_date(year, numbers[1], numbers[2]) else None
    first, second = numbers[0], numbers[1]
    return (start, end) if _valid_date(year, second, first) or _valid_date(year, first, second) else None


_STREET_WORDS = re.compile(
    r"(?i)\b(?:street|st\.?|avenue|ave\.?|road|rd\.?|lane|ln\.?|boulevard|blvd\.?|drive|dr\.?|way|court|ct\.?|"
    r"place|pl\.?|square|sq\.?|terrace|close|crescent|highway|hwy|parkway|row|walk)(?=[\s,.]|$)|"
    r"(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm)\b|\b(?:rue|via|calle|avenida|chemin|viale|plaza)\b"
)
_POSTCODE = re.compile(
    r"\b\d{5}(?:-\d{4})?\b|\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b|\b[A-Z]\d[A-Z] ?\d[A-Z]\d\b|\b\d{4} ?[A-Z]{2}\b"
)


def postal_address(text: str, start: int, end: int) -> Span | None:
    """A street line: a house number, and a street word or a postcode; not an IP, e-mail or URL."""
    value = text[start:end]
    if "@" in value or "://" in value or re.fullmatch(r"[\d.:/\s]+", value):
        return None
    if not re.search(r"\b\d{1,5}[A-Za-z]?\b", value) or not re.search(r"[^\W\d_]{3}", value):
        return None
    return (start, end) if _STREET_WORDS.search(value) or _POSTCODE.search(value) else None


_AT = r"(?:\s*[\[({<]\s*at\s*[\])}>]\s*|\s+(?:at|AT)\s+|@)"
_DOT = r"(?:\s*[\[({<]\s*dot\s*[\])}>]\s*|\s+(?:dot|DOT)\s+)"


# Words before a spelled-out " at " in prose, never a mailbox name.
_PROSE_WORDS = frozenset(
    {
        "i",
        "you",
        "we",
        "he",
        "she",
        "it",
        "they",
        "me",
        "us",
        "him",
        "her",
        "them",
        "look",
        "looked",
        "meet",
        "see",
    }
    | {
        "be",
        "is",
        "was",
        "are",
        "were",
        "arrive",
        "arrived",
        "stay",
        "stayed",
        "and",
        "or",
        "the",
        "this",
        "that",
    }
)


def obfuscated_email(text: str, start: int, end: int) -> Span | None:
    """`name at domain dot tld`: both spelled-out separators, or a bracketed `at`; a known-looking tld."""
    value = text[start:end]
    bracketed = re.search(r"[\[({<]\s*at\s*[\])}>]", value, re.IGNORECASE) is not None
    spelled_dot = re.search(_DOT, value) is not None
    if not (bracketed or spelled_dot) or not _unglued(text, start, end):
        return None
    parts = [p.strip().lower() for p in re.split(r"\.|" + _DOT + "|" + _AT, value)]
    if parts[0] in _PROSE_WORDS or any(p in ("at", "dot") for p in parts[1:]):
        return None  # prose: "looked at me dot dot dot"
    tld = parts[-1]
    return (start, end) if tld.isalpha() and 2 <= len(tld) <= 12 else None


_TAX_LABEL = r"(?i:\bpan\b(?: card| no\.?| number)?|permanent account number|\btfn|tax file number)"
_HEALTH_LABEL = (
    r"(?i:medicare(?: card| number| no\.?| id| beneficiary identifier)?|\bmbi|"
    r"krankenversichertennummer|versichertennummer|\bkvnr|versicherten-?nr\.?)"
)
_ID_LABEL = r"(?:マイナンバー|個人番号|주민등록번호|(?i:personnr\.?|personal identity number))"
_NIR_LABEL = r"(?i:\bnir\b|num(?:e|é)ro insee|n° de s(?:e|é)curit(?:e|é) sociale|s(?:e|é)curit(?:e|é) sociale|num(?:e|é)ro de s(?:e|é)curit(?:e|é))"
_DOB_LABEL = (
    r"(?i:date of birth|birth ?date|\bdob\b|d\.o\.b\.?|born(?: on)?|geburtsdatum|geb\.|fecha de nacimiento|"
    r"date de naissance|data di nascita|date_of_birth|dateofbirth)"
)
_DATE = (
    r"(\d{1,2}[./\-]\d{1,2}[./\-]\d{4}|\d{4}[./\-]\d{1,2}[./\-]\d{1,2}|"
    r"(?i:[a-z]{3,9})\.? \d{1,2},? \d{4}|\d{1,2}\.? (?i:[a-z]{3,9})\.? \d{4})"
)
# Any `...address:` label (home, shipping, billing...): the validator tells a street from an IP or e-mail.
_ADDRESS_LABEL = r"(?i:address)"
_LABEL_GAP = r"[\"']?\s*(?:[:=#\-]|no\.?|number)?\s*[\"']?\s*"


def _rule(kind: str, pattern: str, validate: Callable[[str, int, int], Span | None], hint: str) -> Rule:
    return Rule(kind, pattern, validate, 0.8, 44, hint=relaxed(hint))


LABELLED_RULES: tuple[Rule, ...] = (
    Rule(
        "tax_id",
        r"\b(9\d{2}-(?:5\d|6[0-5]|7\d|8[0-8]|9[0-24-9])-\d{4})\b",
        _checked(itin),
        0.85,
        44,
    ),
    _rule(
        "tax_id",
        _TAX_LABEL + r"[^\n\d]{0,30}?\b([A-Z]{3}[PCHFATBLJG][A-Z]\d{4}[A-Z]|\d{3} ?\d{3} ?\d{3})\b",
        _labelled(lambda v: not v[0].isdigit() or au_tfn(v)),
        _TAX_LABEL,
    ),
    Rule("health_id", r"\b(" + _mbi("-") + r")\b", _checked(lambda v: True), 0.85, 44),
    _rule(
        "health_id",
        _HEALTH_LABEL + r"[^\n\d]{0,30}?\b(" + _mbi("") + r"|[A-Z]\d{9}|[2-6]\d{3} ?\d{5} ?\d{1,2})\b",
        _labelled(health_number),
        _HEALTH_LABEL,
    ),
    Rule(
        "driver_licence",
        r"\b([A-Z9]{5}\d[0156]\d[0-3]\d\d[A-Z9]{2}9[A-Z0-9]{2})\b",
        _checked(uk_driving_licence),
        0.85,
        44,
        hint=r"[A-Z9]{5}\d[0156]\d[0-3]\d\d[A-Z9]{2}9",
    ),
    Rule("national_id", r"\b(\d{6}-[1-8]\d{6})\b", _checked(kr_rrn), 0.85, 44),
    _rule(
        "national_id",
        _NIR_LABEL + r"[^\n\d]{0,30}?\b([1-478] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2})\b",
        _labelled(fr_nir),
        _NIR_LABEL,
    ),
    _rule(
        "national_id",
        _ID_LABEL + r"[^\n\d]{0,40}?(\d[\d .\-]{7,16}\d)",
        labelled_digits,
        _ID_LABEL + r"[^\n\d]*\d",
    ),
    _rule("date_of_birth", _DOB_LABEL + _LABEL_GAP + _DATE, date_of_birth, _DOB_LABEL),
    _rule(
        "postal_address",
        _ADDRESS_LABEL + r"[\"']?\s*[:=]\s*[\"']?\s*([^\s\"'<>][^\n\"'<>]{5,100}?)(?:[\"'<\n]|$)",
        postal_address,
        _ADDRESS_LABEL + r"[\"']?\s*[:=]",
    ),
    _rule(
        "bank_account",
        r"(?i:routing|aba|rtn)(?i: number| no\.?| #)?\s*[:=#]?\s*(\d{9})\b",
        _labelled(aba_routing),
        r"(?i:routing|aba|rtn)[^\n]*\d{9}",
    ),
    _rule(
        "bank_account",
        r"(?i:account|acct\.?)(?i: number| no\.?| num| #)\s*[:=#]?\s*(\d{6,17})\b",
        _labelled(lambda v: True),
        r"(?i:account|acct\.?)(?i: number| no\.?| num| #)\s*[:=#]?\s*\d{6}",
    ),
    Rule(
        "email",
        r"([A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}(?:"
        + _DOT
        + r"[A-Za-z0-9._%+\-]{1,63}){0,3}"
        + _AT
        + r"[A-Za-z0-9][A-Za-z0-9\-]{0,62}"
        r"(?:(?:" + _DOT + r"|\.)[A-Za-z0-9\-]{1,63}){1,4})",
        obfuscated_email,
        0.8,
        40,
        # Stage 1 wants an `at` and a `dot` together (or a bracketed `at`): a bare ` at ` is in most prose.
        hint=r"(?i)(?:[\[({<]\s*at\s*[\])}>]|\sat\s+[A-Za-z0-9\-]+(?:\s*[\[({<]\s*dot|\s+dot\s)|"
        r"@[A-Za-z0-9\-]+\s*[\[({<]\s*dot)",
    ),
)

"""National identity numbers and passport machine-readable zones, by their check digits.

Formats with letters or punctuation that checksums pin down (Spanish DNI/NIE, Italian codice fiscale,
Singapore NRIC/FIN, Brazilian CPF written with its dots, Chinese resident ids, Finnish henkilötunnus)
are found anywhere. Plain digit strings of the right length are everywhere in logs (order numbers,
timestamps), so those (Dutch BSN, Polish PESEL, Turkish kimlik, Indian Aadhaar, Canadian SIN, Swedish
personnummer, UK NHS and NI numbers, South African ids, Japanese My Number) are found only after a
label that names an identity number, and only when one of the schemes' check digits holds.
A passport's two MRZ lines (ICAO 9303 TD3) are found when their check digits hold."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from railguard.detect.secrets._scanner import Rule, relaxed

Span = tuple[int, int]
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def _weighted(digits: str, weights: list[int]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False))


def luhn_valid(digits: str) -> bool:
    """The Luhn check digit of cards and of several national ids (`pii` checks cards with it too)."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_date(yy: str, mm: str, dd: str) -> bool:
    try:
        date(2000 + int(yy), int(mm), int(dd))
    except ValueError:
        return False
    return True


def dni(value: str) -> bool:
    body = value[:-1].upper().replace("X", "0").replace("Y", "1").replace("Z", "2")
    return body.isdigit() and _DNI_LETTERS[int(body) % 23] == value[-1].upper()


# Check character of the codice fiscale: values of characters in odd positions (digits, then A-Z).
_CF_ODD = (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14,
           16, 10, 22, 25, 24, 23)  # fmt: skip
_ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def codice_fiscale(value: str) -> bool:
    body = value[:15].upper()
    total = sum(
        _CF_ODD[_ALNUM36.index(c)] if i % 2 == 0 else (int(c) if c.isdigit() else ord(c) - 65)
        for i, c in enumerate(body)
    )
    return chr(65 + total % 26) == value[15].upper()


def nric(value: str) -> bool:
    value = value.upper()
    total = _weighted(value[1:8], [2, 7, 6, 5, 4, 3, 2]) + (4 if value[0] in "TG" else 0)
    table = "JZIHGFEDCBA" if value[0] in "ST" else "XWUTRQPNMLK"
    return table[total % 11] == value[8]


def cpf(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if len(digits) != 11 or len(set(digits)) == 1:
        return False
    for length in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(length + 1, 1, -1), strict=False))
        if digits[length] != (0 if total % 11 < 2 else 11 - total % 11):
            return False
    return True


def china_id(value: str) -> bool:
    body = value[:17]
    if not _is_date(body[8:10], body[10:12], body[12:14]) or not 1900 <= int(body[6:10]) <= 2100:
        return False
    check = "10X98765432"[_weighted(body, [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]) % 11]
    return check == value[17].upper()


def hetu(value: str) -> bool:
    value = value.upper()
    if not _is_date(value[4:6], value[2:4], value[:2]):
        return False
    return "0123456789ABCDEFHJKLMNPRSTUVWXY"[int(value[:6] + value[7:10]) % 31] == value[10]


def _bsn(d: str) -> bool:
    return len(d) == 9 and (_weighted(d, [9, 8, 7, 6, 5, 4, 3, 2]) - int(d[8])) % 11 == 0


def _pesel(d: str) -> bool:
    if len(d) != 11 or not _is_date(d[:2], str(int(d[2:4]) % 20), d[4:6]):
        return False
    return (10 - _weighted(d, [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]) % 10) % 10 == int(d[10])


def _kimlik(d: str) -> bool:
    if len(d) != 11 or d[0] == "0":
        return False
    n = [int(c) for c in d]
    d10 = ((n[0] + n[2] + n[4] + n[6] + n[8]) * 7 - (n[1] + n[3] + n[5] + n[7])) % 10
    return n[9] == d10 and n[10] == sum(n[:10]) % 10


def _nhs(d: str) -> bool:
    if len(d) != 10:
        return False
    check = 11 - _weighted(d, [10, 9, 8, 7, 6, 5, 4, 3, 2]) % 11
    return (0 if check == 11 else check) == int(d[9])


def _verhoeff(d: str) -> bool:
    # Dihedral group D5 and the position permutation, built rather than tabulated.
    def mul(a: int, b: int) -> int:
        if a < 5 and b < 5:
            return (a + b) % 5
        if a < 5:
            return 5 + (a + b - 5) % 5
        if b < 5:
            return 5 + (a - 5 - b) % 5
        return (a - b) % 5

    base = [1, 5, 7, 6, 2, 8, 3, 0, 9, 4]
    perms = [list(range(10))]
    for _ in range(7):
        perms.append([base[x] for x in perms[-1]])
    check = 0
    for i, char in enumerate(reversed(d)):
        check = mul(check, perms[i % 8][int(char)])
    return check == 0


def _aadhaar(d: str) -> bool:
    return len(d) == 12 and d[0] not in "01" and _verhoeff(d)


def _my_number(d: str) -> bool:
    if len(d) != 12:
        return False
    body = d[:11]
    total = sum(int(p) * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(reversed(body), start=1))
    return (0 if total % 11 <= 1 else 11 - total % 11) == int(d[11])


def _luhn_id(d: str) -> bool:
    # Canadian SIN (9), Swedish personnummer (10, date first), South African id (13, date first).
    if len(d) == 10 or len(d) == 13:
        return _is_date(d[:2], d[2:4], d[4:6]) and luhn_valid(d)
    return len(d) == 9 and d[0] not in "08" and luhn_valid(d)


_DIGIT_SCHEMES: tuple[Callable[[str], bool], ...] = (
    _bsn,
    _pesel,
    _kimlik,
    _nhs,
    _aadhaar,
    _my_number,
    _luhn_id,
    cpf,
)


def _unglued(text: str, start: int, end: int) -> bool:
    before, after = text[start - 1 : start], text[end : end + 1]
    return not (before.isalnum() or (before != "" and before in "-_/")) and not (
        after.isalnum() or (after != "" and after in "_/")
    )


def checked(scheme: Callable[[str], bool]) -> Callable[[str, int, int], Span | None]:
    def check(text: str, start: int, end: int) -> Span | None:
        value = text[start:end]
        if "1234567" in value or not _unglued(text, start, end):
            return None  # documentation samples (`X1234567L`, `12345678Z`) are sequential
        return (start, end) if scheme(value) else None

    return check


def labelled_digits(text: str, start: int, end: int) -> Span | None:
    """Digits after an identity label: one of the digit schemes' check digits must hold."""
    digits = "".join(c for c in text[start:end] if c.isdigit())
    if not _unglued(text, start, end) or len(set(digits)) < 3:
        return None
    return (start, end) if any(scheme(digits) for scheme in _DIGIT_SCHEMES) else None


def uk_nino(text: str, start: int, end: int) -> Span | None:
    value = text[start:end].replace(" ", "").upper()
    if value[:2] in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ") or not _unglued(text, start, end):
        return None
    return start, end


def _mrz_check(field: str, digit: str) -> bool:
    values = {c: i for i, c in enumerate("0123456789")} | {
        c: 10 + i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    }
    total = sum(values.get(c, 0) * (7, 3, 1)[i % 3] for i, c in enumerate(field))
    return str(total % 10) == digit or (digit == "<" and total % 10 == 0)


def passport_mrz(text: str, start: int, end: int) -> Span | None:
    """TD3: the document number, birth date, expiry and composite check digits of line 2 hold."""
    line2 = text[start:end].splitlines()[-1]
    checks = (
        _mrz_check(line2[0:9], line2[9])
        and _mrz_check(line2[13:19], line2[19])
        and _mrz_check(line2[21:27], line2[27])
        and _mrz_check(line2[0:10] + line2[13:20] + line2[21:43], line2[43])
    )
    return (start, end) if checks else None


_LABEL = (
    r"(?:(?i:pesel|aadhaa?r|personnummer|kimlik|tckn|burgerservicenummer|my ?number|mynumber|"
    r"social insurance(?: number)?|national[ _\-]?(?:id|identity|insurance)(?:[ _\-]?(?:number|no))?|"
    r"id[ _\-]?(?:number|no|nr)|identity (?:number|card)|nhs (?:number|no)|sa id(?: number)?|"
    r"resident (?:id|registration)|bsn|cpf|rrn)|(?-i:SIN|NHS))"
)

ID_RULES: tuple[Rule, ...] = (
    Rule("national_id", r"\b([0-9XYZxyz]\d{7}[A-Za-z])\b", checked(dni), 0.85, 44),
    Rule(
        "national_id",
        r"\b([A-Za-z]{6}\d{2}[A-Za-z]\d{2}[A-Za-z]\d{3}[A-Za-z])\b",
        checked(codice_fiscale),
        0.9,
        44,
    ),
    Rule("national_id", r"\b([STFGstfg]\d{7}[A-Za-z])\b", checked(nric), 0.85, 44),
    Rule("national_id", r"\b(\d{3}\.\d{3}\.\d{3}-\d{2})\b", checked(cpf), 0.9, 44),
    Rule("national_id", r"\b(\d{17}[\dXx])\b", checked(china_id), 0.9, 44),
    Rule("national_id", r"\b(\d{6}[-+Aa]\d{3}[0-9A-Ya-y])\b", checked(hetu), 0.85, 44),
    Rule(
        "national_id",
        r"\b([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D])\b",
        uk_nino,
        0.8,
        44,
        hint=r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]",
    ),
    Rule(
        "national_id",
        _LABEL + r"[^\n\d]{0,40}?(\d[\d .\-]{7,16}\d)",
        labelled_digits,
        0.8,
        44,
        hint=relaxed(_LABEL + r"[^\n\d]{0,40}?\d[\d .\-]{7,16}\d"),
    ),
    Rule(
        "national_id",
        r"(P[A-Z<][A-Z<]{3}[A-Z<]{39}\r?\n[A-Z0-9<]{9}[0-9<][A-Z<]{3}\d{6}\d[MFX<]\d{6}\d[A-Z0-9<]{14}[0-9<]\d)",
        passport_mrz,
        0.95,
        44,
        hint=r"P[A-Z<][A-Z<]{3}[A-Z<]{20}",
    ),
)

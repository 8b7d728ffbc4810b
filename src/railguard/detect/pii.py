"""Personal data in text: emails, phone numbers, payment cards (Luhn), IBANs (mod-97), US SSNs and IP
addresses. Patterns find candidates in one linear pass; validators apply the checksums and the
shape rules that keep dates, versions, hashes and order numbers out."""

from __future__ import annotations

import functools
import ipaddress
import re

from railguard.detect._pii_ids import ID_RULES, luhn_valid
from railguard.detect._pii_labelled import LABELLED_RULES
from railguard.detect.secrets._scanner import Rule, Scanner, resolve_overlaps
from railguard.model import Finding

__all__ = ["PII_KINDS", "find_pii"]


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _glued_to_number(text: str, start: int, end: int) -> bool:
    """`1.2.3.4.5`, `v10.0.0.1`, `123-45-6789-0`: the candidate is part of a longer token."""
    before = text[start - 2 : start] if start >= 2 else text[:start]
    after = text[end : end + 2]
    return (
        (len(before) == 2 and before[1] in ".-" and before[0].isalnum())
        or (before[-1:].isalpha())
        or (len(after) == 2 and after[0] in ".-" and after[1].isdigit())
    )


_CARD_LEADS = ("2", "3", "4", "5", "6", "1800", "2131")
# Numbers the card networks and payment processors publish for testing: never a real card. Dropped
# only next to words saying so, so a test number in a real-looking record is still redacted.
_TEST_CARDS = frozenset(
    {
        "4242424242424242", "4000056655665556", "5555555555554444", "2223003122003222", "5200828282828210",
        "5105105105105100", "378282246310005", "371449635398431", "6011111111111117", "6011000990139424",
        "3056930009020004", "36227206271667", "3566002020360505", "6200000000000005", "4111111111111111",
        "4012888888881881", "4000000000000002", "4000000000009995", "5454545454545454",
    }
)  # fmt: skip
_TEST_WORDS = ("test", "sandbox", "example", "demo", "dummy", "fake", "sample", "stripe", "docs")
# Dotted numbers are cards only in a network's grouping: 4-4-4-4(-3) or Amex/Diners 4-6-5 / 4-6-4.
_DOTTED_GROUPS = ([4, 4, 4, 4], [4, 4, 4, 4, 3], [4, 6, 5], [4, 6, 4])


_PRODUCT_CODE = re.compile(r"(?i)\b(?:ean|gtin|upc|isbn|barcode)(?:-1[0-4])?\b[\s:#=]*$")


def _documented_test_card(text: str, start: int, end: int, digits: str) -> bool:
    if digits not in _TEST_CARDS:
        return False
    nearby = text[max(0, start - 60) : end + 60].lower()
    return any(word in nearby for word in _TEST_WORDS)


def _credit_card(text: str, start: int, end: int) -> tuple[int, int] | None:
    value = text[start:end]
    digits = _digits(value)
    separators = {c for c in value if not c.isdigit()}
    if len(separators) > 1 or not 12 <= len(digits) <= 19 or len(set(digits)) < 3:
        return None
    if text[start - 1 : start] == "+":
        return None  # an international phone number
    if text[start - 1 : start] == ":" and text[end : end + 1] == ":":
        return None  # a field of a colon-separated id: the account in `arn:aws:iam::123456789012:role`
    if not digits.startswith(_CARD_LEADS):
        return None  # no card network issues these (1716200000123 is a timestamp in ms)
    if _PRODUCT_CODE.search(text[max(0, start - 16) : start]):
        return None  # a barcode number (EAN-13, GTIN, UPC, ISBN) after its label
    if separators == {"."} and [len(g) for g in value.split(".")] not in _DOTTED_GROUPS:
        return None  # versions, dotted ids
    if _glued_to_number(text, start, end) or not luhn_valid(digits):
        return None
    if _documented_test_card(text, start, end, digits):
        return None
    return start, end


# Lengths of IBANs by country (ISO 13616 registry, the common countries).
_IBAN_LENGTH = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
    "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21,
    "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31,
    "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def _iban_mod97(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


# The example IBANs of the ISO 13616 registry and of banks' documentation, reprinted in every guide:
# dropped only next to a word saying so (as the test cards), so one in a real-looking record is redacted.
_EXAMPLE_IBANS = frozenset(
    {"DE89370400440532013000", "GB82WEST12345698765432", "GB29NWBK60161331926819", "FR1420041010050500013M02606",
     "NL91ABNA0417164300", "BE68539007547034", "CH9300762011623852957", "ES9121000418450200051332",
     "IT60X0542811101000000123456", "AT611904300234573201"}
)  # fmt: skip


_EXAMPLE_WORDS = re.compile(r"(?i)\b(?:example|sample|format|docs?|documentation|test|demo)\b|\be\.g\.")


def _iban(text: str, start: int, end: int) -> tuple[int, int] | None:
    value = text[start:end].upper()
    expected = _IBAN_LENGTH.get(value[:2])
    if expected is None:
        return None
    # Trailing groups may belong to the next word: keep exactly the country's length.
    kept = 0
    cut = start
    for i, char in enumerate(value):
        if char != " ":
            kept += 1
            if kept == expected:
                cut = start + i + 1
                break
    compact = value.replace(" ", "")[:expected]
    if kept < expected or not compact.isalnum() or not _iban_mod97(compact):
        return None
    if compact in _EXAMPLE_IBANS and _EXAMPLE_WORDS.search(text[max(0, start - 60) : cut + 60]):
        return None  # a documentation example, said to be one
    if cut < len(text) and text[cut].isalnum():
        return None
    return start, cut


def _ssn(text: str, start: int, end: int) -> tuple[int, int] | None:
    value = text[start:end]
    if value[3] != value[6] or _glued_to_number(text, start, end):
        return None  # mixed separators: 123-45 6789
    area, group, serial = value[:3], value[4:6], value[7:]
    if area in ("000", "666") or area >= "900" or group == "00" or serial == "0000":
        return None
    if value[:3] + value[4:6] + value[7:] in ("123456789", "078051120", "219099999"):
        return None  # advertised / documented sample numbers
    return start, end


def _keyed_ssn(text: str, start: int, end: int) -> tuple[int, int] | None:
    """A bare 9-digit SSN after an `SSN`/`social security number` label: same number rules."""
    digits = _digits(text[start:end])
    return (start, end) if _ssn(f"{digits[:3]}-{digits[3:5]}-{digits[5:]}", 0, 11) else None


def _not_ipv6(candidate: str) -> bool:
    """`10:30:00`, `12:45`: colons, no `::`, no dotted tail, not eight groups. `ip_address` refuses
    these as well (it wants exactly 8 groups without `::`); saying so first spares its exceptions,
    and e-mails are full of clock times."""
    return ":" in candidate and "." not in candidate and "::" not in candidate and candidate.count(":") != 7


_HEX_COLON_RUN = re.compile(r":[0-9A-Fa-f]{2}\b")
_HEX_COLON_RUN_LEFT = re.compile(r"\b[0-9A-Fa-f]{2}:$")
_PREFIX_LENGTH = re.compile(r"/(\d{1,2})\b")


def _network_block(text: str, end: int, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """`10.9.0.0/24`: a network's address with its prefix length names a range, not a host."""
    prefix = _PREFIX_LENGTH.match(text, end)
    if prefix is None or not 0 < int(prefix.group(1)) < 32:
        return False
    host_bits = 32 - int(prefix.group(1))
    return int(address) & ((1 << host_bits) - 1) == 0


def _ip(text: str, start: int, end: int) -> tuple[int, int] | None:
    candidate = text[start:end]
    if _glued_to_number(text, start, end) or _not_ipv6(candidate):
        return None
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    if address.version == 4 and (address.is_unspecified or _network_block(text, end, address)):
        return None  # 0.0.0.0 is "every interface", no one's address
    if address.version == 6:
        if _HEX_COLON_RUN.match(text, end) or _HEX_COLON_RUN_LEFT.search(text[max(0, start - 3) : start]):
            return None  # a longer colon-separated hex run: a key fingerprint, not an address
        if text[end : end + 1].isalnum() or (
            start > 0 and (text[start - 1].isalnum() or text[start - 1] == ":")
        ):
            return None
        groups = sum(part != "" for part in candidate.split(":"))
        if candidate != "::1" and (groups < 2 or not any(c.isdigit() for c in candidate)):
            return None  # `a::b`, `cafe::bad`: more often code than an address
    return start, end


_EMAIL_EDGE = "._%+-"
_SSH_NAMESPACES = frozenset({"openssh.com", "libssh.org"})


def _email(text: str, start: int, end: int) -> tuple[int, int] | None:
    # Word boundaries checked here: RE2's `\b` is ASCII-only and would split `josé@` or `用户@`.
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] in _EMAIL_EDGE):
        return None
    if end < len(text) and (text[end].isalnum() or text[end] in "-_"):
        return None
    local, _, domain = text[start:end].partition("@")
    labels = domain.split(".")
    tld = labels[-1]
    if not local[0].isalnum() or len(local) > 64 or len(labels) > 9 or max(map(len, labels)) > 63:
        return None
    if not ((tld.isalpha() and 2 <= len(tld) <= 24) or tld.lower().startswith("xn--")):
        return None
    if not labels[0][:1].isalnum():
        return None
    token_start = max(text.rfind(" ", 0, start), text.rfind("\n", 0, start)) + 1
    if "://" in text[token_start:start]:
        return None  # user:password@host in a URL
    local = text[start : text.index("@", start)]
    if local.lower() in ("git",):
        return None  # git@github.com:org/repo
    if domain.lower() in _SSH_NAMESPACES:
        return None  # SSH algorithm names: ssh-ed25519-cert-v01@openssh.com
    return start, end


_DATE_SEPARATORS = frozenset("-./")


def _starts_with_date(core: str, groups: list[str]) -> bool:
    """`2000-04-16 11:34`, `15.01.2023`, `2024/03/02`: dates, not numbers to call."""
    if len(groups) < 3 or not set(core[len(groups[0])]) <= _DATE_SEPARATORS:
        return False
    lengths = [len(g) for g in groups[:3]]
    return lengths in ([4, 2, 2], [2, 2, 4], [1, 2, 4], [2, 1, 4], [4, 1, 2], [4, 2, 1], [1, 1, 4])


def _next_word_follows(text: str, end: int) -> bool:
    """`370 3911 Fourth Avenue`: a house number, not a phone number."""
    return text[end : end + 1] == " " and text[end + 1 : end + 2].isalpha()


def _in_digit_run(text: str, start: int, end: int) -> bool:
    """`4539 1488 0343 6468`: a group of a longer number (a card failing Luhn), not a phone."""
    return (start >= 2 and text[start - 1] == " " and text[start - 2].isdigit()) or (
        text[end : end + 1] == " " and text[end + 1 : end + 2].isdigit()
    )


_DIGIT_RUN = re.compile(r"[0-9]+")
_FICTIONAL_NANP = re.compile(r"(?:^|\D)555[ .\-]?01\d\d$")
_IBAN_GROUPS_BEFORE = re.compile(r"\b[A-Z]{2}\d{2}(?: [A-Z0-9]{4})+ $")


def _phone(text: str, start: int, end: int) -> tuple[int, int] | None:
    value = text[start:end]
    core = value.split("x")[0].split("ext")[0].rstrip(" ")
    # The runs of digits: the phone patterns match ASCII only, where [0-9] is exactly isdigit().
    groups = _DIGIT_RUN.findall(core)
    digits = "".join(groups)
    if not 7 <= len(digits) <= 15 or len(set(digits)) < 3:
        return None
    international = value.startswith("+")
    if not international and _starts_with_date(core, groups):
        return None
    if not international and not value.startswith("(") and len(groups) < 2:
        return None
    if not international and max(map(len, groups)) > 4 and not groups[0].startswith("0"):
        return None  # long groups only after a trunk prefix: `0393 1144137`
    if len(groups) == 2 and not international and _next_word_follows(text, end):
        return None
    if not international and [len(g) for g in groups] == [3, 2, 4] and "-" in core:
        return None  # the shape of a US SSN (an invalid one, or it would have won the overlap)
    if _FICTIONAL_NANP.search(core):
        return None  # 555-0100 to 555-0199 are reserved for fiction and examples
    if _in_digit_run(text, start, end) or _IBAN_GROUPS_BEFORE.search(text[max(0, start - 40) : start]):
        return None  # also the groups of an IBAN (`GB82 WEST 1234 5698 7654 32`)
    if _glued_to_number(text, start, end):
        return None
    return start, end


_SEP = r"[ .\-]"
PII_RULES: tuple[Rule, ...] = (
    Rule(
        "email",
        # Unicode letters in both parts (internationalised addresses, RFC 6531). Unbounded repeats:
        # counted repeats of Unicode classes make RE2 programs too large; `_email` checks lengths.
        r"([\p{L}\p{N}._%+\-]+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)+)",
        _email,
        0.95,
        40,
        # Byte-level superset for stage 1 (non-ASCII letters are multi-byte there).
        hint=r"[^\s@]@[^\s@.]",
    ),
    Rule("credit_card", r"\b((?:\d[ \-.]?){11,18}\d)\b", _credit_card, 0.9, 45),
    Rule("iban", r"(?i)\b([a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,3})?)\b", _iban, 0.95, 45),
    Rule("us_ssn", r"\b(\d{3}[\- ]\d{2}[\- ]\d{4})\b", _ssn, 0.85, 44),
    Rule(
        "us_ssn",
        r"(?i)\b(?:ssn|social[ _]security(?:[ _]number| no\.?)?|ss#)\s*(?:#|no\.?|number)?\s*[:=]?\s*[\"']?"
        r"(\d{3}[.\- ]?\d{2}[.\- ]?\d{4})\b",
        _keyed_ssn,
        0.85,
        44,
    ),
    Rule("ip_address", r"\b((?:\d{1,3}\.){3}\d{1,3})\b", _ip, 0.9, 43),
    Rule(
        "ip_address",
        r"((?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4}))",
        _ip,
        0.9,
        43,
    ),
    Rule(
        "phone",
        r"(\+\d{1,3}" + _SEP + r"?(?:\(\d{1,4}\)" + _SEP + r"?)?\d{1,4}(?:" + _SEP + r"?\d{1,4}){1,5}"
        r"(?: ?(?:x|ext\.?) ?\d{1,5})?)\b",
        _phone,
        0.8,
        30,
    ),
    Rule(
        "phone",
        r"((?:\(\d{2,4}\) ?|\b\d{2,5}" + _SEP + r")\d{2,8}(?:" + _SEP + r"\d{2,4}){0,3}"
        r"(?: ?(?:x|ext\.?) ?\d{1,5})?)\b",
        _phone,
        0.7,
        30,
    ),
    *ID_RULES,
    *LABELLED_RULES,
)

PII_KINDS: frozenset[str] = frozenset(rule.kind for rule in PII_RULES)
PII_PRIORITY: dict[str, int] = {rule.kind: rule.priority for rule in PII_RULES}


@functools.cache
def _scanner() -> Scanner:
    return Scanner(PII_RULES, detector="pii")


def find_pii(text: str) -> list[Finding]:
    """Personal data in `text`: non-overlapping findings sorted by position."""
    return resolve_overlaps(_scanner().candidates(text), PII_PRIORITY)

"""Private keys outside PEM blocks: JSON Web Keys' private members, .NET `<RSAKeyValue>` XML, an OpenPGP
secret key exported as base64 of the binary packet, and wallet keys whose encodings carry checksums
(Base58Check WIF and extended private keys, bech32 `nsec`) or a fixed shape (a Solana keypair file: a
JSON array of 64 bytes). RE2 syntax, bounded repeats; group 1 is the secret."""

from __future__ import annotations

import base64
import binascii
import hashlib

from railguard.detect.secrets._checks import bounded, is_placeholder
from railguard.detect.secrets._scanner import Rule, Validator, relaxed
from railguard.detect.secrets._validators import Span

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_OBJECT_WINDOW = 4000


def _inside_object_with(marker: str) -> Validator:
    """The value sits in a JSON object (between the nearest braces) that also holds `marker`."""

    def check(text: str, start: int, end: int) -> Span | None:
        left = text.rfind("{", max(0, start - _OBJECT_WINDOW), start)
        right = text.find("}", end, end + _OBJECT_WINDOW)
        if left < 0 or right < 0 or marker not in text[left:right]:
            return None
        return None if is_placeholder(text[start:end]) else (start, end)

    return check


def rsa_key_value(text: str, start: int, end: int) -> Span | None:
    """.NET's XML key: private when it holds the private exponent `<D>` or a prime `<P>`."""
    block = text[start:end]
    return (start, end) if "<D>" in block or "<P>" in block else None


def pgp_packet(text: str, start: int, end: int) -> Span | None:
    """base64 of a binary OpenPGP secret-key packet: old-format tag 5 (0x94/0x95) or new-format 0xC5."""
    if not bounded(text, start, end):
        return None
    try:
        head = base64.b64decode(text[start : start + 8], validate=True)
    except (binascii.Error, ValueError):
        return None
    return (start, end) if head[:1] in (b"\x94", b"\x95", b"\xc5") else None


def _base58_decode(value: str) -> bytes | None:
    number = 0
    for char in value:
        digit = _BASE58.find(char)
        if digit < 0:
            return None
        number = number * 58 + digit
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * (len(value) - len(value.lstrip("1"))) + body


def base58check(lengths: tuple[int, ...]) -> Validator:
    """Base58Check with a valid checksum and a payload of one of `lengths` bytes."""

    def check(text: str, start: int, end: int) -> Span | None:
        if not bounded(text, start, end):
            return None
        raw = _base58_decode(text[start:end])
        if raw is None or len(raw) - 4 not in lengths:
            return None
        payload, checksum = raw[:-4], raw[-4:]
        return (
            (start, end)
            if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] == checksum
            else None
        )

    return check


def _bech32_polymod(values: list[int]) -> int:
    generators = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(generators):
            chk ^= generator if (top >> i) & 1 else 0
    return chk


def bech32_key(text: str, start: int, end: int) -> Span | None:
    value = text[start:end].lower()
    hrp, _, data = value.rpartition("1")
    if not bounded(text, start, end) or any(c not in _BECH32 for c in data):
        return None
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    return (start, end) if _bech32_polymod(expanded + [_BECH32.index(c) for c in data]) == 1 else None


def byte_array(text: str, start: int, end: int) -> Span | None:
    numbers = [int(n) for n in text[start + 1 : end - 1].replace(" ", "").replace("\n", "").split(",")]
    return (start, end) if all(n <= 255 for n in numbers) and len(set(numbers)) > 16 else None


def _rule(pattern: str, validate: Validator, hint: str | None = None) -> Rule:
    return Rule("private_key", pattern, validate, 0.9, 100, hint=relaxed(hint or pattern))


KEY_RULES: tuple[Rule, ...] = (
    # From the first private member to the last of those that follow it (`d`, then `p`, `q`, `dp`...).
    _rule(
        r"(\"(?:d|p|q|dp|dq|qi)\"\s*:\s*\"[A-Za-z0-9_\-]{32,}\""
        r"(?:[^{}\"]{0,40}\"(?:d|p|q|dp|dq|qi)\"\s*:\s*\"[A-Za-z0-9_\-]{32,}\"){0,5})",
        _inside_object_with('"kty"'),
        hint=r"\"(?:d|p|q|dp|dq|qi)\"\s*:\s*\"[A-Za-z0-9_\-]{32}",
    ),
    _rule(r"\"k\"\s*:\s*\"([A-Za-z0-9_\-]{16,400})\"", _inside_object_with('"oct"')),
    _rule(r"(<RSAKeyValue>(?:[^<]|<[A-Za-z]{1,12}>|</[A-Za-z]{1,12}>)*?</RSAKeyValue>)", rsa_key_value),
    _rule(
        r"(l[QI][A-Za-z0-9+/]{300,}={0,2}|xc[A-Za-z0-9+/]{300,}={0,2})",
        pgp_packet,
        r"(?:l[QI]|xc)[A-Za-z0-9+/]{64}",
    ),
    # WIF keys have no prefix to anchor on: only after a word that says key, wallet or WIF (a bare run of
    # base58 is common in other text and costs stage 1 a pattern without a literal).
    _rule(
        r"(?i:wif|privkey|private|secret|wallet|backup|key|seed)[^\n]{0,40}?\b([5KL9c][1-9A-HJ-NP-Za-km-z]{50,51})",
        base58check((33, 34)),
    ),
    _rule(
        r"([xtyzuv]prv[1-9A-HJ-NP-Za-km-z]{100,108})",
        base58check((78,)),
        hint=r"[xtyzuv]prv[1-9A-HJ-NP-Za-km-z]{8}",
    ),
    _rule(r"(nsec1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58})", bech32_key),
    _rule(r"(\[\s*(?:\d{1,3}\s*,\s*){63}\d{1,3}\s*\])", byte_array, hint=r"\[\s*(?:\d{1,3}\s*,\s*){8}"),
)

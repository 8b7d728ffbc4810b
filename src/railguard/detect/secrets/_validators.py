"""Validators that turn secret-pattern candidates into findings (see `_scanner.Validator`): a span
in, the span to report (or None) out. Each one is O(length of the span)."""

from __future__ import annotations

import base64
import binascii
import itertools
import json

from railguard.detect.secrets._checks import (
    bounded,
    char_classes,
    is_placeholder,
    is_token_char,
    shannon_entropy,
)
from railguard.detect.secrets._references import points_at_secret
from railguard.detect.secrets._scanner import Validator

Span = tuple[int, int]


def vendor(prefix_len: int) -> Validator:
    """A fixed-prefix token: not glued to a longer word on the left (checked here rather than with a
    leading `\b`, which would stop RE2 from skipping ahead to the literal prefix), and not a
    placeholder (judged on the part after the prefix)."""

    def check(text: str, start: int, end: int) -> Span | None:
        value = text[start:end]
        if start > 0 and is_token_char(text[start - 1]):
            return None
        if is_placeholder(value, value[prefix_len:]):
            return None
        return start, end

    return check


def vendor_bounded(prefix_len: int) -> Validator:
    """`vendor`, and not glued to more token characters on the right either."""
    plain = vendor(prefix_len)

    def check(text: str, start: int, end: int) -> Span | None:
        return plain(text, start, end) if bounded(text, start, end) else None

    return check


def _b64url_text(segment: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def jwt(text: str, start: int, end: int) -> Span | None:
    """A compact JOSE object (JWS or JWE): the first segment is a JSON header naming `alg`, `enc` or
    `typ`; at least two later segments carry data (a JWE's key segment may be empty, a JWS payload may
    be opaque); the claims are no documentation sample."""
    if start > 0 and is_token_char(text[start - 1]):
        return None
    segments = text[start:end].split(".")
    try:
        header = json.loads(_b64url_text(segments[0]) or "")
    except ValueError:
        return None
    if not isinstance(header, dict) or not {"alg", "enc", "typ"} & header.keys():
        return None
    if sum(len(s) >= 8 for s in segments[1:]) < 2 or sample_claims(segments[1]):
        return None
    return start, end


_SAMPLE_CLAIMS = ("john doe", "jane doe", "example", "placeholder", "dummy")


def sample_claims(segment: str) -> bool:
    """A token segment whose decoded claims are a documentation sample (jwt.io's `"name": "John Doe"`)."""
    claims = (_b64url_text(segment) or "").lower()
    return any(marker in claims for marker in _SAMPLE_CLAIMS)


def telegram_bot(text: str, start: int, end: int) -> Span | None:
    """`123456:AA...`, also inside a Bot API URL (`api.telegram.org/bot123456:AA.../getMe`)."""
    glued_left = start > 0 and is_token_char(text[start - 1]) and text[start - 3 : start] != "bot"
    if glued_left or (end < len(text) and (text[end].isalnum() or text[end] in "_-")):
        return None
    return None if is_placeholder(text[start:end]) else (start, end)


def discord_bot(text: str, start: int, end: int) -> Span | None:
    """A Discord bot token's first part is the bot's user id (a 17-20 digit snowflake) in base64:
    checking that keeps random dotted base64 out."""
    if not bounded(text, start, end):
        return None
    head = text[start:end].split(".", 1)[0]
    try:
        user_id = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return (start, end) if user_id.isdigit() and 17 <= len(user_id) <= 20 else None


def private_key(text: str, start: int, end: int) -> Span | None:
    body = text[start:end].split("-----")
    # A block quoted in a reply or Markdown (`> ` before each line) is still the key.
    payload = (body[2] if len(body) > 2 else "").replace("\n> ", "\n").replace("\n>", "\n")
    b64_chars = sum(c.isalnum() or c in "+/=" for c in payload)
    return (start, end) if b64_chars >= 32 and not is_placeholder(payload.replace("\\n", "")) else None


def putty_key(text: str, start: int, end: int) -> Span | None:
    private = text[start:end].split("Private-Lines:", 1)[-1]
    return None if is_placeholder(private) else (start, end)


_COMMON_NON_SECRETS = frozenset({"pass", "secret", "user", "root", "admin", "guest", "test", "x"})


def not_placeholder(text: str, start: int, end: int) -> Span | None:
    """For values whose surroundings are the evidence (a DSN's key after `https://`)."""
    return None if is_placeholder(text[start:end]) else (start, end)


def password(text: str, start: int, end: int) -> Span | None:
    value = text[start:end]
    if is_placeholder(value) or value.lower() in _COMMON_NON_SECRETS:
        return None
    return start, end


def cli_password(text: str, start: int, end: int) -> Span | None:
    """`curl -u user:pass`: like `password`, but `docker -u 1000:1000` and `-u app:app` are ids."""
    value = text[start:end]
    user = text[text.rfind(" ", 0, start) + 1 : start - 1].strip("'\"")
    if value.isdigit() or value == user or looks_like_words(value):
        return None
    return password(text, start, end)


_PATH_HEADS = ("/", "./", "../", "~/")
_REFERENCE_HEADS = ("os.", "env.", "process.", "settings.", "config.", "self.", "args.", "this.", "cfg.")
_LITERALS = frozenset({"true", "false", "null", "none", "undefined", "nil", "bearer", "basic", "string"})


def looks_like_words(value: str) -> bool:
    """`my-app-secret`, `refresh_token`, `pw:tools:error`: names, not secrets."""
    parts = value.replace("-", "_").replace(".", "_").replace(":", "_").split("_")
    return all(p.isalpha() and p.islower() for p in parts if p) or all(
        p.isalpha() and p.isupper() for p in parts if p
    )


def looks_like_path(value: str) -> bool:
    """`/srv/app`, `~/Projects/api`: segments that read as names. An AWS secret key may start with `/`
    too, but its mixed-case random segments do not."""
    if not value.startswith(_PATH_HEADS):
        return False
    segments = [s for s in value.split("/") if s not in ("", ".", "..", "~")]
    for segment in segments:
        bare = segment.replace("-", "").replace("_", "").replace(".", "")
        if not bare.isalnum() or not (bare.islower() or bare.istitle() or bare.isdigit()):
            return False
    return True


# Envelopes of encrypted values (SOPS, EJSON, Vault transit, Jasypt, Spring Cloud Config, AWS KMS blobs,
# Ansible Vault): ciphertext stored in config, not the secret itself.
_ENCRYPTED_HEADS = ("ENC[", "EJ[", "vault:v", "ENC(", "{cipher}", "AQICAH", "$ANSIBLE_VAULT")
# Public client keys, meant to be shipped to browsers (Stripe/Clerk `pk_live_`, Mapbox `pk.eyJ`, PostHog
# `phc_`, Square application ids, Statsig client keys).
PUBLIC_KEY_HEADS = ("pk_live_", "pk_test_", "pk.eyJ", "phc_", "sq0idp-", "client-")
# Pagination cursors are named like tokens but hold an offset (`nextPageToken`, `continuationToken`).
_CURSOR_NAMES = ("pagetoken", "page_token", "continuationtoken", "continuation_token", "cursor", "next_token")


def _after_cursor_name(text: str, start: int) -> bool:
    return any(name in text[max(0, start - 24) : start].lower() for name in _CURSOR_NAMES)


def generic(min_len: int, min_entropy: float) -> Validator:
    """A value next to a secret-like name: long enough, random enough, and not code, a reference, a
    ciphertext envelope, a public client key or a pagination cursor."""

    def check(text: str, start: int, end: int) -> Span | None:
        value = text[start:end]
        after = text[end : end + 1]
        if len(value) < min_len or after in ("(", "[", "."):
            return None  # a call or an index, not a literal
        if after == "<" and text[end + 1 : end + 2] != "/":
            return None  # the value goes on into a `<placeholder>`
        if value.startswith(_ENCRYPTED_HEADS + PUBLIC_KEY_HEADS) or _after_cursor_name(text, start):
            return None
        lowered = value.lower()
        if lowered in _LITERALS or lowered.startswith(_REFERENCE_HEADS) or value.isdigit():
            return None
        if looks_like_words(value) or is_placeholder(value) or looks_like_path(value) or "://" in value:
            return None  # names, placeholders, paths (`PWD=/srv/app`) and URLs are not the secret itself
        if char_classes(value) < 2 or shannon_entropy(value) < min_entropy:
            return None
        return None if points_at_secret(text, start, value) else (start, end)

    return check


# Prefixes of ids and digests that share the token shape but are not credentials (`chatcmpl-...`,
# `sha512-...` integrity strings whose base64 happens to hold no `+` or `/`).
_ID_PREFIXES = frozenset(
    {
        "sha1",
        "sha224",
        "sha256",
        "sha384",
        "sha512",
        "md5",
        "blake2b",
        "chatcmpl",
        "cmpl",
        "msg",
        "toolu",
        "call",
        "resp",
        "req",
        "evt",
        "run",
        "thread",
        "asst",
        "file",
        "batch",
        "org",
        "proj",
        "step",
        "trace",
        "user",
        "usr",
        "cus",
        "acct",
        "sub",
        "price",
        "prod",
        "team",
        "ws",
    }
    # Publishable keys are public by design (Stripe and Clerk `pk_`, PostHog `phc_`).
    | {"pk", "phc", "pub", "public"}
)


def _class_switch_rate(value: str) -> float:
    """How often consecutive characters change class (upper, lower, digit, other): about 0.6 for random
    base62, about 0.35 for camelCase words."""

    def klass(c: str) -> int:
        return 0 if c.isupper() else 1 if c.islower() else 2 if c.isdigit() else 3

    classes = [klass(c) for c in value]
    return sum(a != b for a, b in itertools.pairwise(classes)) / max(len(value) - 1, 1)


def _wordy(value: str) -> bool:
    """Separators between words (`products-shoes-red-size-42`), or camelCase words: random text has
    few `-_.` and rarely two lower-case letters in a row (about one pair in six for base62)."""
    if sum(c in "-_." for c in value) * 8 > len(value):
        return True
    pairs = sum(a.islower() and b.islower() for a, b in itertools.pairwise(value))
    return pairs > 0.45 * max(len(value) - 1, 1)


_DIGEST_CONTEXT = ("sha", "md5", "hash", "digest", "integrity", "checksum")


def _after_digest_name(text: str, start: int) -> bool:
    """`sha256=<value>`, `"integrity": "<value>"`: the value is a digest."""
    before = text[max(0, start - 14) : start].lower()
    return any(word in before for word in _DIGEST_CONTEXT)


def prefixed_token(text: str, start: int, end: int) -> Span | None:
    """`<prefix>_<random part>` of an unknown vendor (`gsk_...`, `tskey-auth-...`): short alphabetic
    parts after the first are prefix too; the random part has upper case, lower case and digits and
    reads as random (entropy, class switches, no words); the whole is not glued to more token or
    base64 characters, and no part names a digest or an API object id (`sha512-`, `chatcmpl-`)."""
    if not bounded(text, start, end) or text[end : end + 1] == "=" or _after_digest_name(text, start):
        return None  # a base64 blob or a digest, not a token
    value = text[start:end]
    parts = value.replace("-", "_").split("_")
    if any(part.lower() in _ID_PREFIXES for part in parts) or is_placeholder(value):
        return None
    if value.startswith(PUBLIC_KEY_HEADS):
        return None
    skip = 1
    while skip < min(3, len(parts) - 1) and parts[skip].isalpha() and len(parts[skip]) <= 8:
        skip += 1
    tail = "_".join(parts[skip:])
    if max(map(len, parts[skip:])) < 12 or sum(map(str.isdigit, tail)) < 2 or _wordy(tail):
        return None
    if not (any(c.isupper() for c in tail) and any(c.islower() for c in tail)):
        return None
    if shannon_entropy(tail) < 4.0 or _class_switch_rate(tail) < 0.4:
        return None
    return start, end


# Prefix words of hex values that are digests or ids, not credentials (`commit_<sha>`, `cache_<hash>`).
_DIGEST_WORDS = _ID_PREFIXES | frozenset(
    {
        "sha",
        "hash",
        "commit",
        "digest",
        "checksum",
        "etag",
        "build",
        "cache",
        "span",
        "request",
        "id",
        "uuid",
        "tmp",
        "temp",
        "test",
        "blob",
        "tree",
        "obj",
        "object",
        "rev",
        "ref",
        "node",
        "sum",
        "crc",
        "fingerprint",
        "fp",
        "nonce",
        "salt",
        "iv",
        "git",
        "head",
        "parent",
        "block",
        "tx",
        "addr",
        "hex",
        "img",
        "image",
        "layer",
        "model",
        "ckpt",
        "version",
    }
)


def hex_token(text: str, start: int, end: int) -> Span | None:
    """`<prefix>_<hex>`: not glued to more token characters, no prefix part names a digest or id, and
    the hex mixes letters and digits the way random hex does."""
    if not bounded(text, start, end) or text[end : end + 1] in (".", "=") or _after_digest_name(text, start):
        return None
    value = text[start:end]
    *prefix, tail = value.split("_")
    if any(part in _DIGEST_WORDS for part in prefix) or is_placeholder(value, tail):
        return None
    letters = sum(c.isalpha() for c in tail)
    return (start, end) if 0.15 * len(tail) <= letters <= 0.7 * len(tail) else None


def query_secret(text: str, start: int, end: int) -> Span | None:
    """A query-string value after a secret-like parameter name: `generic`, and not words."""
    return None if _wordy(text[start:end]) else _QUERY_GENERIC(text, start, end)


def basic_credential(text: str, start: int, end: int) -> Span | None:
    """base64 of `user:password` (docker config.json `auth`, npm `_auth`)."""
    value = text[start:end]
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    user, sep, secret = decoded.partition(":")
    if not sep or not user or len(secret) < 4 or not decoded.isprintable() or is_placeholder(secret):
        return None
    return start, end


def b64_private_key(text: str, start: int, end: int) -> Span | None:
    """A PEM private key, base64-encoded again (Kubernetes `tls.key`, kubeconfig `client-key-data`)."""
    head = text[start : start + 80]
    try:
        decoded = base64.b64decode(head[: len(head) // 4 * 4], validate=True)
    except (binascii.Error, ValueError):
        return None
    return (start, end) if b"PRIVATE KEY" in decoded else None


def unescaped(check: Validator) -> Validator:
    """`check` on the value without a trailing JSON escape (`\\"password\\": \\"s3cr3t\\"`)."""

    def trimmed(text: str, start: int, end: int) -> Span | None:
        if end - start > 1 and text[end - 1] == "\\":
            end -= 1
        return check(text, start, end)

    return trimmed


_QUERY_GENERIC = generic(16, 3.0)

"""Token shapes that the mixed-case prefixed-token rule (`_token_rules`) leaves out, judged by class so an
unseen vendor's token is still found:

- a short prefix and a single-case random tail (`esecret_<base36>`, `API-<BASE36>`): the tail mixes
  letters and digits the way random text does, and is no time-ordered id (ULID);
- a prefix that names a credential (`sdk-`, `pat-`, `...at-` token abbreviations) before a UUID;
- `sk-`/`sk_` secret keys of any vendor, segments between the prefix and the random part
  (`sk-or-v1-<hex>`, `sk_sbox_<base32>`);
- compact JOSE objects beyond the three-part JWT with a JSON payload (JWE with five parts and an empty
  key part, tokens whose payload is opaque), PASETO tokens, and macaroons.

RE2 syntax, bounded repeats; group 1 is the secret."""

from __future__ import annotations

from railguard.detect.secrets._checks import bounded, is_placeholder, shannon_entropy
from railguard.detect.secrets._scanner import Rule, Validator
from railguard.detect.secrets._validators import _ID_PREFIXES, PUBLIC_KEY_HEADS, Span, jwt

_URLSAFE = "A-Za-z0-9_\\-"
_UUID = r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"
# Below generic_secret, as the other shape-only rules: a name that also announces the value wins.
_SHAPE_ONLY = 49
_JWT = 80
# Prefix words of ids that carry the same shapes (`order_<base36>`, `job-<uuid>`).
_ID_WORDS = _ID_PREFIXES | frozenset(
    {"id", "ord", "order", "job", "task", "build", "event", "request", "span", "tenant", "project", "prj"}
    | {"account", "inv", "invoice", "tx", "txn", "node", "pod", "vm", "disk", "vol", "snap", "tmp"}
)
# Parts that say the value is a credential: secret/api/sdk keys, tokens, personal/access tokens
# abbreviated (`pat`, `xaat`, `xapt`, `glpat` all end in `at`/`pt`).
_CREDENTIAL_WORDS = frozenset(
    {"sk", "rk", "api", "sdk", "key", "pat", "tok", "token", "secret", "sec", "auth", "access", "cred"}
)
_CROCKFORD = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def _parts(value: str) -> list[str]:
    return value.replace("-", "_").replace(".", "_").split("_")


def _names_an_id(parts: list[str]) -> bool:
    return any(part.lower() in _ID_WORDS for part in parts)


def _mixes_like_random(tail: str, min_entropy: float) -> bool:
    """Letters and digits interleaved the way random text has them: enough of each, no long letter
    run (a word), and a spread of characters."""
    digits = sum(c.isdigit() for c in tail)
    if not 0.12 * len(tail) <= digits <= 0.75 * len(tail):
        return False
    run = longest = 0
    for char in tail:
        run = run + 1 if char.isalpha() else 0
        longest = max(longest, run)
    return longest <= max(12, 0.4 * len(tail)) and shannon_entropy(tail) >= min_entropy


def _prefix_start(text: str, sep: int, lowercase_only: bool = False) -> int | None:
    """Where the 1-3 prefix words before the separator at `sep` begin (`sk_test_`, `pat-na1-`), each
    2-10 characters of one case, a letter first; None when there is none. The patterns match from
    the separator on, which RE2 finds far faster than a leading repeat of short words."""
    start = None
    for _ in range(3):
        left = sep
        while left > 0 and text[left - 1].isascii() and text[left - 1].isalnum():
            left -= 1
        word = text[left:sep]
        one_case = word.islower() if lowercase_only else (word.islower() or word.isupper())
        if not (2 <= len(word) <= 10 and word[0].isalpha() and one_case):
            break
        start = left
        if left == 0 or text[left - 1] not in "_-":
            break
        sep = left - 1
    return start


def _is_ulid(tail: str) -> bool:
    """A ULID (26 Crockford characters, a timestamp first) is a time-ordered id, not a credential."""
    return len(tail) == 26 and tail[0] in "01234567" and set(tail) <= _CROCKFORD


def single_case_token(text: str, start: int, end: int) -> Span | None:
    """`<prefix>_<tail>` whose tail is one case of letters plus digits (`esecret_<base36>`,
    `pk_<digits>_<BASE36>`): not glued, no id word, the tail random-looking and not a ULID or hex;
    publishable `pk_live_`/`pk_test_` keys stay public. The match starts at the tail."""
    head = _prefix_start(text, start - 1)
    if head is None or not bounded(text, head, end) or text[end : end + 1] in ("=", "."):
        return None
    value = text[head:end]
    parts = _parts(value)
    # `pk_` alone is publishable only as Stripe/Clerk `pk_live_`/`pk_test_` (ClickUp's `pk_<id>_` is personal).
    if _names_an_id([p for p in parts if p.lower() != "pk"]) or is_placeholder(value):
        return None
    if value.startswith(PUBLIC_KEY_HEADS):
        return None
    tail = parts[-1]
    if len(tail) > 120 or _is_ulid(tail) or all(c in "0123456789abcdef" for c in tail):
        return None  # hex behind `-` is a digest or cache key as often as a token (see hex_token)
    return (head, end) if _mixes_like_random(tail, 3.7) else None


def credential_uuid(text: str, start: int, end: int) -> Span | None:
    """`<prefix>-<uuid>` where a prefix word names a credential (`sdk-`, `pat-na1-`, `sk_test_`, `xaat-`).
    The match starts at the UUID."""
    head = _prefix_start(text, start - 1, lowercase_only=True)
    if head is None or not bounded(text, head, end):
        return None
    words = [p for p in _parts(text[head : start - 1]) if p]
    if _names_an_id(words) or is_placeholder(text[head:end], text[start:end]):
        return None
    if any(w in _CREDENTIAL_WORDS or (len(w) >= 3 and w.endswith(("at", "pt"))) for w in words):
        return head, end
    return None


def secret_key(text: str, start: int, end: int) -> Span | None:
    """`sk-`/`sk_` and up to three short segments, then a random part of any alphabet."""
    if not bounded(text, start, end):
        return None
    value = text[start:end]
    tail = _parts(value)[-1]
    if is_placeholder(value, tail) or len(set(tail)) < 10:
        return None
    return (start, end) if shannon_entropy(tail) >= 3.4 else None


def _rule(pattern: str, validate: Validator, hint: str, kind: str = "api_token") -> Rule:
    # Overlaps are ranked by kind (`SECRET_PRIORITY` keeps one priority per kind): the kind's own.
    priority = _JWT if kind == "jwt" else _SHAPE_ONLY
    return Rule(kind, "(" + pattern + ")", validate, 0.85, priority, hint=hint)


def _unglued(text: str, start: int, end: int) -> Span | None:
    return (start, end) if bounded(text, start, end) else None


SHAPE_RULES: tuple[Rule, ...] = (
    Rule(
        "api_token",
        # Open-ended tails keep RE2's DFA small; the validator caps the length.
        r"[A-Za-z0-9][_\-]((?:\d{1,12}[_\-])?(?:[a-z0-9]{20,}|[A-Z0-9]{20,}))",
        single_case_token,
        0.85,
        _SHAPE_ONLY,
        hint=r"[A-Za-z0-9][_\-][a-z0-9]{20}|[A-Za-z0-9][_\-][A-Z0-9]{20}",
    ),
    Rule(
        "api_token",
        r"[a-z0-9][_\-](" + _UUID + r")",
        credential_uuid,
        0.85,
        _SHAPE_ONLY,
        hint=r"[a-z0-9][_\-][a-f0-9]{8}-[a-f0-9]{4}-",
    ),
    _rule(
        r"sk[_\-](?:[a-z0-9]{1,8}[_\-]){0,3}[A-Za-z0-9]{24,120}",
        secret_key,
        r"(?:^|[^A-Za-z0-9_])sk[_\-][a-z0-9_\-]{0,27}[A-Za-z0-9]{24}",
    ),
    # Compact JOSE: JWS with a JSON or opaque payload, JWE (five parts, the key part empty for `dir`).
    _rule(
        r"eyJ[" + _URLSAFE + r"]{10,}(?:\.[" + _URLSAFE + r"]*){2,4}",
        jwt,
        r"eyJ[" + _URLSAFE + r"]{10}",
        kind="jwt",
    ),
    # PASETO: version, purpose, base64url payload, optional footer.
    _rule(
        r"v[1-4]\.(?:local|public)\.[" + _URLSAFE + r"]{40,}(?:\.[" + _URLSAFE + r"]+)?",
        _unglued,
        r"v[1-4]\.(?:local|public)\.[" + _URLSAFE + r"]{8}",
    ),
    # Macaroons: LND's binary v2 (hex or base64; `lnd` location) and v1 base64 (a `location` packet first).
    _rule(
        r"0201036c6e64[0-9a-f]{60,}|AgEDbG5k[" + _URLSAFE + r"+/]{60,}={0,2}"
        r"|MDAx[A-Za-z0-9+/_\-]{4}Y2F0aW9u[" + _URLSAFE + r"+/]{40,}={0,2}",
        _unglued,
        r"0201036c6e64|AgEDbG5k|MDAx[A-Za-z0-9+/_\-]{4}Y2F0aW9u",
    ),
)

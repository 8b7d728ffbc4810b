"""Secret formats: vendor tokens with fixed prefixes, key blocks, credentials in URLs, and generic
assignments of high-entropy values to secret-like names. Patterns are RE2 syntax with bounded
repeats; group 1, when present, is the secret part."""

from __future__ import annotations

import base64
import binascii
import json

from railguard.detect.secrets._checks import (
    bounded,
    char_classes,
    is_placeholder,
    is_token_char,
    shannon_entropy,
)
from railguard.detect.secrets._scanner import Rule, Validator


def _vendor(prefix_len: int) -> Validator:
    """A fixed-prefix token: not glued to a longer word on the left (checked here rather than with a
    leading `\b`, which would stop RE2 from skipping ahead to the literal prefix), and not a
    placeholder (judged on the part after the prefix)."""

    def check(text: str, start: int, end: int) -> tuple[int, int] | None:
        value = text[start:end]
        if start > 0 and is_token_char(text[start - 1]):
            return None
        if is_placeholder(value, value[prefix_len:]):
            return None
        return start, end

    return check


def _vendor_bounded(prefix_len: int) -> Validator:
    plain = _vendor(prefix_len)

    def check(text: str, start: int, end: int) -> tuple[int, int] | None:
        return plain(text, start, end) if bounded(text, start, end) else None

    return check


def _jwt(text: str, start: int, end: int) -> tuple[int, int] | None:
    if start > 0 and is_token_char(text[start - 1]):
        return None
    header = text[start:end].split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return (start, end) if isinstance(decoded, dict) and "alg" in decoded else None


def _private_key(text: str, start: int, end: int) -> tuple[int, int] | None:
    body = text[start:end].split("-----")
    payload = body[2] if len(body) > 2 else ""
    b64_chars = sum(c.isalnum() or c in "+/=" for c in payload)
    return (start, end) if b64_chars >= 32 and not is_placeholder(payload.replace("\\n", "")) else None


def _password(text: str, start: int, end: int) -> tuple[int, int] | None:
    value = text[start:end]
    if is_placeholder(value) or value.lower() in _COMMON_NON_SECRETS:
        return None
    return start, end


_COMMON_NON_SECRETS = frozenset({"pass", "secret", "user", "root", "admin", "guest", "test", "x"})

_REFERENCE_HEADS = ("os.", "env.", "process.", "settings.", "config.", "self.", "args.", "this.", "cfg.")
_LITERALS = frozenset({"true", "false", "null", "none", "undefined", "nil", "bearer", "basic", "string"})


def _looks_like_words(value: str) -> bool:
    """`my-app-secret`, `refresh_token`: names, not secrets."""
    parts = value.replace("-", "_").replace(".", "_").split("_")
    return all(p.isalpha() and p.islower() for p in parts if p) or all(
        p.isalpha() and p.isupper() for p in parts if p
    )


def _generic(min_len: int, min_entropy: float) -> Validator:
    def check(text: str, start: int, end: int) -> tuple[int, int] | None:
        value = text[start:end]
        after = text[end : end + 1]
        if len(value) < min_len or after in ("(", "[", "."):
            return None  # a call or an index, not a literal
        lowered = value.lower()
        if lowered in _LITERALS or lowered.startswith(_REFERENCE_HEADS) or value.isdigit():
            return None
        if _looks_like_words(value) or is_placeholder(value):
            return None
        if char_classes(value) < 2 or shannon_entropy(value) < min_entropy:
            return None
        return start, end

    return check


# Names that announce a secret value. `auth` alone is too common (auth: oauth2) to be listed.
_SECRET_NAME = (
    r"(?:secret|token|passw(?:or)?d|pwd|api[_.\-]?key|apikey|access[_.\-]?key|auth[_.\-]?key|"
    r"credential|private[_.\-]?key|signing[_.\-]?key|encryption[_.\-]?key|session[_.\-]?key)"
)
_VALUE = r"([^\s\"'`,;()\[\]{}<>]{6,})"

SECRET_RULES: tuple[Rule, ...] = (
    Rule(
        "aws_access_key",
        r"((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})\b",
        _vendor(4),
        0.95,
        90,
    ),
    Rule(
        "aws_secret_key",
        r"(?i)aws.{0,20}?(?:secret|sk).{0,20}?[\"'\s:=]+([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|$)",
        _generic(40, 3.5),
        0.9,
        85,
    ),
    Rule("github_token", r"((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36})\b", _vendor(4), 0.99, 90),
    Rule("github_token", r"(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b", _vendor(11), 0.99, 90),
    Rule(
        "gitlab_token",
        r"((?:glpat|gldt|glrt|glptt|glsoat)-[A-Za-z0-9_\-]{20,40})",
        _vendor_bounded(6),
        0.99,
        90,
    ),
    Rule("slack_token", r"(xox[abposr]-[0-9A-Za-z\-]{10,})", _vendor_bounded(5), 0.95, 90),
    Rule("slack_token", r"(xapp-\d-[A-Z0-9]+-\d+-[a-f0-9]{32,80})", _vendor_bounded(5), 0.95, 90),
    Rule(
        "slack_webhook",
        r"(https://hooks\.slack\.com/(?:services|workflows)/T[A-Z0-9]{6,12}/[A-Z0-9]{6,12}/[A-Za-z0-9]{16,40})",
        _vendor(40),
        0.99,
        95,
    ),
    Rule("stripe_key", r"((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,})\b", _vendor(8), 0.99, 90),
    Rule(
        "anthropic_key",
        r"(sk-ant-(?:api|admin|oat)\d{2}-[A-Za-z0-9_\-]{32,})",
        _vendor_bounded(14),
        0.99,
        95,
    ),
    Rule(
        "openai_key",
        r"(sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{32,})",
        _vendor_bounded(8),
        0.99,
        90,
    ),
    Rule("openai_key", r"(sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})\b", _vendor(3), 0.99, 90),
    Rule("openai_key", r"(sk-[A-Za-z0-9]{48})\b", _vendor(3), 0.9, 90),
    Rule("google_api_key", r"(AIza[0-9A-Za-z_\-]{35})", _vendor_bounded(4), 0.95, 90),
    Rule(
        "gcp_service_account",
        r"\"private_key_id\"\s*:\s*\"([a-f0-9]{40})\"",
        _vendor(0),
        0.95,
        90,
    ),
    Rule("azure_key", r"(?i)AccountKey=([A-Za-z0-9+/]{86}==)", _vendor(0), 0.95, 90),
    Rule("azure_key", r"([A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})", _vendor_bounded(0), 0.9, 90),
    Rule("twilio_key", r"(SK[0-9a-f]{32})\b", _vendor(2), 0.9, 90),
    Rule("sendgrid_key", r"(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})", _vendor_bounded(3), 0.99, 90),
    Rule("npm_token", r"(npm_[A-Za-z0-9]{36})\b", _vendor(4), 0.99, 90),
    Rule(
        "pypi_token",
        r"(pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_\-]{50,})",
        _vendor_bounded(20),
        0.99,
        90,
    ),
    Rule("huggingface_token", r"(hf_[A-Za-z0-9]{34,40})\b", _vendor(3), 0.95, 90),
    Rule(
        "jwt",
        r"(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,})",
        _jwt,
        0.95,
        80,
    ),
    Rule(
        "private_key",
        r"(-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END[A-Z0-9 ]{0,40} "
        r"PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\]*))",
        _private_key,
        0.99,
        100,
    ),
    Rule(
        "connection_string",
        r"(?i)(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|"
        r"oracle|clickhouse|cockroachdb|couchbase|neo4j|nats)(?:\+[a-z0-9]+)?://[^\s:@/'\"]*:"
        r"([^\s@/'\"]{1,})@",
        _password,
        0.95,
        85,
    ),
    Rule(
        "connection_string",
        r"(?i)jdbc:[a-z0-9:]{2,40}[^\s'\"]*?[;?&](?:password|pwd)=([^;&\s'\"]{1,})",
        _password,
        0.95,
        85,
    ),
    Rule("connection_string", r"(?i)jdbc:oracle:thin:[^/\s:@'\"]{1,}/([^@\s'\"]{1,})@", _password, 0.95, 85),
    Rule(
        "connection_string",
        r"(?i)(?:server|data source|host)=[^;'\"\n]{1,};[^'\"\n]*?(?:password|pwd)=([^;'\"\n]{1,})",
        _password,
        0.9,
        85,
    ),
    Rule(
        "basic_auth_url",
        r"(?i)(?:https?|ftps?|sftp|ssh|git|smtp|ldaps?)://[^\s:@/'\"]{1,}:([^\s@/'\"]{1,})@[^\s'\"]",
        _password,
        0.9,
        85,
    ),
    Rule(
        "generic_secret",
        r"(?i)(?:authorization|proxy-authorization)[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token|bot)\s+"
        r"([A-Za-z0-9_\-.~+/]{8,}=*)",
        _generic(8, 2.5),
        0.85,
        60,
    ),
    Rule("generic_secret", r"\bBearer\s+([A-Za-z0-9_\-.~+/]{16,}=*)", _generic(16, 3.0), 0.8, 60),
    Rule(
        "generic_secret",
        r"(?i)" + _SECRET_NAME + r"[A-Za-z0-9_.\-]*[\"']?\s*(?::=|=>|[:=])\s*"
        r"(?:[rbuf]?[\"'`])?" + _VALUE,
        _generic(8, 3.0),
        0.7,
        50,
    ),
    Rule("generic_secret", r"(?i)--?" + _SECRET_NAME + r"[=\s]+[\"']?" + _VALUE, _generic(8, 3.0), 0.7, 50),
)
